package io.replicore.mailbox;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;

/**
 * The single writer of one channel (replica {@code from} to replica {@code to}). No allocation per record.
 * A full ring is back-pressure: {@link #tryWrite} and {@link #tryClaim} return {@link #BACK_PRESSURED} and the
 * caller waits and tries again; nothing is dropped.
 */
public final class ChannelWriter
{
    /** The ring is full; try again once the reader has made room. */
    public static final long BACK_PRESSURED = -1;

    private final OneToOneRingBuffer ring;
    private final AtomicBuffer buffer;
    private final int maxPayloadLength;
    private long nextSequence;
    private int claimedType;
    private int claimedLength;

    ChannelWriter(final OneToOneRingBuffer ring, final long firstSequence)
    {
        this.ring = ring;
        this.buffer = ring.buffer();
        this.maxPayloadLength = ring.maxMsgLength() - ChannelRecord.HEADER_LENGTH;
        this.nextSequence = firstSequence;
    }

    public int maxPayloadLength()
    {
        return maxPayloadLength;
    }

    /**
     * @return the sequence the next record will carry.
     */
    public long nextSequence()
    {
        return nextSequence;
    }

    /**
     * Copy one record into the channel.
     *
     * @return its sequence, or {@link #BACK_PRESSURED}.
     */
    public long tryWrite(final int type, final DirectBuffer src, final int offset, final int length)
    {
        final int index = tryClaim(type, length);
        if (index < 0)
        {
            return BACK_PRESSURED;
        }
        buffer.putBytes(index, src, offset, length);
        return commit(index);
    }

    /**
     * Reserve room for a payload of {@code length} bytes to be written in place at the returned index of
     * {@link #buffer()}, then {@link #commit(int)}. Until the commit, no reader sees the record.
     *
     * @return the index of the payload, or {@link #BACK_PRESSURED} as an int (-1).
     */
    public int tryClaim(final int type, final int length)
    {
        if (type <= 0)
        {
            throw new IllegalArgumentException("record type must be positive: " + type);
        }
        if (length < 0 || length > maxPayloadLength)
        {
            throw new IllegalArgumentException(
                "record payload of " + length + " bytes does not fit the channel (max " + maxPayloadLength + ")");
        }
        final int frameIndex = ring.tryClaim(type, ChannelRecord.HEADER_LENGTH + length);
        if (frameIndex == RingBuffer.INSUFFICIENT_CAPACITY)
        {
            return (int)BACK_PRESSURED;
        }
        claimedType = type;
        claimedLength = length;
        return frameIndex + ChannelRecord.PAYLOAD_OFFSET;
    }

    /**
     * Seal and publish the record claimed at {@code payloadIndex}.
     *
     * @return its sequence.
     */
    public long commit(final int payloadIndex)
    {
        final int frameIndex = payloadIndex - ChannelRecord.PAYLOAD_OFFSET;
        final long sequence = nextSequence++;
        buffer.putLong(frameIndex + ChannelRecord.SEQUENCE_OFFSET, sequence);
        buffer.putInt(frameIndex + ChannelRecord.PAYLOAD_LENGTH_OFFSET, claimedLength);
        buffer.putInt(frameIndex + ChannelRecord.CHECKSUM_OFFSET,
            ChannelRecord.checksum(buffer, frameIndex, claimedType, claimedLength));
        ring.commit(frameIndex);
        return sequence;
    }

    /**
     * The buffer that {@link #tryClaim} indexes into.
     */
    public AtomicBuffer buffer()
    {
        return buffer;
    }

    /**
     * @return bytes written to the ring but not yet consumed by its reader.
     */
    public long backlogBytes()
    {
        return ring.producerPosition() - ring.consumerPosition();
    }
}
