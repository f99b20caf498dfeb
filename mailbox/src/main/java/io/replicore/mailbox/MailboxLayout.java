package io.replicore.mailbox;

import org.agrona.BitUtil;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * The byte layout of a mailbox region. It is read by Java, C and kernel code alike, so it is fixed here and in
 * docs/architecture.md, little-endian, with every field at a fixed offset.
 * <pre>
 *   offset 0                 +--------------------------------------------+
 *                            | header: 128 bytes (2 cache lines)          |
 *   CONTROL_OFFSET = 128     +--------------------------------------------+
 *                            | control block: 128 bytes                   |
 *   SLOTS_OFFSET = 256       +--------------------------------------------+
 *                            | replica slot 0: 256 bytes (4 cache lines)  |
 *                            | replica slot 1                             |
 *                            | ... replicaCount slots                     |
 *   channelsOffset (4 KiB    +--------------------------------------------+
 *   aligned)                 | channel 0 -&gt; 1: Agrona ring buffer         |
 *                            |   capacity bytes of records + trailer      |
 *                            | channel 0 -&gt; 2 ... (one per ordered pair)  |
 *                            | channel 1 -&gt; 0 ...                         |
 *   totalLength              +--------------------------------------------+
 *
 * Header:
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |              Magic "RPLCMBX1", written last (8)               |  0
 *   +---------------------------------------------------------------+
 *   |                       Layout Version                          |  8
 *   |                       Header Length                           | 12
 *   |                       Total Length (8)                        | 16
 *   |                       Replica Count                           | 24
 *   |                       Channel Capacity                        | 28
 *   |                       Slot Length                             | 32
 *   |                       Control Offset                          | 36
 *   |                       Slots Offset                            | 40
 *   |                       Channels Offset                         | 44
 *   |                       Channel Stride                          | 48
 *   |                       Creator Pid                             | 52
 *   |                       Run Id (8)                              | 56
 *   |                       Created Time, epoch ms (8)              | 64
 *   |                       reserved (zero) ...                     | 72
 *   |                       Header Checksum: CRC32C of bytes 8..123 | 124
 *   +---------------------------------------------------------------+
 * </pre>
 * The channel from replica {@code i} to replica {@code j} ({@code i != j}) has index
 * {@code i * (replicaCount - 1) + (j < i ? j : j - 1)} and starts at {@code channelsOffset + index * channelStride}.
 */
public final class MailboxLayout
{
    /** "RPLCMBX1" read as a little-endian long. */
    public static final long MAGIC = 0x3158424D434C5052L;
    public static final int LAYOUT_VERSION = 4;
    public static final int MAX_REPLICAS = 8;
    public static final int MIN_CHANNEL_CAPACITY = 4096;
    public static final int MAX_CHANNEL_CAPACITY = 1 << 30;
    public static final int PAGE_LENGTH = 4096;

    public static final int MAGIC_OFFSET = 0;
    public static final int LAYOUT_VERSION_OFFSET = 8;
    public static final int HEADER_LENGTH_OFFSET = 12;
    public static final int TOTAL_LENGTH_OFFSET = 16;
    public static final int REPLICA_COUNT_OFFSET = 24;
    public static final int CHANNEL_CAPACITY_OFFSET = 28;
    public static final int SLOT_LENGTH_OFFSET = 32;
    public static final int CONTROL_OFFSET_OFFSET = 36;
    public static final int SLOTS_OFFSET_OFFSET = 40;
    public static final int CHANNELS_OFFSET_OFFSET = 44;
    public static final int CHANNEL_STRIDE_OFFSET = 48;
    public static final int CREATOR_PID_OFFSET = 52;
    public static final int RUN_ID_OFFSET = 56;
    public static final int CREATED_TIME_OFFSET = 64;
    public static final int HEADER_CHECKSUM_OFFSET = 124;
    /** The checksum covers everything after the magic and before itself. */
    public static final int CHECKSUMMED_OFFSET = LAYOUT_VERSION_OFFSET;
    public static final int CHECKSUMMED_LENGTH = HEADER_CHECKSUM_OFFSET - CHECKSUMMED_OFFSET;
    public static final int HEADER_LENGTH = 128;

    public static final int CONTROL_OFFSET = HEADER_LENGTH;
    public static final int CONTROL_LENGTH = 128;
    public static final int SLOTS_OFFSET = CONTROL_OFFSET + CONTROL_LENGTH;
    public static final int SLOT_LENGTH = 256;

    private MailboxLayout()
    {
    }

    /**
     * @return offset of the first channel for this many replicas: after the slots, page aligned.
     */
    public static int channelsOffset(final int replicaCount)
    {
        return BitUtil.align(SLOTS_OFFSET + replicaCount * SLOT_LENGTH, PAGE_LENGTH);
    }

    /**
     * @return bytes from one channel to the next: the ring's capacity plus its trailer, page aligned.
     */
    public static int channelStride(final int channelCapacity)
    {
        return BitUtil.align(channelCapacity + RingBufferDescriptor.TRAILER_LENGTH, PAGE_LENGTH);
    }

    public static int channelCount(final int replicaCount)
    {
        return replicaCount * (replicaCount - 1);
    }

    public static long totalLength(final int replicaCount, final int channelCapacity)
    {
        return channelsOffset(replicaCount) + (long)channelCount(replicaCount) * channelStride(channelCapacity);
    }

    /**
     * @return index of the channel that carries records from replica {@code from} to replica {@code to}.
     */
    public static int channelIndex(final int replicaCount, final int from, final int to)
    {
        if (from < 0 || from >= replicaCount || to < 0 || to >= replicaCount || from == to)
        {
            throw new IllegalArgumentException(
                "no channel from " + from + " to " + to + " with " + replicaCount + " replicas");
        }
        return from * (replicaCount - 1) + (to < from ? to : to - 1);
    }

    public static int slotOffset(final int replicaId)
    {
        return SLOTS_OFFSET + replicaId * SLOT_LENGTH;
    }
}
