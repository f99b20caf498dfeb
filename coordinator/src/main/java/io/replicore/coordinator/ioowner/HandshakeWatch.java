package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.logicaltcp.AckGate;
import io.replicore.coordinator.logicaltcp.GatedConnection;
import io.replicore.coordinator.logicaltcp.HeldHandshake;
import io.replicore.coordinator.logicaltcp.TcpConnectionState;
import io.replicore.coordinator.natives.GateCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.replay.LogRecord;
import io.replicore.coordinator.replay.LogSink;
import io.replicore.coordinator.replay.ReplicaStop;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.util.function.Consumer;

/**
 * The primary's half of the {@link AckGate}'s handshakes (kernel partitions): a thread that takes each SYN-ACK the
 * gate held, appends the connection it opens to the log (a CONNECTION record, the {@link TcpConnectionState} the
 * client will know once the SYN-ACK reaches it), admits the connection in the gate, and sends the same SYN-ACK
 * again through a raw socket; the gate lets it pass now. So a client never holds a connection for open that no
 * backup could rebuild, even one the application has not accepted yet.
 */
final class HandshakeWatch implements AutoCloseable
{
    private static final GateCalls CALLS = Native.load(GateCalls.class);
    private static final int WAIT_SLICE_MS = 20;
    private static final int SOCKADDR_IN_LENGTH = 16;
    /** Troubles told one by one in the event log; the rest are only counted in the gate's summary. */
    private static final int TOLD = 3;

    private final AckGate gate;
    private final LogSink log;
    private final Consumer<String> events;
    private final int raw;
    private final HeldHandshake handshake = new HeldHandshake();
    private final TcpConnectionState view = new TcpConnectionState();
    private final UnsafeBuffer state = new UnsafeBuffer(new byte[TcpConnectionState.LENGTH]);
    private final Native.Scratch packet = Native.allocate(HeldHandshake.PACKET_CAPACITY);
    private final Native.Scratch destination = Native.allocate(SOCKADDR_IN_LENGTH);
    private final Thread thread;
    private volatile boolean closing;
    private ReplicaStop stopped;
    private int troubles;

    private HandshakeWatch(final AckGate gate, final LogSink log, final Consumer<String> events, final int raw)
    {
        this.gate = gate;
        this.log = log;
        this.events = events;
        this.raw = raw;
        this.thread = new Thread(this::run, "replicore-handshakes");
        thread.setDaemon(true);
    }

    /**
     * Start watching the gate for the primary whose log is {@code log}.
     */
    static HandshakeWatch start(final AckGate gate, final LogSink log, final Consumer<String> events)
        throws IOException
    {
        final int raw = CALLS.socket(GateCalls.AF_INET, GateCalls.SOCK_RAW | GateCalls.SOCK_CLOEXEC,
            GateCalls.IPPROTO_RAW);
        if (raw < 0)
        {
            throw new IOException("cannot open a raw socket to send held SYN-ACKs: errno " + Native.lastErrno() +
                " (needs CAP_NET_RAW)");
        }
        final HandshakeWatch watch = new HandshakeWatch(gate, log, events, raw);
        watch.thread.start();
        return watch;
    }

    private void run()
    {
        while (!closing && stopped == null)
        {
            if (gate.drainHeld(this::onHeld) == 0)
            {
                gate.awaitHeld(WAIT_SLICE_MS);
            }
        }
    }

    private void onHeld(final UnsafeBuffer buffer, final int offset, final int length)
    {
        if (stopped != null)
        {
            return; // replaced: this replica admits nothing more, and its kernel's SYN-ACKs stay held
        }
        if (length < HeldHandshake.LENGTH)
        {
            tell("the gate's ring gave a record of " + length + " bytes");
            return;
        }
        handshake.wrap(buffer, offset);
        final String malformed = handshake.describe(state, 0);
        final int packetLength = malformed == null ? handshake.packetToSend(packet.buffer(), 0) : -1;
        if (packetLength < 0)
        {
            tell("a SYN-ACK the gate held was dropped: " + (malformed != null ? malformed : "cut short"));
            return;
        }
        try
        {
            log.append(LogRecord.TYPE_CONNECTION, state, 0, TcpConnectionState.LENGTH);
        }
        catch (final ReplicaStop stop)
        {
            stopped = stop;
            return;
        }
        if (!gate.admit(GatedConnection.of(view.wrap(state, 0), 0, false)))
        {
            tell("connection " + view.describe() + " could not be admitted: errno " + Native.lastErrno());
            return;
        }
        final UnsafeBuffer to = destination.buffer();
        to.setMemory(0, SOCKADDR_IN_LENGTH, (byte)0);
        to.putShort(0, (short)GateCalls.AF_INET);
        to.putInt(4, handshake.destination());
        if (CALLS.sendto(raw, packet.pointer(), packetLength, 0, destination.pointer(), SOCKADDR_IN_LENGTH) < 0)
        {
            // The client sends its SYN again and the kernel its SYN-ACK, which now passes.
            tell("the SYN-ACK of " + view.describe() + " could not be sent again: errno " + Native.lastErrno());
        }
    }

    private void tell(final String trouble)
    {
        if (troubles++ < TOLD)
        {
            events.accept(trouble);
        }
    }

    /**
     * Stop watching: SYN-ACKs held from now on stay held.
     */
    @Override
    public void close()
    {
        closing = true;
        try
        {
            thread.join(1_000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        CALLS.close(raw);
    }
}
