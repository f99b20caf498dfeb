package io.replicore.coordinator.natives;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;

/**
 * io_uring, which glibc does not wrap: its three system calls through syscall(2), and the mappings of its rings.
 */
public interface RingCalls
{
    long SYS_IO_URING_SETUP = 425;
    long SYS_IO_URING_ENTER = 426;
    long SYS_IO_URING_REGISTER = 427;

    /**
     * io_uring_setup(entries, params).
     */
    @SaveError
    long syscall(long number, int entries, Pointer params);

    /**
     * io_uring_register(fd, opcode, arg, nr_args).
     */
    @SaveError
    long syscall(long number, int fd, int opcode, Pointer argument, int count);

    /**
     * io_uring_enter(fd, to_submit, min_complete, flags, sig, sigsz).
     */
    @SaveError
    long syscall(long number, int fd, int toSubmit, int minComplete, int flags, Pointer signals, long signalsSize);

    @SaveError
    long mmap(Pointer address, @size_t long length, int protection, int flags, int fd, long offset);

    @SaveError
    int munmap(Pointer address, @size_t long length);

    @SaveError
    int close(int fd);

    @SaveError
    int fcntl(int fd, int command, int argument);

    @SaveError
    int poll(Pointer fds, long count, int timeoutMs);
}
