package io.replicore.benchmarks;

import io.replicore.mailbox.ChannelHandler;
import io.replicore.mailbox.ChannelReader;
import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntSupplier;

/**
 * The other end of the benchmarked channel: a separate JVM process that maps the same mailbox, so that every
 * record really crosses from one process (and core) to another through shared memory.
 * <p>
 * Usage: {@code MailboxPeer MODE PATH RUN_ID_HEX}. The benchmark is replica {@link #BENCH_REPLICA} and writes on
 * the channel to the peer, replica {@link #PEER_REPLICA}; echoes come back on the reverse channel. Modes:
 * <ul>
 *   <li>{@code drain-channel}: read with a {@link ChannelReader}, which checks every record's sequence and CRC32C,
 *   and copy each payload out; the copy is the same in both drains, so the difference is the channel's own.</li>
 *   <li>{@code drain-bare}: read the same ring with Agrona's {@link OneToOneRingBuffer#read}, no checks, and copy
 *   each payload out.</li>
 *   <li>{@code echo-channel}: send every record back unchanged with a {@link ChannelWriter}.</li>
 *   <li>{@code echo-bare}: send every record back with Agrona's {@link OneToOneRingBuffer#write}.</li>
 * </ul>
 * The peer tells it is ready by setting the service state to {@link ControlBlock#SERVICE_RUNNING}, and sets it to
 * {@link ControlBlock#SERVICE_STOPPED} whenever it leaves, so the benchmark never spins on a dead peer. It stops
 * when {@link #STOP_COMMAND} is posted in the control block (answering with the command result), or by itself
 * when the benchmark process that created the mailbox is gone, removing the file that process left behind.
 * Both are checked only while the peer has nothing to read, so they cost nothing on the measured path.
 */
public final class MailboxPeer
{
    /** The replica id the benchmark plays: it writes records. */
    public static final int BENCH_REPLICA = 0;
    /** The replica id the peer plays: it drains or echoes them. */
    public static final int PEER_REPLICA = 1;
    /** Record type of every benchmark record (a channel record type must be positive). */
    public static final int RECORD_TYPE = 1;
    /** Admin command, private to the benchmark's own mailbox, that ends the peer. */
    public static final int STOP_COMMAND = 0xBE57;

    public static final String DRAIN_CHANNEL = "drain-channel";
    public static final String DRAIN_BARE = "drain-bare";
    public static final String ECHO_CHANNEL = "echo-channel";
    public static final String ECHO_BARE = "echo-bare";

    public static final int EXIT_OK = 0;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_CORRUPT = 3;
    public static final int EXIT_ORPHANED = 4;

    /** Records taken per poll: the same for both kinds, so batching does not favour either. */
    private static final int POLL_LIMIT = 1024;
    /** Idle polls between two checks that the benchmark process is still there. */
    private static final int ORPHAN_CHECK_MASK = (1 << 16) - 1;

    private final Mailbox mailbox;
    private final ControlBlock control;
    private final ProcessHandle creator;
    /**
     * Where a drain copies each payload, as a backup copies each record it replays: a consumer that never reads
     * the bytes would make the bare ring look cheaper than any real use of it.
     */
    private final UnsafeBuffer consumed = new UnsafeBuffer(new byte[MailboxContext.DEFAULT_CHANNEL_CAPACITY]);
    private int idlePolls;

    private MailboxPeer(final Mailbox mailbox)
    {
        this.mailbox = mailbox;
        this.control = mailbox.control();
        this.creator = ProcessHandle.of(mailbox.creatorPid()).orElse(null);
    }

    public static void main(final String[] args)
    {
        if (args.length != 3)
        {
            System.err.println("usage: MailboxPeer drain-channel|drain-bare|echo-channel|echo-bare PATH RUN_ID_HEX");
            System.exit(EXIT_USAGE);
        }
        final String mode = args[0];
        final MailboxContext ctx = new MailboxContext()
            .path(args[1])
            .expectedRunId(Long.parseUnsignedLong(args[2], 16));
        final int status;
        try (Mailbox mailbox = Mailbox.open(ctx))
        {
            final MailboxPeer peer = new MailboxPeer(mailbox);
            try
            {
                status = switch (mode)
                {
                    case DRAIN_CHANNEL -> peer.drainChannel();
                    case DRAIN_BARE -> peer.drainBare();
                    case ECHO_CHANNEL -> peer.echoChannel();
                    case ECHO_BARE -> peer.echoBare();
                    default ->
                    {
                        System.err.println("MailboxPeer: unknown mode " + mode);
                        yield EXIT_USAGE;
                    }
                };
            }
            finally
            {
                peer.control.serviceState(ControlBlock.SERVICE_STOPPED);
            }
        }
        System.exit(status);
    }

