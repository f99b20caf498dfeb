package io.replicore.coordinator.logicaltcp;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * Flyweight over a SYN-ACK the {@link AckGate} held and the client's SYN it answers: a record of the gate's ring
 * (struct gate_held of gate.h). From the two it tells the connection's {@link TcpConnectionState} as the client
 * knows it once the SYN-ACK reaches it, all another kernel needs to rebuild the connection; and it gives the
 * SYN-ACK back ready to send again, its TCP checksum computed whole (the kernel may have left it to the network
 * card, which a packet sent again through a raw socket does not get).
 * <pre>
 *    0 SYN Length (4)       | 4 Packet Length (4)
 *    8 the client's SYN: its TCP header, options included (60 bytes, SYN Length of them used)
 *   68 the SYN-ACK: its IPv4 packet from the IP header on (120 bytes, Packet Length of them used)
 *  188
 * </pre>
 */
public final class HeldHandshake
{
    public static final int SYN_LENGTH_OFFSET = 0;
    public static final int PACKET_LENGTH_OFFSET = 4;
    public static final int SYN_OFFSET = 8;
    public static final int SYN_CAPACITY = 60;
    public static final int PACKET_OFFSET = 68;
    public static final int PACKET_CAPACITY = 120;
    public static final int LENGTH = 188;

    private static final int IP_HEADER_MIN = 20;
    private static final int IP_TOTAL_LENGTH_OFFSET = 2;
    private static final int IP_PROTOCOL_OFFSET = 9;
    private static final int IP_SOURCE_OFFSET = 12;
    private static final int IP_DESTINATION_OFFSET = 16;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_SOURCE_PORT_OFFSET = 0;
    private static final int TCP_DESTINATION_PORT_OFFSET = 2;
    private static final int TCP_SEQUENCE_OFFSET = 4;
    private static final int TCP_ACK_OFFSET = 8;
    private static final int TCP_DATA_OFFSET_OFFSET = 12;
    private static final int TCP_FLAGS_OFFSET = 13;
    private static final int TCP_WINDOW_OFFSET = 14;
    private static final int TCP_CHECKSUM_OFFSET = 16;
    private static final int TCP_HEADER_MIN = 20;
    private static final int FLAG_SYN = 0x02;
    private static final int FLAG_ACK = 0x10;
    private static final int OPTION_END = 0;
    private static final int OPTION_NOP = 1;
    private static final int OPTION_MSS = 2;
    private static final int OPTION_WINDOW = 3;
    private static final int OPTION_SACK_PERMITTED = 4;
    private static final int OPTION_TIMESTAMP = 8;
    /** RFC 9293's MSS when the SYN names none. */
    private static final int DEFAULT_MSS = 536;

    private DirectBuffer buffer;
    private int offset;
    private final SegmentOptions synOptions = new SegmentOptions();
    private final SegmentOptions synAckOptions = new SegmentOptions();

    /**
     * The TCP options of one segment that a connection's state depends on; -1 for one absent.
     */
    private static final class SegmentOptions
    {
        int mss;
        int windowShift;
        boolean sackPermitted;
        boolean timestamps;
        int timestampValue;

        /**
         * @return null, or what is malformed.
         */
        String read(final DirectBuffer buffer, final int from, final int to)
        {
            mss = -1;
            windowShift = -1;
            sackPermitted = false;
            timestamps = false;
            int at = from;
            while (at < to)
            {
                final int kind = buffer.getByte(at) & 0xFF;
                if (kind == OPTION_END)
                {
                    break;
                }
                if (kind == OPTION_NOP)
                {
                    at++;
                    continue;
                }
                if (at + 1 >= to)
                {
                    return "option " + kind + " has no length";
                }
                final int length = buffer.getByte(at + 1) & 0xFF;
                if (length < 2 || at + length > to)
                {
                    return "option " + kind + " has length " + length;
                }
                switch (kind)
                {
                    case OPTION_MSS -> mss = length == 4 ? buffer.getShort(at + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF : -1;
                    case OPTION_WINDOW -> windowShift = length == 3 ? Math.min(buffer.getByte(at + 2) & 0xFF, 14) : -1;
                    case OPTION_SACK_PERMITTED -> sackPermitted = true;
                    case OPTION_TIMESTAMP ->
                    {
                        timestamps = length == 10;
                        timestampValue = timestamps ? buffer.getInt(at + 2, ByteOrder.BIG_ENDIAN) : 0;
                    }
                    default ->
                    {
                    }
                }
                at += length;
            }
            return null;
        }
    }

