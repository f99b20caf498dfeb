package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.SocketCalls;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.TimeUnit;

/**
 * A backup's side of a RECEIVE record: its own end of the internal socket holds what the primary's received,
 * since its own peer process made the same sends. Take exactly as many bytes (the same messages), with the
 * descriptors that came with them, so that the socket stays in step with the primary's.
 */
final class InternalReceive
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final int SO_TYPE = 3;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final short POLLIN = 0x1;
    private static final int EAGAIN = 11;
    private static final int EINTR = 4;
    /** The peer's sends were answered before this record: their bytes come soon, or never (a divergence). */
    private static final long ARRIVAL_LIMIT_NS = TimeUnit.SECONDS.toNanos(5);
    private static final int POLL_SLICE_MS = 10;
    private static final int CONTROL_MAX = 256;
    // The own struct msghdr, its one iovec, its ancillary data, a pollfd and an int for getsockopt.
    private static final int IOVEC_OFFSET = InterceptedCall.MSGHDR_LENGTH;
    private static final int CONTROL_OFFSET = IOVEC_OFFSET + InterceptedCall.IOVEC_LENGTH;
    private static final int POLLFD_OFFSET = CONTROL_OFFSET + CONTROL_MAX;
    private static final int OPTION_OFFSET = POLLFD_OFFSET + 8;
    private static final int LENGTH = OPTION_OFFSET + 8;

    private final Native.Scratch own = Native.allocate(LENGTH);
    private final int[] descriptors = new int[CONTROL_MAX / 4];
    private final ControlMessages controlMessages = new ControlMessages();
    private int count;

    /**
     * Receive {@code length} bytes from {@code socket} into {@code into} (from its start), as the primary's
     * receive with {@code flags} took them: one message from a datagram socket; from a stream, pieces until there
     * are that many (the kernel stops a stream receive at a message that carries descriptors).
     *
     * @return null, or why the bytes cannot be received (they never came; the socket failed).
     */
    String receive(final int socket, final long length, final int flags, final Native.Scratch into)
    {
        count = 0;
        final boolean stream = isStream(socket);
        final int own = flags & (MSG_PEEK | MSG_CMSG_CLOEXEC);
        final long deadline = System.nanoTime() + ARRIVAL_LIMIT_NS;
        long done = 0;
        do
        {
            final long n = receiveOnce(socket, into.address() + done, (flags & MSG_PEEK) != 0 ? length : length - done,
                own | MSG_DONTWAIT);
            if (n == -EAGAIN || n == -EINTR || (n >= 0 && n < length && (flags & MSG_PEEK) != 0))
            {
                if (System.nanoTime() - deadline > 0)
                {
                    return "only " + Math.max(done, n) + " of the " + length + " bytes came within " +
                        TimeUnit.NANOSECONDS.toSeconds(ARRIVAL_LIMIT_NS) + " s";
                }
                awaitInput(socket);
                continue;
            }
            if (n < 0)
            {
                return "receiving failed: errno " + -n;
            }
            if (n == 0)
            {
                return "the socket ended after " + done + " of the " + length + " bytes";
            }
            done = (flags & MSG_PEEK) != 0 ? n : done + n;
            if (!stream)
            {
                break;
            }
        }
        while (done < length);
        return null;
    }

    /**
     * @return the descriptors the last {@link #receive} brought, in order; this process's own, to be closed.
     */
    int descriptorCount()
    {
        return count;
    }

    int descriptor(final int index)
    {
        return descriptors[index];
    }

    private long receiveOnce(final int socket, final long address, final long length, final int flags)
    {
        final UnsafeBuffer header = own.buffer();
        header.setMemory(0, IOVEC_OFFSET, (byte)0);
        header.putLong(IOVEC_OFFSET, address);
        header.putLong(IOVEC_OFFSET + 8, length);
        header.putLong(InterceptedCall.MSG_IOV_OFFSET, own.address() + IOVEC_OFFSET);
        header.putLong(InterceptedCall.MSG_IOVLEN_OFFSET, 1);
        header.putLong(InterceptedCall.MSG_CONTROL_OFFSET, own.address() + CONTROL_OFFSET);
        header.putLong(InterceptedCall.MSG_CONTROLLEN_OFFSET, CONTROL_MAX);
        final long n = SOCKETS.recvmsg(socket, own.pointer(), flags);
        if (n < 0)
        {
            return -Native.lastErrno();
        }
        collectDescriptors(header.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET));
        return n;
    }

    private void collectDescriptors(final long controlLength)
    {
        final ControlMessages messages = controlMessages.wrap(own.buffer(), CONTROL_OFFSET, controlLength);
        for (int at = messages.first(); at >= 0; at = messages.next(at))
        {
            for (int i = 0; messages.isRights(at) && i < messages.descriptorCount(at); i++)
            {
                final int fd = messages.descriptor(at, i);
                if (count < descriptors.length)
                {
                    descriptors[count++] = fd;
                }
                else
                {
                    HOST.close(fd);
                }
            }
        }
    }

    private boolean isStream(final int socket)
    {
        final UnsafeBuffer header = own.buffer();
        header.putInt(OPTION_OFFSET + 4, 4);
        return SOCKETS.getsockopt(socket, SocketCalls.SOL_SOCKET, SO_TYPE, own.at(OPTION_OFFSET),
            own.at(OPTION_OFFSET + 4)) == 0 && header.getInt(OPTION_OFFSET) == SocketCalls.SOCK_STREAM;
    }

    private void awaitInput(final int socket)
    {
        final UnsafeBuffer header = own.buffer();
        header.putInt(POLLFD_OFFSET, socket);
        header.putShort(POLLFD_OFFSET + 4, POLLIN);
        header.putShort(POLLFD_OFFSET + 6, (short)0);
        SOCKETS.poll(own.at(POLLFD_OFFSET), 1, POLL_SLICE_MS);
    }
}
