package io.replicore.qemutests;

import io.replicore.mailbox.ChannelHandler;
import io.replicore.mailbox.ChannelReader;
import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.PciMailboxLocator;
import io.replicore.mailbox.ReplicaSlot;
import org.HdrHistogram.Histogram;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Runs in a replica kernel (bin/rig's default job and the rig's tests): opens the ivshmem mailbox by its PCI name
 * with the project's mailbox code, registers in its replica slot (pid, partition id = replica id) and beats,
 * writes {@code count} records to every peer's channel and reads as many from each peer, checking their text.
 * Prints what it did, one fact a line, for the host to check; exits 0 when every record arrived in order.
 * <p>
 * With {@code ROUND_TRIPS}, the replicas then measure the channels' round trip: replica 0 writes a record to each
 * peer in turn and waits for the peer's answer, {@value #WARM_UP_ROUND_TRIPS} times unrecorded (both JVMs compile
 * the loop meanwhile), then {@code ROUND_TRIPS} times recorded, and prints min, median, p99 and max; every other
 * replica answers replica 0's records. Both sides spin, as the mailbox benchmark's do; one record is in flight, so a
 * slow round trip delays the next one and is itself recorded.
 * <pre>
 *   GuestMailboxCheck ID [COUNT [MAILBOX [ROUND_TRIPS]]]      MAILBOX defaults to pci:1af4:1110
 * </pre>
 */
public final class GuestMailboxCheck
{
    static final int RECORD_TYPE = 7;
    static final int ROUND_TRIP_TYPE = 8;
    static final int WARM_UP_ROUND_TRIPS = 100;
    private static final long TIMEOUT_MS = TimeUnit.SECONDS.toMillis(120);
    /** Anything slower is recorded as this: a round trip of seconds is a descheduled guest, not a channel. */
    private static final long HIGHEST_TRACKABLE_NS = TimeUnit.SECONDS.toNanos(10);
    /** Spins between two looks at the clock while waiting for a round trip's record. */
    private static final int CLOCK_CHECK_MASK = (1 << 10) - 1;

    private GuestMailboxCheck()
    {
    }

    /** The text replica {@code from} sends to {@code to} as record {@code n}. */
    public static String record(final int from, final int to, final int n)
    {
        return "record " + n + " from replica-" + from + " to replica-" + to;
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length < 1)
        {
            System.err.println("usage: GuestMailboxCheck ID [COUNT [MAILBOX [ROUND_TRIPS]]]");
            System.exit(2);
        }
        final int id = Integer.parseInt(args[0]);
        final int count = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        final String name = args.length > 2 ? args[2] : PciMailboxLocator.IVSHMEM;
        final int roundTrips = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        final String host = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        final long pid = ProcessHandle.current().pid();

