package io.replicore.coordinator.natives;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * What reading a live connection's TCP state and rebuilding it in another kernel (TCP_REPAIR) calls.
 */
public interface TcpRepairCalls
{
    int IPPROTO_IP = 0;
    int IPPROTO_TCP = 6;
    int IP_FREEBIND = 15;
    int IP_TRANSPARENT = 19;
    int SOL_SOCKET = 1;
    int SOCK_STREAM = 1;
    int SOCK_CLOEXEC = 0x80000;
    int SO_REUSEADDR = 2;
    int SO_TYPE = 3;
    int SO_SNDBUFFORCE = 32;
    int SO_RCVBUFFORCE = 33;
    int SO_DOMAIN = 39;
    int SO_PROTOCOL = 38;
    int TCP_MAXSEG = 2;
    int TCP_INFO = 11;
    int TCP_REPAIR = 19;
    int TCP_REPAIR_QUEUE = 20;
    int TCP_QUEUE_SEQ = 21;
    int TCP_REPAIR_OPTIONS = 22;
    int TCP_TIMESTAMP = 24;
    int TCP_REPAIR_WINDOW = 29;
    int TCP_REPAIR_ON = 1;
    int TCP_REPAIR_OFF = 0;
    int TCP_REPAIR_OFF_NO_WP = -1;
    int TCP_NO_QUEUE = 0;
    int TCP_RECV_QUEUE = 1;
    int TCP_SEND_QUEUE = 2;
    long SIOCINQ = 0x541B;
    long SIOCOUTQ = 0x5411;
    int MSG_DONTWAIT = 0x40;
    int F_GETFL = 3;
    int F_SETFL = 4;
    int SHUT_WR = 1;

    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    int setsockopt(int fd, int level, int name, Pointer value, int length);

    @SaveError
    int getsockopt(int fd, int level, int name, Pointer value, Pointer length);

    @SaveError
    int getsockname(int fd, Pointer address, Pointer length);

    @SaveError
    int getpeername(int fd, Pointer address, Pointer length);

    @SaveError
    int bind(int fd, Pointer address, int length);

    @SaveError
    int connect(int fd, Pointer address, int length);

    @SaveError
    int listen(int fd, int backlog);

    @SaveError
    int ioctl(int fd, long request, Pointer argument);

    @SaveError
    int fcntl(int fd, int command, int argument);

    @SaveError
    int shutdown(int fd, int how);

    @SaveError
    @ssize_t
    long send(int fd, Pointer buffer, @size_t long length, int flags);

    int close(int fd);
}
