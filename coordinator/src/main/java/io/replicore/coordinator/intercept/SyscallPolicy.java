package io.replicore.coordinator.intercept;

import io.replicore.detscheduler.SchedulingMode;
import java.util.Arrays;

import static io.replicore.coordinator.intercept.Syscalls.*;

/**
 * Which system calls run untouched in every replica and which come to the coordinator. It is an allow-list:
 * a call is allowed only when its result and effects are the same in every replica given the same history (a
 * private copy of the state directory, no address randomisation). Every other call is notified, and the
 * coordinator either replicates it or stops the replica naming it: nothing unknown passes silently.
 * <p>
 * docs/architecture.md lists these sets; keep the two in step.
 */
public final class SyscallPolicy
{
    /** Deterministic given the replica's own memory, files and descriptor table. */
    static final int[] ALLOWED = {
        // memory
        MMAP, MPROTECT, MUNMAP, BRK, MREMAP, MADVISE, MEMBARRIER,
        // signal dispositions, masks and the pending set: signals arrive at the same points in every replica
        RT_SIGACTION, RT_SIGPROCMASK, RT_SIGPENDING, RT_SIGRETURN, SIGALTSTACK,
        // the process's own descriptors and paths; files live in the private state copy or are read-only system files
        STAT, LSTAT, LSEEK, ACCESS, FACCESSAT, FACCESSAT2, READLINK, READLINKAT,
        DUP, DUP2, DUP3, PIPE, PIPE2, FCNTL, FLOCK, FSYNC, FDATASYNC, FADVISE64,
        GETDENTS64, GETCWD, CHDIR, FCHDIR, UMASK, STATFS, FSTATFS,
        // a backup's sockets are never bound or connected: they stand in, at the same numbers, for the primary's;
        // an epoll set holds the same numbers in every replica (waiting on it is replicated)
        SOCKET, EPOLL_CREATE, EPOLL_CREATE1, EPOLL_CTL,
        // a connected pair or an event counter inside the replica, as a pipe is: what passes through it is
        // replicated call by call
        SOCKETPAIR, EVENTFD, EVENTFD2,
        // ids inside the replica's pid namespace, which every replica hands out in the same (log) order
        GETPID, GETTID, GETPPID, SET_TID_ADDRESS,
        // credentials and limits are inherited identically
        GETUID, GETGID, GETEUID, GETEGID, GETGROUPS, GETRLIMIT, PRLIMIT64, GETPGRP,
        // thread-local setup; futexes act on the replica's own memory (parallel mode: see SchedulingMode)
        ARCH_PRCTL, SET_ROBUST_LIST, FUTEX, SCHED_YIELD,
        CLOCK_GETRES,
        // process groups and sessions inside the replica's pid namespace, made in the same order in every replica
        SETPGID, GETPGID, SETSID, GETSID,
        // resumes a sleep that a signal interrupted (a frozen and thawed partition): deterministic as the sleep
        RESTART_SYSCALL,
        EXIT,
    };

    static final int AT_EMPTY_PATH = 0x1000;
    /** O_WRONLY | O_RDWR | O_CREAT | O_TRUNC: an open that may change a file. */
    static final int OPEN_WRITE_INTENT = 0x1 | 0x2 | 0x40 | 0x200;

    /**
     * {call, argument, bits}: allowed unless the argument has one of the bits. A stat with AT_EMPTY_PATH is about
     * a descriptor, which may be a pipe or terminal; an open for writing may change a file outside the replica's
     * private state, which only the primary may do.
     */
    static final int[][] ALLOWED_UNLESS_FLAGS = {
        {NEWFSTATAT, 3, AT_EMPTY_PATH}, {STATX, 2, AT_EMPTY_PATH},
        {OPENAT, 2, OPEN_WRITE_INTENT}, {OPEN, 1, OPEN_WRITE_INTENT},
    };

    private SyscallPolicy()
    {
    }

    /**
     * Allowed in parallel mode, notified in serial mode: where a thread may wait for another (a futex), give way
     * (sched_yield), or end, control may pass to another thread, which serial mode decides. (Sleeps are notified in
     * either mode: a signal, a timer's among them, ends one at a logged point.)
     */
    static final int[] SERIAL_SWITCH_POINTS = {FUTEX, SCHED_YIELD, EXIT};

    /**
     * The seccomp filter the launcher installs: wrong architecture kills, the allow-list runs, the rest notifies.
     */
    public static BpfProgram filter(final SchedulingMode mode)
    {
        final BpfProgram bpf = new BpfProgram();
        bpf.add(BpfProgram.LD_W_ABS, 0, 0, SeccompIoctlOffsets.ARCH);
        bpf.add(BpfProgram.JMP_JEQ_K, 1, 0, BpfProgram.AUDIT_ARCH_X86_64);
        bpf.add(BpfProgram.RET_K, 0, 0, BpfProgram.SECCOMP_RET_KILL_PROCESS);
        bpf.add(BpfProgram.LD_W_ABS, 0, 0, SeccompIoctlOffsets.NR);
        // x32 system calls share the architecture value: none is replicated, all come to the coordinator.
        bpf.add(BpfProgram.JMP_JGE_K, 0, 1, 0x40000000);
        bpf.add(BpfProgram.RET_K, 0, 0, BpfProgram.SECCOMP_RET_USER_NOTIF);
        for (final int nr : ALLOWED)
        {
            if (mode == SchedulingMode.SERIAL && Arrays.stream(SERIAL_SWITCH_POINTS).anyMatch(point -> point == nr))
            {
                continue;
            }
            bpf.add(BpfProgram.JMP_JEQ_K, 0, 1, nr);
            bpf.add(BpfProgram.RET_K, 0, 0, BpfProgram.SECCOMP_RET_ALLOW);
        }
        for (final int[] rule : ALLOWED_UNLESS_FLAGS)
        {
            // if nr matches: load the low word of the flags argument; any of the bits set -> notify, else allow
            bpf.add(BpfProgram.JMP_JEQ_K, 0, 4, rule[0]);
            bpf.add(BpfProgram.LD_W_ABS, 0, 0, SeccompIoctlOffsets.argLow(rule[1]));
            bpf.add(BpfProgram.JMP_JSET_K, 0, 1, rule[2]);
            bpf.add(BpfProgram.RET_K, 0, 0, BpfProgram.SECCOMP_RET_USER_NOTIF);
            bpf.add(BpfProgram.RET_K, 0, 0, BpfProgram.SECCOMP_RET_ALLOW);
        }
        bpf.add(BpfProgram.RET_K, 0, 0, BpfProgram.SECCOMP_RET_USER_NOTIF);
        return bpf;
    }

    /**
     * Offsets in {@code struct seccomp_data} as the filter sees it.
     */
    static final class SeccompIoctlOffsets
    {
        static final int NR = 0;
        static final int ARCH = 4;
        static final int ARGS = 16;

        static int argLow(final int index)
        {
            return ARGS + index * 8;
        }
    }
}
