package io.replicore.coordinator.logicaltcp;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.TcpRepairCalls;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

import static io.replicore.coordinator.natives.TcpRepairCalls.*;

/**
 * Reads a live connection's TCP state on the primary of a kernel partition, and rebuilds the connection in a new
 * primary's kernel with TCP_REPAIR (as CRIU restores one): the same addresses, sequence numbers, options, windows
 * and timestamp clock, the bytes the client may lack queued again, so that the client's TCP sees one peer that
 * paused. Needs CAP_NET_ADMIN. One instance per thread: it owns its scratch memory.
 */
public final class TcpRepair
{
    private static final TcpRepairCalls CALLS = Native.load(TcpRepairCalls.class);
    private static final int TCP_INFO_LENGTH = 232;
    private static final int TCPI_OPTIONS_OFFSET = 5;
    private static final int TCPI_WSCALE_OFFSET = 6;
    private static final int TCPI_OPT_TIMESTAMPS = 1;
    private static final int TCPI_OPT_SACK = 2;
    private static final int TCPI_OPT_WSCALE = 4;
    private static final int TCPOPT_MSS = 2;
    private static final int TCPOPT_WINDOW = 3;
    private static final int TCPOPT_SACK_PERM = 4;
    private static final int TCPOPT_TIMESTAMP = 8;
    private static final int WINDOW_LENGTH = 20;
    private static final int SOCKADDR_LENGTH = 28;
    /** Tries at reading the receive sequence and queue together while bytes keep arriving. */
    private static final int CONSISTENT_TRIES = 16;
    /**
     * The rebuilt timestamp clock runs this far ahead of the logged one plus the time since, so that it never goes
     * back for the client, whose PAWS check would drop every segment until it caught up: the backup may have
     * applied the accept's record long after the primary read the clock (a backup lags under load), and a jump
     * forward costs nothing (PAWS accepts anything less than 2^31 ticks ahead; both ends measure round trips on
     * their own clocks).
     */
    private static final int TIMESTAMP_MARGIN_MS = 3_600_000;
    private static final int SEND_CHUNK = 64 * 1024;

    private final Native.Scratch scratch = Native.allocate(TCP_INFO_LENGTH + 2 * SOCKADDR_LENGTH + 64);
    private final Native.Scratch length = Native.allocate(8);
    private final Native.Scratch chunk = Native.allocate(SEND_CHUNK);
    private final TcpConnectionState view = new TcpConnectionState();

