package io.replicore.mailbox;

import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

/**
 * The other process in the cross-process tests. Modes:
 * <ul>
 *   <li>{@code write PATH FROM TO COUNT LENGTH}: write COUNT records whose bytes follow from their sequence,
 *   waiting out back-pressure; prints {@code written=N backpressured=M}.</li>
 *   <li>{@code write-slowly PATH FROM TO LENGTH}: write forever, filling each claimed record slowly, and publish
 *   the last committed sequence in the writer's slot; for being killed in the middle of a record.</li>
 *   <li>{@code echo PATH FROM TO COUNT}: read COUNT records from FROM and send each back to FROM.</li>
 * </ul>
 */
public final class ChannelPeer
{
    private ChannelPeer()
    {
    }

    public static void main(final String[] args)
    {
        final String mode = args[0];
        final MailboxContext ctx = new MailboxContext().path(args[1]);
        try (Mailbox mailbox = Mailbox.open(ctx))
        {
            final int from = Integer.parseInt(args[2]);
            final int to = Integer.parseInt(args[3]);
            switch (mode)
            {
                case "write" -> write(mailbox, from, to, Long.parseLong(args[4]), Integer.parseInt(args[5]));
                case "write-slowly" -> writeSlowly(mailbox, from, to, Integer.parseInt(args[4]));
                case "echo" -> echo(mailbox, from, to, Long.parseLong(args[4]));
                default -> throw new IllegalArgumentException("unknown mode " + mode);
            }
        }
    }

    /**
     * The payload of record {@code sequence}: its bytes are a function of the sequence, so the reader can tell a
     * lost, repeated or reordered record from the content alone.
     */
    static void fill(final UnsafeBuffer buffer, final int index, final int length, final long sequence)
    {
        for (int i = 0; i < length; i++)
        {
            buffer.putByte(index + i, expectedByte(sequence, i));
        }
    }

    static byte expectedByte(final long sequence, final int i)
    {
        return (byte)(sequence * 31 + i);
    }

    private static void write(final Mailbox mailbox, final int from, final int to, final long count, final int length)
    {
        final ChannelWriter writer = mailbox.newWriter(from, to);
        final UnsafeBuffer payload = new UnsafeBuffer(ByteBuffer.allocateDirect(Math.max(length, 8)));
        long backPressured = 0;
        for (long sequence = 1; sequence <= count; sequence++)
        {
            fill(payload, 0, length, sequence);
            while (writer.tryWrite(1, payload, 0, length) == ChannelWriter.BACK_PRESSURED)
            {
                backPressured++;
                Thread.onSpinWait();
            }
        }
        System.out.println("written=" + count + " backpressured=" + backPressured);
    }

    private static void writeSlowly(final Mailbox mailbox, final int from, final int to, final int length)
    {
        final ChannelWriter writer = mailbox.newWriter(from, to);
        final ReplicaSlot slot = mailbox.slot(from);
        final UnsafeBuffer buffer = (UnsafeBuffer)writer.buffer();
        System.out.println("ready");
        System.out.flush();
        while (true)
        {
            final long sequence = writer.nextSequence();
            final int index = writer.tryClaim(1, length);
            if (index < 0)
            {
                Thread.onSpinWait();
                continue;
            }
            for (int i = 0; i < length; i++)
            {
                buffer.putByteVolatile(index + i, expectedByte(sequence, i));
            }
            writer.commit(index);
            slot.logSequence(sequence);
        }
    }

    private static void echo(final Mailbox mailbox, final int self, final int peer, final long count)
    {
        final ChannelReader reader = mailbox.newReader(peer, self);
        final ChannelWriter writer = mailbox.newWriter(self, peer);
        final long[] echoed = {0};
        while (echoed[0] < count)
        {
            final int read = reader.poll((type, sequence, buffer, offset, length) ->
            {
                if (writer.tryWrite(type, buffer, offset, length) == ChannelWriter.BACK_PRESSURED)
                {
                    return org.agrona.concurrent.ControlledMessageHandler.Action.ABORT;
                }
                echoed[0]++;
                return org.agrona.concurrent.ControlledMessageHandler.Action.CONTINUE;
            }, 64);
            if (read < 0)
            {
                throw new IllegalStateException(reader.corruption());
            }
        }
        System.out.println("echoed=" + echoed[0]);
    }
}
