package io.replicore.benchmarks;

import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.Mailbox;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

import java.util.concurrent.TimeUnit;

/**
 * One-way throughput of a mailbox channel across processes: the benchmark thread writes records as fast as the
 * ring takes them, spinning on back-pressure, while a {@link MailboxPeer} process drains the same ring.
 * One operation is one record written, so the score is records per second; in steady state the ring is full
 * and the score is the rate at which the slower side, writer or reader, gets through records.
 * <ul>
 *   <li>{@link #channel}: our {@link ChannelWriter}, which adds a sequence and a CRC32C to each record, drained by
 *   a checking {@link io.replicore.mailbox.ChannelReader}.</li>
 *   <li>{@link #bare}: Agrona's {@link OneToOneRingBuffer#write} on the same mapping, drained by
 *   {@link OneToOneRingBuffer#read}: the floor our channel is compared against.</li>
 * </ul>
 * One thread only: each channel has a single writer.
 * Forks, warm-up, measurement and the JVM's options come from {@link MailboxBenchmarkMain}, the only entry point.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
public class MailboxThroughputBenchmark
{
    /**
     * Writer side of our checked channel, with a peer that drains and verifies.
     */
    @State(Scope.Thread)
    public static class ChannelState extends PeerState
    {
        ChannelWriter writer;

        @Override
        String peerMode()
        {
            return MailboxPeer.DRAIN_CHANNEL;
        }

        @Override
        void attach(final Mailbox mailbox)
        {
            writer = mailbox.newWriter(MailboxPeer.BENCH_REPLICA, MailboxPeer.PEER_REPLICA);
        }
    }

    /**
     * Writer side of the bare Agrona ring, with a peer that drains it with Agrona's read.
     */
    @State(Scope.Thread)
    public static class BareState extends PeerState
    {
        OneToOneRingBuffer ring;

        @Override
        String peerMode()
        {
            return MailboxPeer.DRAIN_BARE;
        }

        @Override
        void attach(final Mailbox mailbox)
        {
            ring = mailbox.ring(MailboxPeer.BENCH_REPLICA, MailboxPeer.PEER_REPLICA);
        }
    }

    /**
     * Which side limits the rate: records that found the ring full (the reader is the bottleneck) per second,
     * reported by JMH next to the score; divided by the score it is the fraction of such records. Counted only on
     * the back-pressure path, so it costs nothing while the ring has room.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters
    {
        public long ringFull;

        @Setup(Level.Iteration)
        public void reset()
        {
            ringFull = 0;
        }
    }

    /**
     * @return the record's sequence, consumed by JMH so the write cannot be optimised away.
     */
    @Benchmark
    public long channel(final ChannelState state, final Counters counters)
    {
        final ChannelWriter writer = state.writer;
        long sequence = writer.tryWrite(MailboxPeer.RECORD_TYPE, state.payload, 0, state.size);
        if (sequence == ChannelWriter.BACK_PRESSURED)
        {
            counters.ringFull++;
            while ((sequence = writer.tryWrite(MailboxPeer.RECORD_TYPE, state.payload, 0, state.size)) ==
                ChannelWriter.BACK_PRESSURED)
            {
                // Only while the ring is full: the reader is behind, and a dead reader must not hang the run.
                state.session.checkPeer();
                Thread.onSpinWait();
            }
        }
        return sequence;
    }

    @Benchmark
    public boolean bare(final BareState state, final Counters counters)
    {
        final OneToOneRingBuffer ring = state.ring;
        if (!ring.write(MailboxPeer.RECORD_TYPE, state.payload, 0, state.size))
        {
            counters.ringFull++;
            while (!ring.write(MailboxPeer.RECORD_TYPE, state.payload, 0, state.size))
            {
                state.session.checkPeer();
                Thread.onSpinWait();
            }
        }
        return true;
    }
}
