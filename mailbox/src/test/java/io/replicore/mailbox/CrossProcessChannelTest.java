package io.replicore.mailbox;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.ControlledMessageHandler.Action;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two real JVM processes share one region: the writer is a child process, the reader is this test.
 */
class CrossProcessChannelTest
{
    private final ShmFiles files = new ShmFiles();

    @AfterEach
    void removeFiles() throws Exception
    {
        files.close();
    }

    /**
     * Checks each record against what the writer must have sent at that sequence.
     */
    private static final class VerifyingHandler implements ChannelHandler
    {
        long received;
        final int length;

        VerifyingHandler(final int length)
        {
            this.length = length;
        }

        @Override
        public Action onRecord(final int type, final long sequence, final DirectBuffer buffer, final int offset,
            final int length)
        {
            received++;
            if (sequence != received || length != this.length)
            {
                throw new AssertionError("record " + received + " arrived as sequence " + sequence + " of " +
                    length + " bytes");
            }
            for (int i = 0; i < length; i++)
            {
                if (buffer.getByte(offset + i) != ChannelPeer.expectedByte(sequence, i))
                {
                    throw new AssertionError("record " + sequence + " byte " + i + " differs");
                }
            }
            return Action.CONTINUE;
        }
    }

    private static String lastLine(final Process process) throws Exception
    {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream())))
        {
            String line;
            String last = "";
            while ((line = out.readLine()) != null)
            {
                last = line;
            }
            return last;
        }
    }

    @Test
    void millionsOfRecordsCrossWithoutLossDuplicateOrReordering() throws Exception
    {
        final String path = files.newPath();
        final long count = 3_000_000;
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(path).channelCapacity(256 * 1024)))
        {
            final Process writer = ChildJvm.start(ChannelPeer.class, "write", path, "0", "1", "" + count, "40");
            final ChannelReader reader = mailbox.newReader(0, 1);
            final VerifyingHandler handler = new VerifyingHandler(40);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (handler.received < count && System.nanoTime() < deadline)
            {
                assertTrue(reader.poll(handler, 4096) >= 0, reader::corruption);
            }
            assertEquals(count, handler.received);
            assertTrue(lastLine(writer).startsWith("written=" + count));
            assertEquals(0, writer.waitFor());
            assertEquals(0, reader.poll(handler, 1), "nothing after the last record");
        }
    }

    @Test
    void writerBlocksOnAFullRingAndResumesWhenTheReaderCatchesUp() throws Exception
    {
        final String path = files.newPath();
        final long count = 20_000;
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(path).channelCapacity(4096)))
        {
            final Process writer = ChildJvm.start(ChannelPeer.class, "write", path, "1", "0", "" + count, "200");
            final ChannelReader reader = mailbox.newReader(1, 0);
            final VerifyingHandler handler = new VerifyingHandler(200);
            while (handler.received < count)
            {
                // A slow reader: the 4 KiB ring fills up between polls.
                LockSupport.parkNanos(200_000);
                assertTrue(reader.poll(handler, 8) >= 0, reader::corruption);
            }
            final String summary = lastLine(writer);
            assertEquals(0, writer.waitFor());
            final long backPressured = Long.parseLong(summary.substring(summary.indexOf("backpressured=") + 14));
            assertTrue(backPressured > 0, "the writer did meet a full ring: " + summary);
            assertEquals(count, handler.received);
        }
    }

    @Test
    void recordsMakeTheRoundTripThroughAnEchoingProcess() throws Exception
    {
        final String path = files.newPath();
        final long count = 200_000;
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(path).channelCapacity(64 * 1024)))
        {
            final Process echo = ChildJvm.start(ChannelPeer.class, "echo", path, "1", "0", "" + count);
            final ChannelWriter writer = mailbox.newWriter(0, 1);
            final ChannelReader reader = mailbox.newReader(1, 0);
            final VerifyingHandler handler = new VerifyingHandler(100);
            final UnsafeBuffer payload = new UnsafeBuffer(ByteBuffer.allocateDirect(100));
            long sent = 0;
            while (handler.received < count)
            {
                if (sent < count && sent - handler.received < 100)
                {
                    ChannelPeer.fill(payload, 0, 100, sent + 1);
                    if (writer.tryWrite(1, payload, 0, 100) != ChannelWriter.BACK_PRESSURED)
                    {
                        sent++;
                    }
                }
                assertTrue(reader.poll(handler, 64) >= 0, reader::corruption);
            }
            assertEquals("echoed=" + count, lastLine(echo));
            assertEquals(0, echo.waitFor());
        }
    }

    @Test
    void writerKilledMidRecordLeavesNothingTheReaderAccepts() throws Exception
    {
        for (int round = 0; round < 5; round++)
        {
            final String path = files.newPath();
            try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(path).channelCapacity(1 << 20)))
            {
                // Large records filled one byte at a time: most of the writer's life is inside an open claim.
                final Process writer = ChildJvm.start(ChannelPeer.class, "write-slowly", path, "0", "1", "60000");
                final BufferedReader out = new BufferedReader(new InputStreamReader(writer.getInputStream()));
                assertEquals("ready", out.readLine());
                final ChannelReader reader = mailbox.newReader(0, 1);
                final VerifyingHandler handler = new VerifyingHandler(60000);
                final long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
                    200 + ThreadLocalRandom.current().nextInt(300));
                while (System.nanoTime() < until)
                {
                    assertTrue(reader.poll(handler, 16) >= 0, reader::corruption);
                }

                writer.destroyForcibly(); // SIGKILL
                assertTrue(writer.waitFor(10, TimeUnit.SECONDS));
                final long committed = mailbox.slot(0).logSequence();
                for (int i = 0; i < 1000; i++)
                {
                    assertTrue(reader.poll(handler, 16) >= 0, reader::corruption);
                }

                // The writer publishes its slot after the ring, so the ring may hold one record more.
                assertTrue(handler.received == committed || handler.received == committed + 1,
                    "received " + handler.received + " records, writer had committed " + committed);
                assertTrue(committed > 0, "the writer got going before it was killed");
                assertTrue(reader.backlogBytes() > 0 || handler.received == committed + 1 ||
                    mailbox.ring(0, 1).producerPosition() == mailbox.ring(0, 1).consumerPosition(),
                    "an unfinished claim, if any, is left unread");
            }
        }
    }
}
