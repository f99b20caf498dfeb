package io.replicore.coordinator.natives;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The coordinator's side of the launcher's control socket: a listening AF_UNIX socket and SCM_RIGHTS.
 */
public interface SocketCalls
{
    int AF_UNIX = 1;
    int SOCK_STREAM = 1;
    int SOCK_DGRAM = 2;
    int SOCK_CLOEXEC = 0x80000;
    int SOL_SOCKET = 1;
    int SCM_RIGHTS = 1;

    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    int bind(int fd, Pointer address, int length);

    @SaveError
    int listen(int fd, int backlog);

    @SaveError
    int accept4(int fd, Pointer address, Pointer length, int flags);

    @SaveError
    @ssize_t
    long recvmsg(int fd, Pointer message, int flags);

    @SaveError
    @ssize_t
    long send(int fd, Pointer buffer, @size_t long length, int flags);

    @SaveError
    @ssize_t
    long sendmsg(int fd, Pointer message, int flags);

    @SaveError
    int poll(Pointer fds, long count, int timeoutMs);

    int close(int fd);

    /** SO_PEERCRED: the peer process's credentials, its pid as this process sees it. */
    @SaveError
    int getsockopt(int fd, int level, int name, Pointer value, Pointer length);
}
