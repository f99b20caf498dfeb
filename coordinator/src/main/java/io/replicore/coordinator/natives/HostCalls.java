package io.replicore.coordinator.natives;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The calls a primary coordinator performs for real on behalf of its application, whose results it then logs.
 */
public interface HostCalls
{
    @SaveError
    int clock_gettime(int clock, Pointer timespec);

    @SaveError
    int clock_getres(int clock, Pointer timespec);

    @SaveError
    int uname(Pointer utsname);

    @SaveError
    int sysinfo(Pointer info);

    @SaveError
    @ssize_t
    long getrandom(Pointer buffer, @size_t long length, int flags);

    @SaveError
    @ssize_t
    long read(int fd, Pointer buffer, @size_t long length);

    @SaveError
    @ssize_t
    long pread(int fd, Pointer buffer, @size_t long length, long offset);

    @SaveError
    @ssize_t
    long write(int fd, Pointer buffer, @size_t long length);

    @SaveError
    @ssize_t
    long pwrite(int fd, Pointer buffer, @size_t long length, long offset);

    @SaveError
    long lseek(int fd, long offset, int whence);

    @SaveError
    int fcntl(int fd, int command, int argument);

    @SaveError
    @ssize_t
    long sendfile(int outFd, int inFd, Pointer offset, @size_t long count);

    @SaveError
    int fstat(int fd, Pointer stat);

    @SaveError
    int ioctl(int fd, long request, Pointer argument);

    @SaveError
    int connect(int fd, Pointer address, int length);

    @SaveError
    int getcpu(Pointer cpu, Pointer node);

    @SaveError
    int gettimeofday(Pointer timeval, Pointer timezone);

    @SaveError
    int openat(int dirfd, String path, int flags, int mode);

    @SaveError
    int statx(int dirfd, String path, int flags, int mask, Pointer statx);

    @SaveError
    int bind(int fd, Pointer address, int length);

    @SaveError
    int listen(int fd, int backlog);

    @SaveError
    int shutdown(int fd, int how);

    @SaveError
    int accept4(int fd, Pointer address, Pointer length, int flags);

    @SaveError
    int getsockname(int fd, Pointer address, Pointer length);

    @SaveError
    int getpeername(int fd, Pointer address, Pointer length);

    @SaveError
    int setsockopt(int fd, int level, int name, Pointer value, int length);

    @SaveError
    int getsockopt(int fd, int level, int name, Pointer value, Pointer length);

    @SaveError
    @ssize_t
    long recvfrom(int fd, Pointer buffer, @size_t long length, int flags, Pointer address, Pointer addressLength);

    @SaveError
    int epoll_wait(int epfd, Pointer events, int maxEvents, int timeoutMs);

    @SaveError
    int poll(Pointer fds, long count, int timeoutMs);

    @SaveError
    int socket(int domain, int type, int protocol);

    int close(int fd);
}
