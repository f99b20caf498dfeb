package io.replicore.coordinator.replay;

import static io.replicore.coordinator.intercept.Syscalls.*;

/**
 * How many arguments of each notified call take part in its signature. Only real arguments count: the kernel
 * passes whatever the unused registers held, which need not match between replicas.
 */
final class CallArity
{
    private static final int[] ARITY = new int[512];

    static
    {
        set(0, FORK, VFORK);
        set(1, UNAME, SYSINFO, TIME, UNLINK, RMDIR, CLOSE);
        set(2, FSTAT, CLOCK_GETTIME, GETTIMEOFDAY, MKDIR, CHMOD, RENAME, LINK, SYMLINK, FCHMOD, TRUNCATE, FTRUNCATE,
            CLONE3);
        set(3, READ, WRITE, READV, WRITEV, OPEN, IOCTL, CONNECT, GETRANDOM, GETCPU, SCHED_GETAFFINITY, CHOWN, FCHOWN,
            UNLINKAT, MKDIRAT, FCHMODAT, EXECVE);
        set(4, PREAD64, PWRITE64, OPENAT, NEWFSTATAT, RSEQ, RENAMEAT, FALLOCATE);
        set(5, STATX, FCHOWNAT, RENAMEAT2, CLONE);
        set(2, LISTEN, SHUTDOWN, KILL, TKILL, SETREUID, SETREGID, SETGROUPS);
        set(1, SETUID, SETGID);
        set(3, SETRESUID, SETRESGID);
        set(3, TGKILL, CLOSE_RANGE);
        set(4, WAIT4);
        set(5, WAITID);
        set(3, ACCEPT, BIND, GETSOCKNAME, GETPEERNAME, SENDMSG, RECVMSG);
        set(4, ACCEPT4, EPOLL_WAIT, EPOLL_PWAIT, SENDFILE);
        set(5, SETSOCKOPT, GETSOCKOPT);
        // the signal mask (ppoll, pselect6) is left out as for epoll_pwait: signals are not replicated
        set(3, POLL, PPOLL);
        set(5, SELECT, PSELECT6);
        set(6, RECVFROM, SENDTO);
    }

    private CallArity()
    {
    }

    private static void set(final int arity, final int... nrs)
    {
        for (final int nr : nrs)
        {
            ARITY[nr] = arity;
        }
    }

    static int of(final int nr)
    {
        return nr >= 0 && nr < ARITY.length ? ARITY[nr] : 0;
    }
}
