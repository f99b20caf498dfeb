package io.replicore.mailbox;

import org.agrona.checksum.Crc32c;
import org.agrona.concurrent.AtomicBuffer;

/**
 * The frame our channel puts inside each Agrona ring-buffer record, ahead of the payload.
 * <pre>
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |  Agrona record length (4, negative until committed)           |  ring record header,
 *   |  Agrona message type id (4) = record type, &gt; 0                 |  owned by Agrona
 *   +---------------------------------------------------------------+
 *   |  Checksum (4): CRC32C of bytes 4 .. 16 + payload length, XOR type |  0
 *   |  Payload Length (4)                                           |  4
 *   +---------------------------------------------------------------+
 *   |  Sequence (8): 1, 2, 3 ... per channel                        |  8
 *   +---------------------------------------------------------------+
 *   |  Payload ...                                                  | 16
 *   +---------------------------------------------------------------+
 * </pre>
 * Agrona publishes a record by an ordered store of its positive length after the body is written, so a writer
 * killed half-way leaves a record no reader takes. The sequence catches a lost, repeated or reordered record and
 * the checksum a record damaged in shared memory after it was written.
 */
public final class ChannelRecord
{
    public static final int CHECKSUM_OFFSET = 0;
    public static final int PAYLOAD_LENGTH_OFFSET = 4;
    public static final int SEQUENCE_OFFSET = 8;
    public static final int HEADER_LENGTH = 16;
    public static final int PAYLOAD_OFFSET = HEADER_LENGTH;
    /** The checksum covers the payload length, the sequence and the payload, in one contiguous run. */
    public static final int CHECKSUMMED_OFFSET = PAYLOAD_LENGTH_OFFSET;

    private ChannelRecord()
    {
    }

    /**
     * CRC32C of the frame after the checksum field, XOR the record type, so that the same bytes under another
     * type do not pass.
     */
    static int checksum(final AtomicBuffer buffer, final int frameIndex, final int type, final int payloadLength)
    {
        return type ^ Crc32c.INSTANCE.compute(
            buffer.addressOffset() + frameIndex, CHECKSUMMED_OFFSET, HEADER_LENGTH - CHECKSUMMED_OFFSET + payloadLength);
    }
}
