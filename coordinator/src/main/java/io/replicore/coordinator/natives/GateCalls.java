package io.replicore.coordinator.natives;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * What the acknowledgement gate of a kernel partition calls: the bpf system call on the gate's maps, the mapping
 * of its ring buffer, a raw IPv4 socket that sends a held SYN-ACK once its handshake is logged, and an epoll set of
 * the primary's own over the gated connections, which tells whose input to announce.
 */
public interface GateCalls
{
    long SYS_BPF = 321;
    int BPF_MAP_LOOKUP_ELEM = 1;
    int BPF_MAP_UPDATE_ELEM = 2;
    int BPF_MAP_DELETE_ELEM = 3;
    /** Length of the bpf_attr prefix the map commands use: map_fd, pad, key, value, flags. */
    int BPF_MAP_ATTR_LENGTH = 32;
    int BPF_ATTR_MAP_FD_OFFSET = 0;
    int BPF_ATTR_KEY_OFFSET = 8;
    int BPF_ATTR_VALUE_OFFSET = 16;
    int BPF_ATTR_FLAGS_OFFSET = 24;
    long BPF_ANY = 0;

    int AF_INET = 2;
    int SOCK_RAW = 3;
    int SOCK_CLOEXEC = 0x80000;
    /** With IPPROTO_RAW the packet carries its own IP header (IP_HDRINCL). */
    int IPPROTO_RAW = 255;

    int EPOLL_CLOEXEC = 0x80000;
    int EPOLL_CTL_ADD = 1;
    int EPOLL_CTL_DEL = 2;
    int EPOLLIN = 1;
    /** struct epoll_event is packed on x86-64: events (4) then data (8). */
    int EPOLL_EVENT_LENGTH = 12;
    int EPOLL_EVENT_DATA_OFFSET = 4;

    int PROT_READ = 1;
    int PROT_WRITE = 2;
    int MAP_SHARED = 1;
    int POLLIN = 1;

    /**
     * syscall(SYS_bpf, command, attr, size): glibc has no wrapper for bpf.
     */
    @SaveError
    long syscall(long number, long command, Pointer attr, long size);

    @SaveError
    Pointer mmap(Pointer address, @size_t long length, int prot, int flags, int fd, @off_t long offset);

    @SaveError
    int munmap(Pointer address, @size_t long length);

    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    @ssize_t
    long sendto(int fd, Pointer buffer, @size_t long length, int flags, Pointer address, int addressLength);

    @SaveError
    int poll(Pointer fds, long count, int timeoutMs);

    @SaveError
    int epoll_create1(int flags);

    @SaveError
    int epoll_ctl(int epfd, int op, int fd, Pointer event);

    @SaveError
    int epoll_wait(int epfd, Pointer events, int maxEvents, int timeoutMs);

    int close(int fd);
}
