package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.logicaltcp.TcpConnectionState;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A local connection a new primary of a kernel partition makes to the application's listening socket, one for each
 * connection the old primary's kernel had opened and the application not accepted: a connection rebuilt with
 * TCP_REPAIR is in no listening socket's queue, so nothing would tell the application to accept it. The knock is
 * (its readiness wait returns, its accept gets the knock's twin), and {@link PrimarySockets#accept} hands the
 * application the rebuilt connection in the twin's place. The knock goes to the address and port the client reached,
 * over the loopback device, where the acknowledgement gate does not look; it sends one byte, so that a listening
 * socket with TCP_DEFER_ACCEPT lets it through too.
 */
final class ListeningKnock
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int EINPROGRESS = 115;
    private static final int POLLOUT = 4;
    private static final int CONNECT_TIMEOUT_MS = 1_000;
    private static final int SOCKADDR_LENGTH = 28;

    private final Native.Scratch scratch = Native.allocate(2 * SOCKADDR_LENGTH + 8);

    /**
     * Knock on the listening socket that {@code opened} reached.
     *
     * @return the knock's socket, whose endpoint {@link #localEndpoint} tells, or -1 with the reason in {@code why[0]}.
     */
    int knock(final TcpConnectionState opened, final String[] why)
    {
        final int socket = HOST.socket(opened.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (socket < 0)
        {
            why[0] = "socket: errno " + Native.lastErrno();
            return -1;
        }
        final UnsafeBuffer s = scratch.buffer();
        final int length = opened.putSockaddr(true, s, 0);
        if (HOST.connect(socket, scratch.pointer(), length) < 0 && Native.lastErrno() != EINPROGRESS)
        {
            why[0] = "connect: errno " + Native.lastErrno();
            HOST.close(socket);
            return -1;
        }
        s.putInt(0, socket);
        s.putShort(4, (short)POLLOUT);
        s.putShort(6, (short)0);
        s.putByte(8, (byte)'\n');
        if (HOST.poll(scratch.pointer(), 1, CONNECT_TIMEOUT_MS) != 1 || HOST.write(socket, scratch.at(8), 1) != 1)
        {
            why[0] = "the listening socket did not take a connection within " + CONNECT_TIMEOUT_MS + " ms";
            HOST.close(socket);
            return -1;
        }
        return socket;
    }

    /**
     * @return the local address and port of the knock {@code socket}, by which its twin is told, as
     * {@code address << 16 | port}, or -1.
     */
    long localEndpoint(final int socket)
    {
        return endpoint(HOST.getsockname(socket, scratch.pointer(), lengthOf()));
    }

    /**
     * @return the address and port of {@code connection}'s peer as {@link #localEndpoint} gives them (a knock's
     * twin has the knock's), or -1 if it is not IPv4.
     */
    long peerEndpoint(final int connection)
    {
        return endpoint(HOST.getpeername(connection, scratch.pointer(), lengthOf()));
    }

    private jnr.ffi.Pointer lengthOf()
    {
        scratch.buffer().putInt(SOCKADDR_LENGTH, SOCKADDR_LENGTH);
        return scratch.at(SOCKADDR_LENGTH);
    }

    private long endpoint(final int rc)
    {
        final UnsafeBuffer s = scratch.buffer();
        if (rc < 0 || s.getShort(0) != TcpConnectionState.AF_INET)
        {
            return -1;
        }
        return (s.getInt(4) & 0xFFFF_FFFFL) << 16 | ((s.getByte(2) & 0xFF) << 8) | (s.getByte(3) & 0xFF);
    }
}
