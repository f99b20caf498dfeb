package io.replicore.coordinator.logicaltcp;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over the logical TCP state of one accepted connection, as the primary of a kernel partition reads it
 * from its kernel right after the accept, before the application can touch the connection. With the bytes the log
 * says the application read and wrote since, it is all another kernel needs to rebuild the connection (TCP_REPAIR).
 * It travels as a segment at address 0 of the accept's SOCKET record, so it is in every backup's log before the
 * application acts on the connection. Little-endian; ports in host order.
 * <pre>
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |  Family (2)                     |  Options (2): 1 TIMESTAMPS, |  0
 *   |                                 |  2 SACK, 4 WINDOW SCALE     |
 *   |  Local Port (2)                 |  Peer Port (2)              |  4
 *   |  Local Address (16): IPv4 in the first 4 bytes, or IPv6       |  8
 *   |  Peer Address (16)                                            | 24
 *   |  Send Base (4): sequence number of the application's first    | 40
 *   |  byte written (ISS + 1)                                       |
 *   |  Receive Base (4): sequence number of the first byte the      | 44
 *   |  application reads (IRS + 1)                                  |
 *   |  MSS (4)                                                      | 48
 *   |  Send Wscale (1) | Recv Wscale (1) | reserved (2)             | 52
 *   |  Timestamp (4): the connection's TCP timestamp clock, ms      | 56
 *   |  Peer Window (4): bytes the peer let us send                  | 60
 *   |  Max Peer Window (4)                                          | 64
 *   |  Receive Window (4): bytes we let the peer send               | 68
 *   +---------------------------------------------------------------+  72
 * </pre>
 */
public final class TcpConnectionState
{
    public static final int FAMILY_OFFSET = 0;
    public static final int OPTIONS_OFFSET = 2;
    public static final int LOCAL_PORT_OFFSET = 4;
    public static final int PEER_PORT_OFFSET = 6;
    public static final int LOCAL_ADDRESS_OFFSET = 8;
    public static final int PEER_ADDRESS_OFFSET = 24;
    public static final int ADDRESS_LENGTH = 16;
    public static final int SEND_BASE_OFFSET = 40;
    public static final int RECEIVE_BASE_OFFSET = 44;
    public static final int MSS_OFFSET = 48;
    public static final int SEND_WSCALE_OFFSET = 52;
    public static final int RECEIVE_WSCALE_OFFSET = 53;
    public static final int TIMESTAMP_OFFSET = 56;
    public static final int PEER_WINDOW_OFFSET = 60;
    public static final int MAX_PEER_WINDOW_OFFSET = 64;
    public static final int RECEIVE_WINDOW_OFFSET = 68;
    public static final int LENGTH = 72;

    public static final int OPTION_TIMESTAMPS = 1;
    public static final int OPTION_SACK = 2;
    public static final int OPTION_WINDOW_SCALE = 4;

    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;

    private DirectBuffer buffer;
    private int offset;

    public TcpConnectionState wrap(final DirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    public int family()
    {
        return buffer.getShort(offset + FAMILY_OFFSET) & 0xFFFF;
    }

    public int options()
    {
        return buffer.getShort(offset + OPTIONS_OFFSET) & 0xFFFF;
    }

    public boolean has(final int option)
    {
        return (options() & option) != 0;
    }

    public int localPort()
    {
        return buffer.getShort(offset + LOCAL_PORT_OFFSET) & 0xFFFF;
    }

    public int peerPort()
    {
        return buffer.getShort(offset + PEER_PORT_OFFSET) & 0xFFFF;
    }

    /**
     * @return an IPv4 address's four bytes as they lie in memory (network order), read as one int: written back
     * with putInt they are the same bytes.
     */
    public int rawAddress(final boolean local)
    {
        return buffer.getInt(offset + (local ? LOCAL_ADDRESS_OFFSET : PEER_ADDRESS_OFFSET));
    }

    public int sendBase()
    {
        return buffer.getInt(offset + SEND_BASE_OFFSET);
    }

    public int receiveBase()
    {
        return buffer.getInt(offset + RECEIVE_BASE_OFFSET);
    }

    public int mss()
    {
        return buffer.getInt(offset + MSS_OFFSET);
    }

    public int sendWscale()
    {
        return buffer.getByte(offset + SEND_WSCALE_OFFSET);
    }

    public int receiveWscale()
    {
        return buffer.getByte(offset + RECEIVE_WSCALE_OFFSET);
    }

    public int timestamp()
    {
        return buffer.getInt(offset + TIMESTAMP_OFFSET);
    }

    public int peerWindow()
    {
        return buffer.getInt(offset + PEER_WINDOW_OFFSET);
    }

    public int maxPeerWindow()
    {
        return buffer.getInt(offset + MAX_PEER_WINDOW_OFFSET);
    }

    public int receiveWindow()
    {
        return buffer.getInt(offset + RECEIVE_WINDOW_OFFSET);
    }

    /**
     * Copy the address ({@code local} or the peer's) into {@code sockaddr} at {@code at} as a struct sockaddr_in or
     * sockaddr_in6 (network byte order).
     *
     * @return its length.
     */
    public int putSockaddr(final boolean local, final MutableDirectBuffer sockaddr, final int at)
    {
        final int family = family();
        final int port = local ? localPort() : peerPort();
        final int address = offset + (local ? LOCAL_ADDRESS_OFFSET : PEER_ADDRESS_OFFSET);
        final int length = family == AF_INET6 ? 28 : 16;
        sockaddr.setMemory(at, length, (byte)0);
        sockaddr.putShort(at, (short)family);
        sockaddr.putByte(at + 2, (byte)(port >>> 8));
        sockaddr.putByte(at + 3, (byte)port);
        sockaddr.putBytes(at + (family == AF_INET6 ? 8 : 4), buffer, address, family == AF_INET6 ? 16 : 4);
        return length;
    }

    /**
     * "198.18.0.2:40312 to 198.18.0.100:80", for the event log.
     */
    public String describe()
    {
        return address(false) + " to " + address(true);
    }

    private String address(final boolean local)
    {
        final int base = offset + (local ? LOCAL_ADDRESS_OFFSET : PEER_ADDRESS_OFFSET);
        final int port = local ? localPort() : peerPort();
        if (family() != AF_INET6)
        {
            return (buffer.getByte(base) & 0xFF) + "." + (buffer.getByte(base + 1) & 0xFF) + "." +
                (buffer.getByte(base + 2) & 0xFF) + "." + (buffer.getByte(base + 3) & 0xFF) + ":" + port;
        }
        final StringBuilder text = new StringBuilder("[");
        for (int i = 0; i < 16; i += 2)
        {
            text.append(i == 0 ? "" : ":").append(Integer.toHexString(
                ((buffer.getByte(base + i) & 0xFF) << 8) | (buffer.getByte(base + i + 1) & 0xFF)));
        }
        return text.append("]:").append(port).toString();
    }
}
