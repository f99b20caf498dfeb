package io.replicore.coordinator.logicaltcp;

import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * One connection behind the {@link AckGate}: its key in the gate's map, as the service's side sees it, and its cap,
 * the sequence number of the first byte of the client's input that is not in the log yet (one more once the
 * application has read the client's FIN, which takes a sequence number). Input gets in the log when the application
 * reads it, or earlier when the application is told it is there (announced with a readiness call's answer). The
 * gate lowers every acknowledgement the kernel sends on the connection to the cap; the primary raises it as input
 * gets logged. The primary keeps a descriptor of its own of the connection, to look at its input. IPv4 only, as the
 * service address is.
 * <pre>
 *   key (12 bytes, struct gate_key of gate.h):
 *     0 Local Address (4) | 4 Peer Address (4) | 8 Local Port (2) | 10 Peer Port (2)     all in network order
 *   value (16 bytes, struct gate_cap):
 *     0 ISS (4): the SYN-ACK's sequence number | 4 Cap (4) | 8 Flags (4): 1 REBUILT | 12 reserved (4)
 * </pre>
 */
public final class GatedConnection
{
    public static final int LOCAL_ADDRESS_OFFSET = 0;
    public static final int PEER_ADDRESS_OFFSET = 4;
    public static final int LOCAL_PORT_OFFSET = 8;
    public static final int PEER_PORT_OFFSET = 10;
    public static final int KEY_LENGTH = 12;
    public static final int ISS_OFFSET = 0;
    public static final int CAP_OFFSET = 4;
    public static final int FLAGS_OFFSET = 8;
    public static final int RESERVED_OFFSET = 12;
    public static final int VALUE_LENGTH = 16;
    /** Rebuilt by a new primary: the gate lowers a client's acknowledgement beyond what the socket sent. */
    public static final int FLAG_REBUILT = 1;

    private final int localAddress;
    private final int peerAddress;
    private final short localPort;
    private final short peerPort;
    private final int iss;
    private final int receiveBase;
    /** Bytes of input in the log: read by the application, or announced to it. */
    private long logged;
    /** Of those, the bytes the application read. */
    private long delivered;
    private boolean finished;
    private int socket = -1;
    private boolean rebuilt;

    private GatedConnection(final TcpConnectionState state, final long delivered, final boolean peerFinished)
    {
        localAddress = state.rawAddress(true);
        peerAddress = state.rawAddress(false);
        localPort = (short)state.localPort();
        peerPort = (short)state.peerPort();
        iss = state.sendBase() - 1;
        receiveBase = state.receiveBase();
        this.delivered = delivered;
        this.logged = delivered;
        this.finished = peerFinished;
    }

    /**
     * @param delivered bytes of the client's input the log has delivered to the application.
     * @param peerFinished the application has read the client's FIN.
     * @return the connection as the gate keeps it, or null if it is not IPv4 (the gate keeps only those).
     */
    public static GatedConnection of(final TcpConnectionState state, final long delivered,
        final boolean peerFinished)
    {
        return state.family() == TcpConnectionState.AF_INET ? new GatedConnection(state, delivered, peerFinished) :
            null;
    }

    /**
     * The application read {@code bytes} of input that are in the log now, or the end of the input if
     * {@code end}: the kernel may acknowledge them.
     */
    public void delivered(final long bytes, final boolean end)
    {
        delivered += bytes;
        logged = Math.max(logged, delivered);
        finished |= end;
    }

    /**
     * {@code bytes} more of input, beyond all logged so far, are in the log now: the application was told of them.
     */
    public void announced(final long bytes)
    {
        logged += bytes;
    }

    /**
     * @return bytes in the log the application has not read yet (they lead the kernel's queue).
     */
    public long unread()
    {
        return logged - delivered;
    }

    public int cap()
    {
        return (int)(receiveBase + logged + (finished ? 1 : 0));
    }

    /**
     * @return the primary's own descriptor of the connection, or -1.
     */
    public int socket()
    {
        return socket;
    }

    /**
     * The connection was rebuilt in this kernel by a takeover: the client may acknowledge bytes the dead kernel sent
     * that this socket has not sent yet.
     */
    public void rebuilt()
    {
        rebuilt = true;
    }

    public void socket(final int socket)
    {
        this.socket = socket;
    }

    public void putKey(final MutableDirectBuffer into, final int at)
    {
        into.putInt(at + LOCAL_ADDRESS_OFFSET, localAddress);
        into.putInt(at + PEER_ADDRESS_OFFSET, peerAddress);
        into.putShort(at + LOCAL_PORT_OFFSET, localPort, ByteOrder.BIG_ENDIAN);
        into.putShort(at + PEER_PORT_OFFSET, peerPort, ByteOrder.BIG_ENDIAN);
    }

    public void putValue(final MutableDirectBuffer into, final int at)
    {
        into.putInt(at + ISS_OFFSET, iss);
        into.putInt(at + CAP_OFFSET, cap());
        into.putInt(at + FLAGS_OFFSET, rebuilt ? FLAG_REBUILT : 0);
        into.putInt(at + RESERVED_OFFSET, 0);
    }
}
