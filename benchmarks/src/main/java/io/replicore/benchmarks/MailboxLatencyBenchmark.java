package io.replicore.benchmarks;

import io.replicore.mailbox.ChannelHandler;
import io.replicore.mailbox.ChannelReader;
import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.Mailbox;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.IterationParams;

import java.util.concurrent.TimeUnit;

/**
 * Round-trip latency of a mailbox channel across processes: send one record, a {@link MailboxPeer} process
 * echoes it on the reverse channel, wait until it is back. One operation is one round trip; JMH's score is
 * the mean, and every round trip also goes into an HdrHistogram ({@link RoundTripRecorder}) for the
 * percentiles. With one record in flight the loop is closed, so there is no coordinated omission to correct:
 * a slow round trip delays the next send and is itself recorded.
 * <ul>
 *   <li>{@link #channel}: our {@link ChannelWriter} and checking {@link ChannelReader} both ways.</li>
 *   <li>{@link #bare}: Agrona's {@link OneToOneRingBuffer#write} and {@link OneToOneRingBuffer#read} both ways.</li>
 * </ul>
 * The timestamps ({@link System#nanoTime}, tens of nanoseconds) are inside the measured time of both kinds alike.
 * Forks, warm-up, measurement and the JVM's options come from {@link MailboxBenchmarkMain}, the only entry point.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Threads(1)
public class MailboxLatencyBenchmark
{
    /** Spins between two checks that the peer is still there while waiting for an echo. */
    private static final int PEER_CHECK_MASK = (1 << 16) - 1;

    /**
     * Both kinds record every round trip for the percentiles, and dump the histogram when the trial ends.
     */
    public abstract static class EchoState extends PeerState
    {
        final RoundTripRecorder recorder = new RoundTripRecorder();

        /**
         * @return "channel" or "bare", as the CSV and the histogram files name the kind.
         */
        abstract String kind();

        @Setup(Level.Iteration)
        public void startIteration(final IterationParams params)
        {
            recorder.startIteration(params);
        }

        @Override
        void closed()
        {
            recorder.dump(kind(), size);
        }
    }

    /**
     * Our checked channel both ways, with a peer that echoes through a {@link ChannelReader} and
     * {@link ChannelWriter}.
     */
    @State(Scope.Thread)
    public static class ChannelState extends EchoState
    {
        final ChannelHandler onEcho = (type, sequence, buffer, offset, length) ->
            ControlledMessageHandler.Action.CONTINUE;
        ChannelWriter writer;
        ChannelReader reader;

        @Override
        String peerMode()
        {
            return MailboxPeer.ECHO_CHANNEL;
        }

        @Override
        String kind()
        {
            return "channel";
        }

        @Override
        void attach(final Mailbox mailbox)
        {
            writer = mailbox.newWriter(MailboxPeer.BENCH_REPLICA, MailboxPeer.PEER_REPLICA);
            reader = mailbox.newReader(MailboxPeer.PEER_REPLICA, MailboxPeer.BENCH_REPLICA);
        }
    }

    /**
     * The bare Agrona rings both ways, with a peer that echoes with Agrona's read and write.
     */
    @State(Scope.Thread)
    public static class BareState extends EchoState
    {
        final MessageHandler onEcho = (type, buffer, index, length) ->
        {
        };
        OneToOneRingBuffer ring;
        OneToOneRingBuffer reverse;

        @Override
        String peerMode()
        {
            return MailboxPeer.ECHO_BARE;
        }

        @Override
        String kind()
        {
            return "bare";
        }

        @Override
        void attach(final Mailbox mailbox)
        {
            ring = mailbox.ring(MailboxPeer.BENCH_REPLICA, MailboxPeer.PEER_REPLICA);
            reverse = mailbox.ring(MailboxPeer.PEER_REPLICA, MailboxPeer.BENCH_REPLICA);
        }
    }

    /**
     * @return the round trip in nanoseconds, consumed by JMH.
     */
    @Benchmark
    public long channel(final ChannelState state)
    {
        final long start = System.nanoTime();
        // One record in flight: the ring is never full, the loop is there for form.
        while (state.writer.tryWrite(MailboxPeer.RECORD_TYPE, state.payload, 0, state.size) ==
            ChannelWriter.BACK_PRESSURED)
        {
            Thread.onSpinWait();
        }
        int read;
        int spins = 0;
        while ((read = state.reader.poll(state.onEcho, 1)) == 0)
        {
            if ((++spins & PEER_CHECK_MASK) == 0)
            {
                state.session.checkPeer();
            }
            Thread.onSpinWait();
        }
        if (read == ChannelReader.CORRUPT)
        {
            throw new IllegalStateException("echo corrupt: " + state.reader.corruption());
        }
        final long roundTripNs = System.nanoTime() - start;
        state.recorder.record(roundTripNs);
        return roundTripNs;
    }

    @Benchmark
    public long bare(final BareState state)
    {
        final long start = System.nanoTime();
        while (!state.ring.write(MailboxPeer.RECORD_TYPE, state.payload, 0, state.size))
        {
            Thread.onSpinWait();
        }
        int spins = 0;
        while (state.reverse.read(state.onEcho, 1) == 0)
        {
            if ((++spins & PEER_CHECK_MASK) == 0)
            {
                state.session.checkPeer();
            }
            Thread.onSpinWait();
        }
        final long roundTripNs = System.nanoTime() - start;
        state.recorder.record(roundTripNs);
        return roundTripNs;
    }
}
