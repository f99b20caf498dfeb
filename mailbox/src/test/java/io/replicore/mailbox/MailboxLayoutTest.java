package io.replicore.mailbox;

import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static io.replicore.mailbox.MailboxLayout.*;
import static org.junit.jupiter.api.Assertions.*;

class MailboxLayoutTest
{
    @Test
    void headerFieldsAreInDocumentedOrderWithoutOverlap()
    {
        final int[][] fields = {
            {MAGIC_OFFSET, 8}, {LAYOUT_VERSION_OFFSET, 4}, {HEADER_LENGTH_OFFSET, 4}, {TOTAL_LENGTH_OFFSET, 8},
            {REPLICA_COUNT_OFFSET, 4}, {CHANNEL_CAPACITY_OFFSET, 4}, {SLOT_LENGTH_OFFSET, 4},
            {CONTROL_OFFSET_OFFSET, 4}, {SLOTS_OFFSET_OFFSET, 4}, {CHANNELS_OFFSET_OFFSET, 4},
            {CHANNEL_STRIDE_OFFSET, 4}, {CREATOR_PID_OFFSET, 4}, {RUN_ID_OFFSET, 8}, {CREATED_TIME_OFFSET, 8},
        };
        for (int i = 1; i < fields.length; i++)
        {
            assertEquals(fields[i - 1][0] + fields[i - 1][1], fields[i][0], "field " + i + " follows field " + (i - 1));
        }
        assertTrue(CREATED_TIME_OFFSET + 8 <= HEADER_CHECKSUM_OFFSET);
        assertEquals(HEADER_LENGTH, HEADER_CHECKSUM_OFFSET + 4);
        assertEquals(0, RUN_ID_OFFSET % 8, "8-byte fields are 8-byte aligned");
        assertEquals(0, TOTAL_LENGTH_OFFSET % 8);
    }

    @Test
    void magicSpellsItsNameInLittleEndianBytes()
    {
        final byte[] bytes = new byte[8];
        for (int i = 0; i < 8; i++)
        {
            bytes[i] = (byte)(MAGIC >>> (8 * i));
        }
        assertEquals("RPLCMBX1", new String(bytes, java.nio.charset.StandardCharsets.US_ASCII));
    }

    @Test
    void slotsSitOnTheirOwnCacheLinesAndFieldsFitTheSlot()
    {
        assertEquals(0, SLOTS_OFFSET % 64);
        assertEquals(0, SLOT_LENGTH % 64);
        assertEquals(SLOT_LENGTH, ReplicaSlot.LAST_ERROR_MESSAGE_OFFSET + ReplicaSlot.LAST_ERROR_MESSAGE_LENGTH);
        assertEquals(0, ReplicaSlot.HEARTBEAT_OFFSET % 8);
        assertEquals(0, ControlBlock.EPOCH_WORD_OFFSET % 8);
        assertTrue(ControlBlock.LAST_FAILOVER_TIME_OFFSET + 8 <= CONTROL_LENGTH);
    }

    @Test
    void everyOrderedPairHasItsOwnChannel()
    {
        for (int n = 2; n <= MAX_REPLICAS; n++)
        {
            final Set<Integer> seen = new HashSet<>();
            for (int from = 0; from < n; from++)
            {
                for (int to = 0; to < n; to++)
                {
                    if (from != to)
                    {
                        final int index = channelIndex(n, from, to);
                        assertTrue(index >= 0 && index < channelCount(n));
                        assertTrue(seen.add(index), "index " + index + " used twice");
                    }
                }
            }
            assertEquals(n * (n - 1), seen.size());
        }
        assertThrows(IllegalArgumentException.class, () -> channelIndex(2, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> channelIndex(2, 0, 2));
    }

    @Test
    void channelsArePageAlignedAndTotalLengthCoversThem()
    {
        assertEquals(4096, channelsOffset(2));
        assertEquals(0, channelStride(1 << 20) % PAGE_LENGTH);
        assertTrue(channelStride(1 << 20) >= (1 << 20) + RingBufferDescriptor.TRAILER_LENGTH);
        assertEquals(channelsOffset(3) + 6L * channelStride(65536), totalLength(3, 65536));
    }
}
