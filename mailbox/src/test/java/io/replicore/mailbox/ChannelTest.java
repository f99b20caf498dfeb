package io.replicore.mailbox;

import org.agrona.concurrent.ControlledMessageHandler.Action;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ChannelTest
{
    private final ShmFiles files = new ShmFiles();
    private Mailbox mailbox;

    @BeforeEach
    void create()
    {
        mailbox = Mailbox.create(new MailboxContext().path(files.newPath()).channelCapacity(4096));
    }

    @AfterEach
    void remove() throws Exception
    {
        mailbox.close();
        files.close();
    }

    @Test
    void recordsArriveInOrderWithTheirTypeAndSequence()
    {
        final ChannelWriter writer = mailbox.newWriter(0, 1);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[32]);
        for (int i = 1; i <= 5; i++)
        {
            payload.putInt(0, i * 10);
            assertEquals(i, writer.tryWrite(i, payload, 0, 4 * (i % 3)));
        }
        final List<long[]> seen = new ArrayList<>();
        assertEquals(5, mailbox.newReader(0, 1).poll((type, sequence, buffer, offset, length) ->
        {
            seen.add(new long[]{type, sequence, length, length > 0 ? buffer.getInt(offset) : -1});
            return Action.CONTINUE;
        }, 100));
        for (int i = 1; i <= 5; i++)
        {
            final long[] record = seen.get(i - 1);
            assertEquals(i, record[0]);
            assertEquals(i, record[1]);
            assertEquals(4 * (i % 3), record[2]);
            if (record[2] > 0)
            {
                assertEquals(i * 10, record[3]);
            }
        }
    }

    @Test
    void channelsOfDifferentPairsDoNotMix()
    {
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
        mailbox.newWriter(0, 1).tryWrite(1, payload, 0, 8);
        assertEquals(0, mailbox.newReader(1, 0).poll((t, s, b, o, l) -> Action.CONTINUE, 10));
        assertEquals(1, mailbox.newReader(0, 1).poll((t, s, b, o, l) -> Action.CONTINUE, 10));
    }

    @Test
    void fullRingIsBackPressureAndNothingIsLost()
    {
        final ChannelWriter writer = mailbox.newWriter(0, 1);
        final ChannelReader reader = mailbox.newReader(0, 1);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[256]);
        int written = 0;
        while (writer.tryWrite(1, payload, 0, 256) != ChannelWriter.BACK_PRESSURED)
        {
            written++;
        }
        assertTrue(written > 0 && written < 4096 / 256);
        assertEquals(written + 1, writer.nextSequence(), "a refused record takes no sequence");

        // Two reads: the record that wraps needs its own room plus the padding at the ring's end.
        assertEquals(2, reader.poll((t, s, b, o, l) -> Action.CONTINUE, 2));
        assertEquals(written + 1, writer.tryWrite(1, payload, 0, 256), "room again once the reader consumed");
        // A read stops at the ring's end; the wrapped record comes with the next poll.
        int rest = 0;
        int read;
        while ((read = reader.poll((t, s, b, o, l) -> Action.CONTINUE, 100)) > 0)
        {
            rest += read;
        }
        assertEquals(written - 1, rest);
        assertEquals(written + 2, reader.expectedSequence());
    }

    @Test
    void aReaderFromAnySequenceTakesTheFirstAndThenRequiresEachNext()
    {
        // A new primary numbers its records by their place in the log, which goes on from the old primary's.
        final ChannelWriter writer = mailbox.newWriter(0, 1, 41);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
        assertEquals(41, writer.tryWrite(1, payload, 0, 8));
        assertEquals(42, writer.tryWrite(1, payload, 0, 8));
        final ChannelReader reader = mailbox.newReaderFromAnySequence(0, 1);
        final List<Long> sequences = new ArrayList<>();
        assertEquals(2, reader.poll((type, sequence, buffer, offset, length) ->
        {
            sequences.add(sequence);
            return Action.CONTINUE;
        }, 10));
        assertEquals(List.of(41L, 42L), sequences);
        assertEquals(43, reader.expectedSequence());

        final int firstChecksum = reader.lastChecksum();
        final ChannelWriter again = mailbox.newWriter(1, 0, 7);
        again.tryWrite(1, payload, 0, 8);
        final ChannelReader other = mailbox.newReaderFromAnySequence(1, 0);
        other.poll((type, sequence, buffer, offset, length) -> Action.CONTINUE, 1);
        assertNotEquals(firstChecksum, other.lastChecksum(), "the checksum covers the sequence");
        assertThrows(IllegalArgumentException.class, () -> mailbox.newWriter(0, 1, 0));
    }

    @Test
    void abortedRecordStaysForTheNextPoll()
    {
        final ChannelWriter writer = mailbox.newWriter(1, 0);
        final ChannelReader reader = mailbox.newReader(1, 0);
        writer.tryWrite(3, new UnsafeBuffer(new byte[4]), 0, 4);
        assertEquals(0, reader.poll((t, s, b, o, l) -> Action.ABORT, 1));
        assertEquals(1, reader.expectedSequence());
        assertEquals(1, reader.poll((t, s, b, o, l) -> Action.CONTINUE, 1));
    }

    @Test
    void aRecordClaimedButNeverCommittedBlocksTheReaderAndSaysSo()
    {
        final ChannelWriter writer = mailbox.newWriter(0, 1);
        final ChannelReader reader = mailbox.newReader(0, 1);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[64]);
        writer.tryWrite(1, payload, 0, 64);
        assertFalse(reader.blockedByUnfinishedRecord(), "a finished record waits");
        assertEquals(1, reader.poll((t, s, b, o, l) -> Action.CONTINUE, 10));
        assertFalse(reader.blockedByUnfinishedRecord(), "nothing left");
        writer.tryClaim(1, 64); // the writer dies here, before its commit

        assertEquals(0, reader.poll((t, s, b, o, l) -> Action.CONTINUE, 10));
        assertTrue(reader.backlogBytes() > 0);
        assertTrue(reader.blockedByUnfinishedRecord());
    }

    @Test
    void damagedRecordIsNeitherDeliveredNorConsumed()
    {
        final ChannelWriter writer = mailbox.newWriter(0, 1);
        final ChannelReader reader = mailbox.newReader(0, 1);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[64]);
        writer.tryWrite(1, payload, 0, 64);
        final int index = writer.tryClaim(1, 64);
        writer.commit(index);
        // A stray write by a faulty replica lands in the second record's payload after it was published.
        writer.buffer().putByte(index + 10, (byte)0x5A);

        final int[] delivered = {0};
        assertEquals(ChannelReader.CORRUPT, reader.poll((t, s, b, o, l) ->
        {
            delivered[0]++;
            return Action.CONTINUE;
        }, 10));
        assertEquals(1, delivered[0], "only the intact first record was delivered");
        assertTrue(reader.corruption().contains("record 2"), reader.corruption());
        assertTrue(reader.corruption().contains("checksum"), reader.corruption());
        assertEquals(ChannelReader.CORRUPT, reader.poll((t, s, b, o, l) -> Action.CONTINUE, 10));
        assertTrue(reader.backlogBytes() > 0, "the damaged record is still there for inspection");
    }

    @Test
    void misuseIsAnExceptionNotAReturnCode()
    {
        final ChannelWriter writer = mailbox.newWriter(0, 1);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
        assertThrows(IllegalArgumentException.class, () -> writer.tryWrite(0, payload, 0, 8));
        assertThrows(IllegalArgumentException.class, () -> writer.tryClaim(1, writer.maxPayloadLength() + 1));
        assertThrows(IllegalArgumentException.class, () -> mailbox.newWriter(0, 0));
    }
}