    public HeldHandshake wrap(final DirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    private int packetLength()
    {
        return buffer.getInt(offset + PACKET_LENGTH_OFFSET);
    }

    private int ipHeaderLength()
    {
        return (buffer.getByte(offset + PACKET_OFFSET) & 0x0F) * 4;
    }

    private int totalLength()
    {
        return buffer.getShort(offset + PACKET_OFFSET + IP_TOTAL_LENGTH_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /**
     * Write the connection's state, {@link TcpConnectionState#LENGTH} bytes, into {@code into} at {@code at}.
     *
     * @return null, or why the record describes no connection that could be rebuilt.
     */
    public String describe(final MutableDirectBuffer into, final int at)
    {
        final int ip = offset + PACKET_OFFSET;
        final int packetLength = packetLength();
        final int ipLength = ipHeaderLength();
        if ((buffer.getByte(ip) & 0xF0) != 0x40 || ipLength < IP_HEADER_MIN || packetLength > PACKET_CAPACITY ||
            packetLength < ipLength + TCP_HEADER_MIN || buffer.getByte(ip + IP_PROTOCOL_OFFSET) != IPPROTO_TCP)
        {
            return "the held packet is not an IPv4 TCP segment";
        }
        final int synAck = ip + ipLength;
        final int synAckLength = tcpHeaderLength(synAck);
        if ((buffer.getByte(synAck + TCP_FLAGS_OFFSET) & (FLAG_SYN | FLAG_ACK)) != (FLAG_SYN | FLAG_ACK) ||
            synAckLength < TCP_HEADER_MIN || ipLength + synAckLength > packetLength)
        {
            return "the held packet is not a whole SYN-ACK";
        }
        final int synLength = buffer.getInt(offset + SYN_LENGTH_OFFSET);
        final int syn = offset + SYN_OFFSET;
        if (synLength < TCP_HEADER_MIN || synLength > SYN_CAPACITY || tcpHeaderLength(syn) != synLength ||
            (buffer.getByte(syn + TCP_FLAGS_OFFSET) & (FLAG_SYN | FLAG_ACK)) != FLAG_SYN)
        {
            return "the client's SYN is not a whole SYN";
        }
        String malformed = synAckOptions.read(buffer, synAck + TCP_HEADER_MIN, synAck + synAckLength);
        if (malformed == null)
        {
            malformed = synOptions.read(buffer, syn + TCP_HEADER_MIN, syn + synLength);
        }
        if (malformed != null)
        {
            return "a handshake's TCP options are malformed: " + malformed;
        }
        final boolean windowScale = synAckOptions.windowShift >= 0 && synOptions.windowShift >= 0;
        into.setMemory(at, TcpConnectionState.LENGTH, (byte)0);
        into.putShort(at + TcpConnectionState.FAMILY_OFFSET, (short)TcpConnectionState.AF_INET);
        into.putShort(at + TcpConnectionState.OPTIONS_OFFSET, (short)(
            (synAckOptions.timestamps ? TcpConnectionState.OPTION_TIMESTAMPS : 0) |
            (synAckOptions.sackPermitted ? TcpConnectionState.OPTION_SACK : 0) |
            (windowScale ? TcpConnectionState.OPTION_WINDOW_SCALE : 0)));
        into.putShort(at + TcpConnectionState.LOCAL_PORT_OFFSET, port(synAck + TCP_SOURCE_PORT_OFFSET));
        into.putShort(at + TcpConnectionState.PEER_PORT_OFFSET, port(synAck + TCP_DESTINATION_PORT_OFFSET));
        into.putBytes(at + TcpConnectionState.LOCAL_ADDRESS_OFFSET, buffer, ip + IP_SOURCE_OFFSET, 4);
        into.putBytes(at + TcpConnectionState.PEER_ADDRESS_OFFSET, buffer, ip + IP_DESTINATION_OFFSET, 4);
        into.putInt(at + TcpConnectionState.SEND_BASE_OFFSET,
            buffer.getInt(synAck + TCP_SEQUENCE_OFFSET, ByteOrder.BIG_ENDIAN) + 1);
        into.putInt(at + TcpConnectionState.RECEIVE_BASE_OFFSET,
            buffer.getInt(synAck + TCP_ACK_OFFSET, ByteOrder.BIG_ENDIAN));
        into.putInt(at + TcpConnectionState.MSS_OFFSET, synOptions.mss > 0 ? synOptions.mss : DEFAULT_MSS);
        if (windowScale)
        {
            into.putByte(at + TcpConnectionState.SEND_WSCALE_OFFSET, (byte)synOptions.windowShift);
            into.putByte(at + TcpConnectionState.RECEIVE_WSCALE_OFFSET, (byte)synAckOptions.windowShift);
        }
        into.putInt(at + TcpConnectionState.TIMESTAMP_OFFSET, synAckOptions.timestampValue);
        // Windows are never scaled in a SYN or a SYN-ACK.
        final int peerWindow = buffer.getShort(syn + TCP_WINDOW_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        into.putInt(at + TcpConnectionState.PEER_WINDOW_OFFSET, peerWindow);
        into.putInt(at + TcpConnectionState.MAX_PEER_WINDOW_OFFSET, peerWindow);
        into.putInt(at + TcpConnectionState.RECEIVE_WINDOW_OFFSET,
            buffer.getShort(synAck + TCP_WINDOW_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF);
        return null;
    }

    /**
     * Copy the SYN-ACK into {@code into} at {@code at} as it is to be sent again: its TCP checksum computed over the
     * pseudo-header and the whole segment. Only after {@link #describe} accepted the record.
     *
     * @return its length, or -1 if the record holds less than the whole packet.
     */
    public int packetToSend(final MutableDirectBuffer into, final int at)
    {
        final int length = totalLength();
        final int ipLength = ipHeaderLength();
        if (length > packetLength() || length < ipLength + TCP_HEADER_MIN)
        {
            return -1;
        }
        into.putBytes(at, buffer, offset + PACKET_OFFSET, length);
        into.putShort(at + ipLength + TCP_CHECKSUM_OFFSET, (short)0);
        into.putShort(at + ipLength + TCP_CHECKSUM_OFFSET, (short)tcpChecksum(into, at, ipLength, length - ipLength),
            ByteOrder.BIG_ENDIAN);
        return length;
    }

    /**
     * The Internet checksum of a TCP segment over IPv4 (RFC 9293 3.1): the ones' complement of the ones'
     * complement sum of the pseudo-header (addresses, protocol, TCP length) and the segment.
     */
    static int tcpChecksum(final DirectBuffer packet, final int at, final int ipLength, final int tcpLength)
    {
        long sum = IPPROTO_TCP + tcpLength;
        for (int i = IP_SOURCE_OFFSET; i < IP_DESTINATION_OFFSET + 4; i += 2)
        {
            sum += packet.getShort(at + i, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        }
        final int tcp = at + ipLength;
        for (int i = 0; i + 1 < tcpLength; i += 2)
        {
            sum += packet.getShort(tcp + i, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        }
        if ((tcpLength & 1) != 0)
        {
            sum += (packet.getByte(tcp + tcpLength - 1) & 0xFF) << 8;
        }
        while ((sum >>> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int)(~sum & 0xFFFF);
    }

    /**
     * @return the peer's address (network order, as in memory) of the SYN-ACK, to send it to.
     */
    public int destination()
    {
        return buffer.getInt(offset + PACKET_OFFSET + IP_DESTINATION_OFFSET);
    }

    private int tcpHeaderLength(final int tcp)
    {
        return ((buffer.getByte(tcp + TCP_DATA_OFFSET_OFFSET) & 0xFF) >>> 4) * 4;
    }

    private short port(final int at)
    {
        return buffer.getShort(at, ByteOrder.BIG_ENDIAN);
    }
}