    private int drainChannel()
    {
        final ChannelReader reader = mailbox.newReader(BENCH_REPLICA, PEER_REPLICA);
        final ChannelHandler handler = (type, sequence, buffer, offset, length) ->
        {
            consumed.putBytes(0, buffer, offset, length);
            return ControlledMessageHandler.Action.CONTINUE;
        };
        return serve(() -> reader.poll(handler, POLL_LIMIT), reader);
    }

    private int drainBare()
    {
        final OneToOneRingBuffer ring = mailbox.ring(BENCH_REPLICA, PEER_REPLICA);
        final MessageHandler handler = (type, buffer, index, length) -> consumed.putBytes(0, buffer, index, length);
        return serve(() -> ring.read(handler, POLL_LIMIT), null);
    }

    private int echoChannel()
    {
        final ChannelReader reader = mailbox.newReader(BENCH_REPLICA, PEER_REPLICA);
        final ChannelWriter writer = mailbox.newWriter(PEER_REPLICA, BENCH_REPLICA);
        // ABORT leaves the record to be echoed on the next poll; with one record in flight it never happens.
        final ChannelHandler handler = (type, sequence, buffer, offset, length) ->
            writer.tryWrite(type, buffer, offset, length) == ChannelWriter.BACK_PRESSURED ?
            ControlledMessageHandler.Action.ABORT : ControlledMessageHandler.Action.CONTINUE;
        return serve(() -> reader.poll(handler, POLL_LIMIT), reader);
    }

    private int echoBare()
    {
        final OneToOneRingBuffer ring = mailbox.ring(BENCH_REPLICA, PEER_REPLICA);
        final OneToOneRingBuffer reverse = mailbox.ring(PEER_REPLICA, BENCH_REPLICA);
        final MessageHandler handler = (type, buffer, index, length) ->
        {
            while (!reverse.write(type, buffer, index, length))
            {
                Thread.onSpinWait();
            }
        };
        return serve(() -> ring.read(handler, POLL_LIMIT), null);
    }

    /**
     * Poll until told to stop. A peer process runs one mode only, so {@code poll} stays monomorphic.
     *
     * @param poll records taken by one poll, or {@link ChannelReader#CORRUPT}.
     * @param checked the reader behind {@code poll} that can report corruption, or null for the bare ring.
     * @return the exit status.
     */
    private int serve(final IntSupplier poll, final ChannelReader checked)
    {
        ready();
        while (true)
        {
            final int read = poll.getAsInt();
            if (read == ChannelReader.CORRUPT && checked != null)
            {
                return corrupt(checked);
            }
            if (read == 0)
            {
                final int status = idle();
                if (status >= 0)
                {
                    return status;
                }
            }
        }
    }

    private void ready()
    {
        control.serviceState(ControlBlock.SERVICE_RUNNING);
    }

    /**
     * Called when a poll found nothing.
     *
     * @return the exit status if the peer must stop now, otherwise -1.
     */
    private int idle()
    {
        final long command = control.commandWord();
        if (ControlBlock.commandOf(command) == STOP_COMMAND)
        {
            control.commandResult(ControlBlock.commandSequenceOf(command), EXIT_OK);
            return EXIT_OK;
        }
        if ((++idlePolls & ORPHAN_CHECK_MASK) == 0 && (creator == null || !creator.isAlive()))
        {
            // The benchmark JVM died without its tear-down (killed, crashed): nobody else will remove the file.
            System.err.println("MailboxPeer: the benchmark process " + mailbox.creatorPid() + " is gone; removing " +
                mailbox.path());
            deleteQuietly(mailbox.path());
            return EXIT_ORPHANED;
        }
        Thread.onSpinWait();
        return -1;
    }

    private static void deleteQuietly(final String path)
    {
        try
        {
            Files.deleteIfExists(Path.of(path));
        }
        catch (final IOException ex)
        {
            System.err.println("MailboxPeer: cannot remove " + path + ": " + ex.getMessage());
        }
    }

    private int corrupt(final ChannelReader reader)
    {
        System.err.println("MailboxPeer: channel corrupt: " + reader.corruption());
        return EXIT_CORRUPT;
    }
}