        if (PciMailboxLocator.isPciName(name))
        {
            System.out.println("resource: " + new PciMailboxLocator().locate(name));
        }
        try (Mailbox box = Mailbox.open(new MailboxContext().path(name)))
        {
            System.out.println("opened: run " + Long.toHexString(box.runId()) + " replicas " + box.replicaCount() +
                " total " + box.totalLength() + " epoch " + box.control().epoch() + " primary " +
                box.control().primaryId());
            final ReplicaSlot slot = box.slot(id);
            slot.register((int)pid, id, System.currentTimeMillis());
            slot.beat(System.nanoTime());
            System.out.println("registered: replica " + id + " pid " + pid + " host " + host);

            // One writer and one reader per channel for the whole run: each counts its channel's sequence.
            final ChannelWriter[] writers = new ChannelWriter[box.replicaCount()];
            final ChannelReader[] readers = new ChannelReader[box.replicaCount()];
            for (int peer = 0; peer < box.replicaCount(); peer++)
            {
                if (peer != id)
                {
                    writers[peer] = box.newWriter(id, peer);
                    readers[peer] = box.newReader(peer, id);
                }
            }
            final UnsafeBuffer bytes = new UnsafeBuffer(new byte[256]);
            for (int peer = 0; peer < box.replicaCount(); peer++)
            {
                if (peer == id)
                {
                    continue;
                }
                final ChannelWriter writer = writers[peer];
                for (int n = 1; n <= count; n++)
                {
                    final int length = bytes.putStringWithoutLengthAscii(0, record(id, peer, n));
                    while (writer.tryWrite(RECORD_TYPE, bytes, 0, length) == ChannelWriter.BACK_PRESSURED)
                    {
                        Thread.onSpinWait();
                    }
                }
                System.out.println("sent: " + count + " records to replica-" + peer);
            }

            boolean ok = true;
            for (int peer = 0; peer < box.replicaCount(); peer++)
            {
                if (peer == id)
                {
                    continue;
                }
                ok &= receive(readers[peer], slot, peer, id, count);
            }
            slot.beat(System.nanoTime());
            System.out.println(ok ? "check: ok" : "check: FAILED");
            if (ok && roundTrips > 0)
            {
                for (int peer = 1; peer < box.replicaCount(); peer++)
                {
                    if (id == 0)
                    {
                        ok &= measureRoundTrips(writers[peer], readers[peer], peer, roundTrips);
                    }
                    else if (id == peer)
                    {
                        ok &= answerRoundTrips(writers[0], readers[0], roundTrips);
                    }
                }
            }
            System.exit(ok ? 0 : 1);
        }
    }

    /** Replica 0's side: {@code roundTrips} records to {@code peer}, each waiting for its answer. */
    private static boolean measureRoundTrips(final ChannelWriter writer, final ChannelReader reader, final int peer,
        final int roundTrips)
    {
        final UnsafeBuffer round = new UnsafeBuffer(new byte[Long.BYTES]);
        final long[] answered = {Long.MIN_VALUE};
        final ChannelHandler onAnswer = (type, sequence, buffer, offset, length) ->
        {
            answered[0] = type == ROUND_TRIP_TYPE && length == Long.BYTES ? buffer.getLong(offset) : Long.MIN_VALUE;
            return ControlledMessageHandler.Action.CONTINUE;
        };
        final Histogram histogram = new Histogram(HIGHEST_TRACKABLE_NS, 3);
        for (int n = -WARM_UP_ROUND_TRIPS; n < roundTrips; n++)
        {
            round.putLong(0, n);
            final long start = System.nanoTime();
            write(writer, round, 0, Long.BYTES);
            if (!await(reader, onAnswer, "the answer to round trip " + n + " from replica-" + peer))
            {
                return false;
            }
            final long roundTripNs = System.nanoTime() - start;
            if (answered[0] != n)
            {
                System.out.println("round trips: FAILED, replica-" + peer + " answered " + answered[0] + " to " + n);
                return false;
            }
            if (n >= 0)
            {
                histogram.recordValue(Math.min(roundTripNs, HIGHEST_TRACKABLE_NS));
            }
        }
        // One println, one write: the host reads the line as it appears.
        System.out.println(String.format("round trips: %d to replica-%d (after %d unrecorded): min %.1f us, " +
            "median %.1f us, p99 %.1f us, max %.1f us", histogram.getTotalCount(), peer, WARM_UP_ROUND_TRIPS,
            histogram.getMinValue() / 1000.0, histogram.getValueAtPercentile(50) / 1000.0,
            histogram.getValueAtPercentile(99) / 1000.0, histogram.getMaxValue() / 1000.0));
        return true;
    }

    /** A peer's side: write every round trip's record from replica 0 back to it. */
    private static boolean answerRoundTrips(final ChannelWriter writer, final ChannelReader reader,
        final int roundTrips)
    {
        final ChannelHandler answer = (type, sequence, buffer, offset, length) ->
        {
            write(writer, buffer, offset, length);
            return ControlledMessageHandler.Action.CONTINUE;
        };
        for (int n = -WARM_UP_ROUND_TRIPS; n < roundTrips; n++)
        {
            if (!await(reader, answer, "round trip " + n + " from replica-0"))
            {
                return false;
            }
        }
        System.out.println("answered: " + (WARM_UP_ROUND_TRIPS + roundTrips) + " round trips from replica-0");
        return true;
    }

    private static void write(final ChannelWriter writer, final DirectBuffer buffer, final int offset,
        final int length)
    {
        while (writer.tryWrite(ROUND_TRIP_TYPE, buffer, offset, length) == ChannelWriter.BACK_PRESSURED)
        {
            Thread.onSpinWait();
        }
    }

    /** Spin until one record is read into {@code handler}; false, said why, when it is corrupt or late. */
    private static boolean await(final ChannelReader reader, final ChannelHandler handler, final String what)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
        int spins = 0;
        int polled;
        while ((polled = reader.poll(handler, 1)) == 0)
        {
            if ((++spins & CLOCK_CHECK_MASK) == 0 && System.nanoTime() > deadline)
            {
                System.out.println("round trips: FAILED, no " + what + " within " + TIMEOUT_MS + " ms");
                return false;
            }
            Thread.onSpinWait();
        }
        if (polled == ChannelReader.CORRUPT)
        {
            System.out.println("round trips: FAILED, corrupt: " + reader.corruption());
            return false;
        }
        return true;
    }

    private static boolean receive(final ChannelReader reader, final ReplicaSlot slot, final int from, final int to,
        final int count) throws InterruptedException
    {
        final int[] received = {0};
        final boolean[] ok = {true};
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
        while (received[0] < count)
        {
            final int polled = reader.poll((type, sequence, buffer, offset, length) ->
            {
                final String text = buffer.getStringWithoutLengthAscii(offset, length);
                final String expected = record(from, to, received[0] + 1);
                System.out.println("received: " + text + " (sequence " + sequence + ")");
                ok[0] &= text.equals(expected) && type == RECORD_TYPE;
                received[0]++;
                return ControlledMessageHandler.Action.CONTINUE;
            }, count - received[0]);
            if (polled == ChannelReader.CORRUPT)
            {
                System.out.println("corrupt: " + reader.corruption());
                return false;
            }
            if (polled == 0)
            {
                if (System.nanoTime() > deadline)
                {
                    System.out.println("timeout: " + received[0] + " of " + count + " records from replica-" + from);
                    return false;
                }
                slot.beat(System.nanoTime());
                Thread.sleep(5);
            }
        }
        return ok[0];
    }
}
