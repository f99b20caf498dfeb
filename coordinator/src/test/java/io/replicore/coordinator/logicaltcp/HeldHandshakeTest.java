package io.replicore.coordinator.logicaltcp;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A record of the acknowledgement gate's ring, laid out as gate.bpf.c writes it, with the options in the order
 * Linux writes them (tcp_options_write): what a client will know of the connection once the SYN-ACK reaches it,
 * and the SYN-ACK made ready to send again.
 */
class HeldHandshakeTest
{
    private static final int ISS = 0xF0000010;
    private static final int IRS = 0x7FFFFFFF;
    private final UnsafeBuffer record = new UnsafeBuffer(new byte[HeldHandshake.LENGTH]);
    private final UnsafeBuffer state = new UnsafeBuffer(new byte[TcpConnectionState.LENGTH]);
    private final HeldHandshake handshake = new HeldHandshake();
    private final TcpConnectionState view = new TcpConnectionState();

    @BeforeEach
    void layOutAHandshake()
    {
        // the client's SYN: 198.18.0.2:40000 to 198.18.0.100:8080, MSS 1460, SACK permitted, timestamps, wscale 7
        final int syn = HeldHandshake.SYN_OFFSET;
        tcpHeader(syn, 40000, 8080, IRS, 0, 0x02, 64240, 40);
        bytes(syn + 20, 2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 111, 0, 0, 0, 0, 1, 3, 3, 7);
        record.putInt(HeldHandshake.SYN_LENGTH_OFFSET, 40);
        // the SYN-ACK: no SACK (the gate's stack has it off), timestamps, wscale 10
        final int ip = HeldHandshake.PACKET_OFFSET;
        bytes(ip, 0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 100, 198, 18, 0, 2);
        tcpHeader(ip + 20, 8080, 40000, ISS, IRS + 1, 0x12, 65160, 40);
        bytes(ip + 40, 2, 4, 0x05, 0xB4, 1, 1, 8, 10, 0, 0, 0, 222, 0, 0, 0, 111, 1, 3, 3, 10);
        record.putShort(ip + 36, (short)0x1234); // whatever the kernel left there (a partial sum)
        record.putInt(HeldHandshake.PACKET_LENGTH_OFFSET, 60);
    }

    @Test
    void describesTheConnectionAsTheClientWillKnowIt()
    {
        assertNull(handshake.wrap(record, 0).describe(state, 0));
        view.wrap(state, 0);
        assertEquals("198.18.0.2:40000 to 198.18.0.100:8080", view.describe());
        assertEquals(ISS + 1, view.sendBase());
        assertEquals(IRS + 1, view.receiveBase());
        assertEquals(1460, view.mss());
        assertTrue(view.has(TcpConnectionState.OPTION_TIMESTAMPS));
        assertTrue(view.has(TcpConnectionState.OPTION_WINDOW_SCALE));
        assertEquals(0, view.options() & TcpConnectionState.OPTION_SACK, "SACK: the SYN-ACK did not permit it");
        assertEquals(7, view.sendWscale(), "the client's shift scales the windows it sends");
        assertEquals(10, view.receiveWscale());
        assertEquals(222, view.timestamp());
        assertEquals(64240, view.peerWindow());
        assertEquals(65160, view.receiveWindow());
    }

    @Test
    void theSynAckToSendAgainCarriesAWholeChecksum()
    {
        handshake.wrap(record, 0).describe(state, 0);
        final UnsafeBuffer packet = new UnsafeBuffer(new byte[HeldHandshake.PACKET_CAPACITY]);
        assertEquals(60, handshake.packetToSend(packet, 0));
        // a segment with its checksum in place sums to zero with the pseudo-header (RFC 1071)
        assertEquals(0, HeldHandshake.tcpChecksum(packet, 0, 20, 40));
        assertTrue(packet.getShort(36, ByteOrder.BIG_ENDIAN) != 0x1234);
    }

    @Test
    void aHandshakeWithoutTheClientsSynIsNotDescribed()
    {
        record.putInt(HeldHandshake.SYN_LENGTH_OFFSET, 0);
        assertNotNull(handshake.wrap(record, 0).describe(state, 0));
    }

    @Test
    void malformedOptionsAreNotDescribed()
    {
        record.putByte(HeldHandshake.SYN_OFFSET + 20 + 1, (byte)60); // the MSS option runs past the header
        final String why = handshake.wrap(record, 0).describe(state, 0);
        assertTrue(why != null && why.contains("malformed"), why);
    }

    @Test
    void aSynAckCutShortIsNotSentAgain()
    {
        record.putInt(HeldHandshake.PACKET_LENGTH_OFFSET, 50);
        handshake.wrap(record, 0);
        assertNotNull(handshake.describe(state, 0));
        assertEquals(-1, handshake.packetToSend(new UnsafeBuffer(new byte[HeldHandshake.PACKET_CAPACITY]), 0));
    }

    private void tcpHeader(final int at, final int source, final int destination, final int sequence,
        final int ack, final int flags, final int window, final int length)
    {
        record.putShort(at, (short)source, ByteOrder.BIG_ENDIAN);
        record.putShort(at + 2, (short)destination, ByteOrder.BIG_ENDIAN);
        record.putInt(at + 4, sequence, ByteOrder.BIG_ENDIAN);
        record.putInt(at + 8, ack, ByteOrder.BIG_ENDIAN);
        record.putByte(at + 12, (byte)(length / 4 << 4));
        record.putByte(at + 13, (byte)flags);
        record.putShort(at + 14, (short)window, ByteOrder.BIG_ENDIAN);
    }

    private void bytes(final int at, final int... values)
    {
        for (int i = 0; i < values.length; i++)
        {
            record.putByte(at + i, (byte)values[i]);
        }
    }
}