    /**
     * Read the state of {@code connection}, just accepted (the application has read and written nothing), into
     * {@code into} at {@code offset}: {@link TcpConnectionState#LENGTH} bytes.
     *
     * @return null, or why it could not be read.
     */
    public String capture(final int connection, final MutableDirectBuffer into, final int offset)
    {
        final UnsafeBuffer s = scratch.buffer();
        into.setMemory(offset, TcpConnectionState.LENGTH, (byte)0);
        if (get(connection, IPPROTO_TCP, TCP_INFO, TCP_INFO_LENGTH) < 0)
        {
            return "TCP_INFO: errno " + Native.lastErrno();
        }
        final int info = s.getByte(TCPI_OPTIONS_OFFSET);
        final int wscales = s.getByte(TCPI_WSCALE_OFFSET) & 0xFF;
        into.putShort(offset + TcpConnectionState.OPTIONS_OFFSET, (short)(
            ((info & TCPI_OPT_TIMESTAMPS) != 0 ? TcpConnectionState.OPTION_TIMESTAMPS : 0) |
            ((info & TCPI_OPT_SACK) != 0 ? TcpConnectionState.OPTION_SACK : 0) |
            ((info & TCPI_OPT_WSCALE) != 0 ? TcpConnectionState.OPTION_WINDOW_SCALE : 0)));
        into.putByte(offset + TcpConnectionState.SEND_WSCALE_OFFSET, (byte)(wscales & 0xF));
        into.putByte(offset + TcpConnectionState.RECEIVE_WSCALE_OFFSET, (byte)(wscales >>> 4));
        final String addresses = captureAddresses(connection, into, offset);
        if (addresses != null)
        {
            return addresses;
        }
        if (set(connection, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) < 0)
        {
            return "TCP_REPAIR: errno " + Native.lastErrno() + " (kernel partitions need CAP_NET_ADMIN)";
        }
        try
        {
            return captureInRepair(connection, into, offset);
        }
        finally
        {
            set(connection, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
            set(connection, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
        }
    }

    private String captureAddresses(final int connection, final MutableDirectBuffer into, final int offset)
    {
        final UnsafeBuffer s = scratch.buffer();
        for (final boolean local : new boolean[]{true, false})
        {
            length.buffer().putInt(0, SOCKADDR_LENGTH);
            final int rc = local ? CALLS.getsockname(connection, scratch.pointer(), length.pointer()) :
                CALLS.getpeername(connection, scratch.pointer(), length.pointer());
            if (rc < 0)
            {
                return (local ? "getsockname" : "getpeername") + ": errno " + Native.lastErrno();
            }
            final int family = s.getShort(0) & 0xFFFF;
            if (family != TcpConnectionState.AF_INET && family != TcpConnectionState.AF_INET6)
            {
                return "address family " + family + " is not TCP/IP";
            }
            into.putShort(offset + TcpConnectionState.FAMILY_OFFSET, (short)family);
            final int port = ((s.getByte(2) & 0xFF) << 8) | (s.getByte(3) & 0xFF);
            into.putShort(offset + (local ? TcpConnectionState.LOCAL_PORT_OFFSET :
                TcpConnectionState.PEER_PORT_OFFSET), (short)port);
            into.putBytes(offset + (local ? TcpConnectionState.LOCAL_ADDRESS_OFFSET :
                TcpConnectionState.PEER_ADDRESS_OFFSET), s, family == TcpConnectionState.AF_INET6 ? 8 : 4,
                family == TcpConnectionState.AF_INET6 ? 16 : 4);
        }
        return null;
    }

    private String captureInRepair(final int connection, final MutableDirectBuffer into, final int offset)
    {
        final UnsafeBuffer s = scratch.buffer();
        // In repair mode TCP_MAXSEG is the MSS clamp (what the peer announced), which a rebuilt socket needs.
        if (get(connection, IPPROTO_TCP, TCP_MAXSEG, 4) < 0)
        {
            return "TCP_MAXSEG: errno " + Native.lastErrno();
        }
        into.putInt(offset + TcpConnectionState.MSS_OFFSET, s.getInt(0));
        int receiveBase = 0;
        boolean consistent = false;
        for (int i = 0; i < CONSISTENT_TRIES && !consistent; i++)
        {
            // Bytes may arrive while we look: the next sequence and the queue are read until they agree.
            final long before = queueSeq(connection, TCP_RECV_QUEUE);
            final long queued = queued(connection, SIOCINQ);
            final long after = queueSeq(connection, TCP_RECV_QUEUE);
            if (before < 0 || queued < 0 || after < 0)
            {
                return "the receive queue: errno " + Native.lastErrno();
            }
            consistent = before == after;
            receiveBase = (int)(after - queued);
        }
        if (!consistent)
        {
            return "the receive sequence kept moving while it was read";
        }
        final long sendNext = queueSeq(connection, TCP_SEND_QUEUE);
        final long unsent = queued(connection, SIOCOUTQ);
        if (sendNext < 0 || unsent < 0)
        {
            return "the send queue: errno " + Native.lastErrno();
        }
        into.putInt(offset + TcpConnectionState.SEND_BASE_OFFSET, (int)(sendNext - unsent));
        into.putInt(offset + TcpConnectionState.RECEIVE_BASE_OFFSET, receiveBase);
        if (get(connection, IPPROTO_TCP, TCP_REPAIR_WINDOW, WINDOW_LENGTH) < 0)
        {
            return "TCP_REPAIR_WINDOW: errno " + Native.lastErrno();
        }
        into.putInt(offset + TcpConnectionState.PEER_WINDOW_OFFSET, s.getInt(4));
        into.putInt(offset + TcpConnectionState.MAX_PEER_WINDOW_OFFSET, s.getInt(8));
        into.putInt(offset + TcpConnectionState.RECEIVE_WINDOW_OFFSET, s.getInt(12));
        if (get(connection, IPPROTO_TCP, TCP_TIMESTAMP, 4) < 0)
        {
            return "TCP_TIMESTAMP: errno " + Native.lastErrno();
        }
        into.putInt(offset + TcpConnectionState.TIMESTAMP_OFFSET, s.getInt(0));
        return null;
    }

    /**
     * What a rebuilt connection is to be: where each stream stands, and what of the output to send again.
     *
     * @param delivered bytes the log delivered to the application.
     * @param peerFinished the application read the end of the client's stream (its FIN takes a sequence number).
     * @param shutWrite the application shut its side down: a FIN follows the output.
     * @param sinceCaptureMs how long ago the primary read the state (the timestamp clock has run since).
     * @param unread input the application was told of and has not read (the dead kernel acknowledged it): it is
     * put back at the head of the receive queue; null for none.
     */
    public record Position(long delivered, boolean peerFinished, boolean shutWrite, long sinceCaptureMs,
        UnreadInput unread)
    {
        int unreadLength()
        {
            return unread == null ? 0 : unread.length();
        }
    }

    /**
     * Make, in this kernel, the connection whose state is {@code state}, at {@code position}, with the output
     * {@code output} keeps queued again from its oldest byte. It may be made before this kernel holds the
     * connection's local address (IP_TRANSPARENT).
     *
     * @return the socket (blocking, close-on-exec), or -1 with the reason in {@code why[0]}.
     */
    public int rebuild(final TcpConnectionState state, final Position position, final RetainedOutput output,
        final String[] why)
    {
        final int socket = CALLS.socket(state.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (socket < 0)
        {
            why[0] = "socket: errno " + Native.lastErrno();
            return -1;
        }
        final String failure = rebuildInto(socket, state, position, output);
        if (failure != null)
        {
            why[0] = failure;
            CALLS.close(socket);
            return -1;
        }
        return socket;
    }

    private String rebuildInto(final int socket, final TcpConnectionState state, final Position position,
        final RetainedOutput output)
    {
        final long resendFrom = output.firstRetained();
        final int receiveQueued = (int)(state.receiveBase() + position.delivered() + (position.peerFinished() ? 1 : 0));
        final int receiveNext = receiveQueued + position.unreadLength();
        if (set(socket, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) < 0)
        {
            return "TCP_REPAIR: errno " + Native.lastErrno() + " (kernel partitions need CAP_NET_ADMIN)";
        }
        if (set(socket, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) < 0 ||
            set(socket, IPPROTO_TCP, TCP_QUEUE_SEQ, (int)(state.sendBase() + resendFrom)) < 0 ||
            set(socket, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) < 0 ||
            set(socket, IPPROTO_TCP, TCP_QUEUE_SEQ, receiveQueued) < 0)
        {
            return "the queues' sequence numbers: errno " + Native.lastErrno();
        }
        final UnsafeBuffer s = scratch.buffer();
        // Made before this kernel holds the service address, so that no client segment finds it without its
        // socket: a transparent socket may be bound to it and routed from it meanwhile.
        if (set(socket, IPPROTO_IP, IP_TRANSPARENT, 1) < 0)
        {
            return "IP_TRANSPARENT: errno " + Native.lastErrno();
        }
        // The MSS is fixed as connect() sets the socket up: the repair option afterwards would not change it.
        if (set(socket, IPPROTO_TCP, TCP_MAXSEG, state.mss()) < 0)
        {
            return "TCP_MAXSEG " + state.mss() + ": errno " + Native.lastErrno();
        }
        if (CALLS.bind(socket, scratch.pointer(), state.putSockaddr(true, s, 0)) < 0)
        {
            return "bind to " + state.describe() + ": errno " + Native.lastErrno();
        }
        if (CALLS.connect(socket, scratch.pointer(), state.putSockaddr(false, s, 0)) < 0)
        {
            return "connect in repair mode: errno " + Native.lastErrno();
        }
        final String options = restoreOptions(socket, state, position);
        if (options != null)
        {
            return options;
        }
        final String input = queueInput(socket, position.unread());
        if (input != null)
        {
            return input;
        }
        s.putInt(0, receiveNext);                                              // snd_wl1
        s.putInt(4, state.peerWindow());                                       // snd_wnd
        s.putInt(8, Math.max(state.maxPeerWindow(), state.peerWindow()));      // max_window
        s.putInt(12, state.receiveWindow());                                   // rcv_wnd
        s.putInt(16, receiveNext);                                             // rcv_wup
        if (CALLS.setsockopt(socket, IPPROTO_TCP, TCP_REPAIR_WINDOW, scratch.pointer(), WINDOW_LENGTH) < 0)
        {
            return "TCP_REPAIR_WINDOW: errno " + Native.lastErrno();
        }
        final String queued = queueOutput(socket, output, resendFrom);
        if (queued != null)
        {
            return queued;
        }
        // A FIN queued in repair mode counts as sent, as the dead kernel's was: the client's acknowledgement of it
        // is then one this socket accepts (one beyond what it sent would be dropped, with the client's FIN).
        if (position.shutWrite() && (set(socket, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) < 0 ||
            CALLS.shutdown(socket, SHUT_WR) < 0))
        {
            return "shutdown in repair mode: errno " + Native.lastErrno();
        }
        // Leaving repair mode sends a window probe: the client's answer acknowledges what it already has.
        if (set(socket, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE) < 0 ||
            set(socket, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF) < 0)
        {
            return "leaving repair mode: errno " + Native.lastErrno();
        }
        return null;
    }

    private String restoreOptions(final int socket, final TcpConnectionState state, final Position position)
    {
        final UnsafeBuffer s = scratch.buffer();
        int count = 0;
        s.putInt(0, TCPOPT_MSS);
        s.putInt(4, state.mss());
        count++;
        if (state.has(TcpConnectionState.OPTION_WINDOW_SCALE))
        {
            s.putInt(8 * count, TCPOPT_WINDOW);
            s.putInt(8 * count + 4, state.sendWscale() | (state.receiveWscale() << 16));
            count++;
        }
        if (state.has(TcpConnectionState.OPTION_SACK))
        {
            s.putInt(8 * count, TCPOPT_SACK_PERM);
            s.putInt(8 * count + 4, 0);
            count++;
        }
        if (state.has(TcpConnectionState.OPTION_TIMESTAMPS))
        {
            s.putInt(8 * count, TCPOPT_TIMESTAMP);
            s.putInt(8 * count + 4, 0);
            count++;
        }
        if (CALLS.setsockopt(socket, IPPROTO_TCP, TCP_REPAIR_OPTIONS, scratch.pointer(), 8 * count) < 0)
        {
            return "TCP_REPAIR_OPTIONS: errno " + Native.lastErrno();
        }
        if (state.has(TcpConnectionState.OPTION_TIMESTAMPS) && set(socket, IPPROTO_TCP, TCP_TIMESTAMP,
            (int)(state.timestamp() + position.sinceCaptureMs() + TIMESTAMP_MARGIN_MS)) < 0)
        {
            return "TCP_TIMESTAMP: errno " + Native.lastErrno();
        }
        return null;
    }

    /**
     * Queue the kept output in repair mode: the kernel takes it as sent and not yet acknowledged, so it goes out
     * again on the client's acknowledgements and retransmission, never twice to the application's reader.
     */
    private String queueOutput(final int socket, final RetainedOutput output, final long from)
    {
        final long bytes = output.written() - from;
        if (bytes == 0)
        {
            return null;
        }
        if (set(socket, SOL_SOCKET, SO_SNDBUFFORCE, (int)Math.min(Integer.MAX_VALUE / 2, 2 * bytes + 65536)) < 0)
        {
            return "SO_SNDBUFFORCE: errno " + Native.lastErrno();
        }
        if (set(socket, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) < 0)
        {
            return "TCP_REPAIR_QUEUE: errno " + Native.lastErrno();
        }
        final ByteBuffer piece = chunk.buffer().byteBuffer().duplicate();
        long position = from;
        while (position < output.written())
        {
            piece.clear();
            final int n = output.copy(position, piece);
            final long sent = CALLS.send(socket, chunk.pointer(), n, MSG_DONTWAIT);
            if (sent <= 0)
            {
                return "queueing " + (output.written() - position) + " bytes of output again: errno " +
                    Native.lastErrno();
            }
            position += sent;
        }
        return null;
    }

    /**
     * Put the input the application was told of back in the receive queue, in repair mode, where a send lands
     * there as if it had arrived from the client (the window's edges follow).
     */
    private String queueInput(final int socket, final UnreadInput unread)
    {
        if (unread == null || unread.length() == 0)
        {
            return null;
        }
        if (set(socket, SOL_SOCKET, SO_RCVBUFFORCE, 2 * unread.length() + 65536) < 0 ||
            set(socket, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) < 0)
        {
            return "readying the receive queue: errno " + Native.lastErrno();
        }
        int position = 0;
        while (position < unread.length())
        {
            final int n = Math.min(SEND_CHUNK, unread.length() - position);
            chunk.buffer().putBytes(0, unread.buffer(), unread.offset() + position, n);
            final long sent = CALLS.send(socket, chunk.pointer(), n, MSG_DONTWAIT);
            if (sent <= 0)
            {
                return "queueing " + (unread.length() - position) + " bytes of input again: errno " +
                    Native.lastErrno();
            }
            position += (int)sent;
        }
        return null;
    }

    private long queueSeq(final int socket, final int queue)
    {
        if (set(socket, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue) < 0 || get(socket, IPPROTO_TCP, TCP_QUEUE_SEQ, 4) < 0)
        {
            return -1;
        }
        return scratch.buffer().getInt(0) & 0xFFFF_FFFFL;
    }

    private long queued(final int socket, final long request)
    {
        return CALLS.ioctl(socket, request, scratch.pointer()) < 0 ? -1 : scratch.buffer().getInt(0) & 0xFFFF_FFFFL;
    }

    private int set(final int socket, final int level, final int name, final int value)
    {
        final UnsafeBuffer s = scratch.buffer();
        s.putInt(0, value);
        return CALLS.setsockopt(socket, level, name, scratch.pointer(), 4);
    }

    private int get(final int socket, final int level, final int name, final int capacity)
    {
        length.buffer().putInt(0, capacity);
        return CALLS.getsockopt(socket, level, name, scratch.pointer(), length.pointer());
    }
}
