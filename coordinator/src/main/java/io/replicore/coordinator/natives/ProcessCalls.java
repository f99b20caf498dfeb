package io.replicore.coordinator.natives;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * Reaching into the application's process: its memory, its descriptors, its CPU placement, signals.
 */
public interface ProcessCalls
{
    long SYS_RT_TGSIGQUEUEINFO = 297;

    @SaveError
    @ssize_t
    long process_vm_readv(int pid, Pointer localIov, long localCount, Pointer remoteIov, long remoteCount, long flags);

    @SaveError
    @ssize_t
    long process_vm_writev(int pid, Pointer localIov, long localCount, Pointer remoteIov, long remoteCount, long flags);

    @SaveError
    int pidfd_open(int pid, int flags);

    @SaveError
    int pidfd_getfd(int pidfd, int targetFd, int flags);

    /**
     * Signal the process a pidfd holds: unlike kill(2) it cannot reach another process that reused the pid.
     */
    @SaveError
    int pidfd_send_signal(int pidfd, int sig, Pointer info, int flags);

    @SaveError
    int kill(int pid, int sig);

    /** Signal one thread of a process (both by their host ids). */
    @SaveError
    int tgkill(int tgid, int tid, int sig);

    /**
     * rt_tgsigqueueinfo(tgid, tid, sig, info), which glibc does not wrap: a signal with a siginfo of the caller's
     * making (a code below 0 other than SI_TKILL, as the kernel allows from another process).
     */
    @SaveError
    long syscall(long number, int tgid, int tid, int sig, Pointer info);

    @SaveError
    int sched_setaffinity(int pid, @size_t long size, Pointer mask);

    @SaveError
    int sched_getaffinity(int pid, @size_t long size, Pointer mask);

    /** sched_setscheduler(2): {@code param} points to a struct sched_param (one int, the priority). */
    @SaveError
    int sched_setscheduler(int pid, int policy, Pointer param);

    @SaveError
    int prlimit(int pid, int resource, Pointer newLimit, Pointer oldLimit);

    int close(int fd);

    String strerror(int errno);
}
