package io.replicore.mailbox;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RecordDescriptor;

/**
 * The single reader of one channel. A record whose sequence or checksum is wrong is not consumed and not
 * delivered: {@link #poll} returns {@link #CORRUPT} and {@link #corruption()} says what was found, so the
 * coordinator can stop the replica instead of replaying a damaged log.
 */
public final class ChannelReader
{
    /** The next record failed its checks; it was left in the channel. */
    public static final int CORRUPT = -1;
    /** As the expected sequence: take the first record's, then require each next one. */
    public static final long ANY_SEQUENCE = 0;

    private final OneToOneRingBuffer ring;
    private final AtomicBuffer buffer;
    private final ControlledMessageHandler checkingHandler = this::onFrame;
    private long expectedSequence;
    private ChannelHandler handler;
    private String corruption;
    private int lastChecksum;

    ChannelReader(final OneToOneRingBuffer ring, final long expectedSequence)
    {
        this.ring = ring;
        this.buffer = ring.buffer();
        this.expectedSequence = expectedSequence;
    }

    /**
     * Deliver up to {@code limit} complete records in order.
     *
     * @return how many were delivered and consumed, or {@link #CORRUPT}.
     */
    public int poll(final ChannelHandler handler, final int limit)
    {
        this.handler = handler;
        final int count = ring.controlledRead(checkingHandler, limit);
        return corruption != null ? CORRUPT : count;
    }

    /**
     * @return the sequence the next record must carry.
     */
    public long expectedSequence()
    {
        return expectedSequence;
    }

    /**
     * @return what the last {@link #CORRUPT} poll found, or null.
     */
    public String corruption()
    {
        return corruption;
    }

    /**
     * @return the checksum of the last record delivered: records with the same type, sequence and bytes have the
     * same one, so two replicas can tell whether they applied the same record.
     */
    public int lastChecksum()
    {
        return lastChecksum;
    }

    /**
     * @return bytes written to the ring and not yet consumed.
     */
    public long backlogBytes()
    {
        return ring.producerPosition() - ring.consumerPosition();
    }

    /**
     * @return true if what is left to read starts with a record its writer claimed but never finished: once the
     * writer is known dead, that record will never be readable (and, the writer having died before it could act
     * on it, it stands for nothing that happened).
     */
    public boolean blockedByUnfinishedRecord()
    {
        final long head = ring.consumerPosition();
        if (ring.producerPosition() == head)
        {
            return false;
        }
        final int index = (int)head & (ring.capacity() - 1);
        return buffer.getIntVolatile(RecordDescriptor.lengthOffset(index)) <= 0;
    }

    private ControlledMessageHandler.Action onFrame(
        final int type, final DirectBuffer frame, final int frameIndex, final int frameLength)
    {
        if (corruption != null)
        {
            return ControlledMessageHandler.Action.ABORT;
        }
        final long sequence = buffer.getLong(frameIndex + ChannelRecord.SEQUENCE_OFFSET);
        final int payloadLength = buffer.getInt(frameIndex + ChannelRecord.PAYLOAD_LENGTH_OFFSET);
        if (frameLength < ChannelRecord.HEADER_LENGTH ||
            payloadLength != frameLength - ChannelRecord.HEADER_LENGTH)
        {
            corruption = "record " + expectedSequence + " has a frame of " + frameLength +
                " bytes but says its payload is " + payloadLength;
            return ControlledMessageHandler.Action.ABORT;
        }
        if (expectedSequence == ANY_SEQUENCE && sequence > 0)
        {
            expectedSequence = sequence;
        }
        if (sequence != expectedSequence)
        {
            corruption = "record sequence " + sequence + " where " + expectedSequence + " was expected";
            return ControlledMessageHandler.Action.ABORT;
        }
        final int stored = buffer.getInt(frameIndex + ChannelRecord.CHECKSUM_OFFSET);
        final int computed = ChannelRecord.checksum(buffer, frameIndex, type, payloadLength);
        if (stored != computed)
        {
            corruption = "record " + sequence + " (type " + type + ", " + payloadLength +
                " bytes) fails its checksum: stored 0x" + Integer.toHexString(stored) +
                ", computed 0x" + Integer.toHexString(computed);
            return ControlledMessageHandler.Action.ABORT;
        }
        lastChecksum = stored;
        final ControlledMessageHandler.Action action = handler.onRecord(
            type, sequence, buffer, frameIndex + ChannelRecord.PAYLOAD_OFFSET, payloadLength);
        if (action != ControlledMessageHandler.Action.ABORT)
        {
            expectedSequence++;
        }
        return action;
    }
}
