package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.logicaltcp.TcpConnectionState;
import io.replicore.coordinator.logicaltcp.TcpRepair;
import io.replicore.coordinator.natives.GateCalls;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.replay.LogRecord;
import io.replicore.coordinator.replay.LogSink;
import io.replicore.coordinator.replay.ReplicaStop;
import io.replicore.coordinator.replay.SocketOwner;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import jnr.ffi.Pointer;
import io.replicore.coordinator.logicaltcp.AckGate;
import io.replicore.coordinator.logicaltcp.GatedConnection;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.collections.Int2ObjectHashMap;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The primary's {@link SocketOwner}: hands each socket of each application process to every live backup over its
 * {@link SocketShadowChannel} the first time the primary acts on it in that process, and skips the bytes an old
 * primary had sent. The primary's lanes share it: its bookkeeping is under its monitor; {@link #accept} is not (it
 * may wait for a connection), and the lanes make their accepts one at a time themselves.
 * <p>
 * Between kernel partitions nothing can be handed over: there is no channel and no accept ring, and each accepted
 * connection is described instead ({@link #describeConnection}), its logical TCP state logged with the accept.
 * Behind an {@link AckGate}, a {@link HandshakeWatch} logs each connection the kernel opens before the client hears
 * of it, each connection's cap is raised as its input is logged ({@link #delivered}), and after a takeover the
 * connections the old kernel had opened but the application not accepted are given to its next accepts: a local
 * connection knocks on the listening socket for each, so that the application's readiness wait and accept see it
 * coming, and the accept gets the rebuilt connection in the knock's place.
 */
public final class PrimarySockets implements SocketOwner, AutoCloseable
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int STAT_MODE_OFFSET = 24;
    private static final long REGISTER_WAIT_NS = TimeUnit.SECONDS.toNanos(10);
    private static final long RING_WAIT_NS = TimeUnit.SECONDS.toNanos(2);
    private static final int F_SETFL = 4;
    private static final int O_NONBLOCK = 04000;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_DONTWAIT = 0x40;
    /** Connections looked at per readiness answer; more ready at once are announced at the next one. */
    private static final int ANNOUNCED_AT_ONCE = 64;
    /** Bytes of one connection's input announced per readiness answer, if a log record holds them. */
    private static final int ANNOUNCE_MAX = 16 * 1024;

    private final Mailbox mailbox;
    private final int selfId;
    private final LogSink log;
    private final Consumer<String> events;
    private AcceptRing ring;
    /** Null between kernel partitions. */
    private final SocketShadowChannel channel;
    /** Kernel partitions: reads each accepted connection's state; null otherwise. */
    private final TcpRepair repair;
    /** Kernel partitions: the acknowledgement gate and the watch over its handshakes; null without one. */
    private final AckGate gate;
    private final HandshakeWatch handshakes;
    /** Kernel partitions, after a takeover: rebuilt connections nobody accepted yet, oldest first. */
    private final ArrayDeque<BackupSockets.HeldSocket> openedUnaccepted = new ArrayDeque<>();
    /** The knocks made for them: each one's socket by its local endpoint ({@link ListeningKnock}). */
    private final Long2LongHashMap knocks = new Long2LongHashMap(-1);
    private final ListeningKnock knocker = new ListeningKnock();
    private volatile boolean knocking;
    /** When the knocks were made: each accept that takes a rebuilt connection in a twin's place says how long after. */
    private long knockedAtNs;
    private final TcpConnectionState stateView = new TcpConnectionState();
    /** Announcing input: the own epoll set's events, a peek of a connection's queue, the INPUT record. */
    private final Native.Scratch readable = Native.allocate(GateCalls.EPOLL_EVENT_LENGTH * ANNOUNCED_AT_ONCE);
    private final Native.Scratch announcement;
    private final int announceLimit;
    private final Map<Integer, ProcessSockets> processes = new HashMap<>();
    private int connectionCount;
    private final List<Integer> acceptedUnseen = new ArrayList<>();
    /** Backups whose hold on the accept ring is no longer waited for. */
    private final BitSet ringNotAwaited = new BitSet();
    /** After a takeover: the sockets of processes that have not made a call since. Read without the lock. */
    private volatile SocketTakeover takeovers;
    private final Native.Scratch stat = Native.allocate(144);

    /**
     * The gate's calls, bound at their first use: a primary without a gate (every process partition) pays nothing
     * for them as it starts.
     */
    private static final class GateBinding
    {
        static final GateCalls CALLS = Native.load(GateCalls.class);
    }

    /**
     * What the primary knows of one process's descriptors.
     */
    private static final class ProcessSockets
    {
        final BitSet shared = new BitSet();
        final BitSet notSockets = new BitSet();
        final BitSet files = new BitSet();
        final BitSet connections = new BitSet();
        /** Per descriptor, bytes an old primary sent that the application will write again; null: none. */
        long[] alreadySent;
        /** Kernel partitions with a gate: the connections, as the gate keeps them. */
        final Int2ObjectHashMap<GatedConnection> gated = new Int2ObjectHashMap<>();
        /** The primary's own epoll set over them, each by the application's number: whose input is there. */
        int epoll = -1;
    }

    /**
     * @param log the primary's log: a socket is handed over for the record appended next, and only while this
     * replica is still the primary.
     * @param events where it says how accepts are made and what a takeover did.
     * @param logical true between kernel partitions: the backups get each connection's state in the log instead of
     * the sockets.
     * @param gate kernel partitions: this kernel's acknowledgement gate, whose handshakes this primary logs from
     * now on; null without one.
     */
    public PrimarySockets(final Mailbox mailbox, final int selfId, final LogSink log, final Consumer<String> events,
        final boolean logical, final AckGate gate) throws IOException
    {
        this.mailbox = mailbox;
        this.selfId = selfId;
        this.log = log;
        this.events = events;
        this.gate = logical ? gate : null;
        this.announceLimit = Math.min(ANNOUNCE_MAX,
            mailbox.newWriter(0, 1).maxPayloadLength() - LogRecord.INPUT_BYTES_OFFSET);
        this.announcement = Native.allocate(this.gate == null ? 8 : LogRecord.INPUT_BYTES_OFFSET + 2 * announceLimit);
        if (logical)
        {
            mailbox.slot(selfId).acceptRing(-1);
            events.accept("kernel partition: each connection's TCP state goes in the log with its accept" +
                (gate == null ? "; no acknowledgement gate: a client's bytes or handshake this kernel acknowledged " +
                "before they were logged are lost with it" : ", each handshake before its SYN-ACK leaves, and no " +
                "byte is acknowledged before it is logged"));
            this.channel = null;
            this.repair = new TcpRepair();
            this.handshakes = gate == null ? null : HandshakeWatch.start(gate, log, events);
            return;
        }
        startRing();
        this.channel = SocketShadowChannel.sender();
        this.repair = null;
        this.handshakes = null;
    }

    /**
     * After a takeover: each process's sockets go in place at its first call ({@link #beforeCall}); connections
     * the old primary accepted as it died go to the next accepts.
     */
    public synchronized void adopt(final SocketTakeover takeovers)
    {
        this.takeovers = takeovers;
        acceptedUnseen.addAll(takeovers.acceptedUnseen());
        takeovers.gated().forEach((owner, connections) ->
            connections.forEach((appFd, connection) -> watch(of(owner), appFd, connection)));
        openedUnaccepted.addAll(takeovers.opened());
    }

    /**
     * Kernel partitions, once the service address is here: knock on the listening socket once for each connection
     * opened but not accepted, with a local connection to the address the client reached, so that the application
     * sees a connection coming and accepts; {@link #accept} gives it the rebuilt connection instead of the knock.
     */
    public synchronized void knockForOpened()
    {
        final String[] why = new String[1];
        for (final BackupSockets.HeldSocket connection : openedUnaccepted)
        {
            final int knock = knocker.knock(stateView.wrap(connection.state, 0), why);
            if (knock < 0)
            {
                events.accept("no knock for the connection opened but not accepted " + stateView.describe() + ": " +
                    why[0] + "; it waits for another connection to wake the application's accept");
                continue;
            }
            knocks.put(knocker.localEndpoint(knock), knock);
        }
        knocking = !knocks.isEmpty();
        knockedAtNs = System.nanoTime();
        if (knocking)
        {
            events.accept(knocks.size() + " knocks on the listening sockets for the connections opened but not " +
                "accepted");
        }
    }

    @Override
    public void beforeCall(final int owner, final int hostPid, final SeccompListener listener) throws ReplicaStop
    {
        final SocketTakeover pending = takeovers;
        if (pending == null || !pending.isPending(owner))
        {
            return; // every call but a process's first after a takeover: no lock taken
        }
        synchronized (this)
        {
            if (takeovers == null || !takeovers.isPending(owner))
            {
                return; // another lane took this process over meanwhile
            }
            final SocketTakeover.TakenOver taken = takeovers.takeOver(owner, hostPid, listener);
            final ProcessSockets process = of(owner);
            process.shared.or(taken.sockets());
            process.connections.or(taken.connections());
            connectionCount += taken.connections().cardinality();
            process.alreadySent = taken.alreadySent();
            publishConnections();
            events.accept(taken.report());
            if (takeovers.isDone())
            {
                takeovers = null;
            }
        }
    }

    @Override
    public synchronized int takeAcceptedUnseen()
    {
        return acceptedUnseen.isEmpty() ? -1 : acceptedUnseen.remove(0);
    }

    @Override
    public synchronized boolean isSocket(final int owner, final int appFd)
    {
        final ProcessSockets process = processes.get(owner);
        return appFd >= 0 && process != null && process.shared.get(appFd) && !process.files.get(appFd);
    }

    @Override
    public synchronized void share(final int owner, final int appFd, final int dupFd) throws ReplicaStop
    {
        final ProcessSockets process = of(owner);
        if (appFd < 0 || process.shared.get(appFd) || process.notSockets.get(appFd))
        {
            return;
        }
        if (HOST.fstat(dupFd, stat.pointer()) < 0 || (stat.buffer().getInt(STAT_MODE_OFFSET) & S_IFMT) != S_IFSOCK)
        {
            process.notSockets.set(appFd);
            return;
        }
        handToBackups(owner, appFd, dupFd);
        process.shared.set(appFd);
    }

    @Override
    public synchronized void shareAlways(final int owner, final int appFd, final int dupFd) throws ReplicaStop
    {
        final ProcessSockets process = of(owner);
        process.files.set(appFd);
        handToBackups(owner, appFd, dupFd);
        process.shared.set(appFd);
    }

    private void handToBackups(final int owner, final int appFd, final int dupFd) throws ReplicaStop
    {
        log.checkStillPrimary();
        if (channel == null)
        {
            return; // another kernel's backup cannot hold this kernel's socket: it keeps the logical state
        }
        for (int id = 0; id < mailbox.replicaCount(); id++)
        {
            if (id != selfId)
            {
                handTo(mailbox.slot(id), owner, appFd, dupFd);
            }
        }
    }

    @Override
    public int accept(final int listenDup, final int flags, final Pointer address, final Pointer lengthAddress)
    {
        if (ring != null)
        {
            awaitRingHeld();
            return ring.accept(listenDup, flags, address, lengthAddress);
        }
        final int connection = HOST.accept4(listenDup, address, lengthAddress, flags);
        if (connection < 0)
        {
            return -Native.lastErrno();
        }
        return knocking ? openedInPlaceOfKnock(connection, flags, address, lengthAddress) : connection;
    }

    /**
     * If {@code connection} is one of this primary's knocks, close it and give the oldest connection opened but not
     * accepted instead, with its peer's address and the accept's blocking mode.
     */
    private synchronized int openedInPlaceOfKnock(final int connection, final int flags, final Pointer address,
        final Pointer lengthAddress)
    {
        final long peer = knocker.peerEndpoint(connection);
        final long knock = peer < 0 ? -1 : knocks.remove(peer);
        if (knock < 0 || openedUnaccepted.isEmpty())
        {
            return connection;
        }
        knocking = !knocks.isEmpty();
        HOST.close(connection);
        HOST.close((int)knock);
        final BackupSockets.HeldSocket held = openedUnaccepted.poll();
        final int opened = held.socket;
        HOST.fcntl(opened, F_SETFL, (flags & SOCK_NONBLOCK) != 0 ? O_NONBLOCK : 0);
        events.accept(String.format(Locale.ROOT, "connection %s, opened but not accepted, given to an accept %.3f ms " +
            "after its knock", stateView.wrap(held.state, 0).describe(), (System.nanoTime() - knockedAtNs) / 1e6));
        if (address != null)
        {
            HOST.getpeername(opened, address, lengthAddress);
        }
        return opened;
    }

    /**
     * A connection in the ring survives this primary only for the backups that hold the ring: wait until every
     * live backup says it does (a backup just started borrows it first thing), at most {@link #RING_WAIT_NS} per
     * backup, which is not waited for again.
     */
    private void awaitRingHeld()
    {
        for (int id = 0; id < mailbox.replicaCount(); id++)
        {
            final ReplicaSlot backup = mailbox.slot(id);
            if (id == selfId || ringNotAwaited.get(id) || backup.ringHeld() == log.epoch())
            {
                continue;
            }
            final long deadline = System.nanoTime() + RING_WAIT_NS;
            while (backup.ringHeld() != log.epoch() && (backup.state() == ReplicaState.EMPTY ||
                backup.state().isLive()) && System.nanoTime() - deadline < 0)
            {
                LockSupport.parkNanos(100_000);
            }
            if (backup.ringHeld() == log.epoch())
            {
                continue;
            }
            ringNotAwaited.set(id);
            if (backup.state().isLive())
            {
                events.accept("replica " + id + " did not hold the accept ring within " +
                    TimeUnit.NANOSECONDS.toMillis(RING_WAIT_NS) + " ms: a connection accepted as this primary dies " +
                    "is lost to it");
            }
        }
    }

    /**
     * Make the accept ring and publish it in this replica's slot, where the backups borrow it (pidfd_getfd).
     */
    private void startRing()
    {
        final String[] why = new String[1];
        ring = AcceptRing.create(why);
        if (ring == null)
        {
            mailbox.slot(selfId).acceptRing(-1);
            events.accept("accepts use accept4: a connection accepted as this primary dies, before its hand-over, " +
                "is lost (" + why[0] + ")");
            return;
        }
        mailbox.slot(selfId).acceptRing(ring.fd() + 1);
        events.accept("accepts go through an io_uring accept ring that the backups hold");
    }

    @Override
    public synchronized void shareAccepted(final int connection) throws ReplicaStop
    {
        handToBackups(SocketShadowChannel.ACCEPTED, SocketShadowChannel.ACCEPTED, connection);
        if (ring != null)
        {
            ring.release();
        }
    }

    @Override
    public int describeConnection(final int connection, final MutableDirectBuffer buffer, final int offset)
        throws ReplicaStop
    {
        if (repair == null)
        {
            return 0;
        }
        final String failure;
        synchronized (repair)
        {
            failure = repair.capture(connection, buffer, offset);
        }
        if (failure != null)
        {
            throw new ReplicaStop(-1, "cannot read an accepted connection's TCP state, without which no backup " +
                "could take it over: " + failure);
        }
        return TcpConnectionState.LENGTH;
    }

    @Override
    public synchronized void accepted(final int owner, final int appFd, final int connection, final DirectBuffer state)
    {
        closed(owner, appFd);
        final ProcessSockets process = of(owner);
        process.shared.set(appFd);
        process.connections.set(appFd);
        connectionCount++;
        publishConnections();
        final GatedConnection gated = gate == null || state == null ? null :
            GatedConnection.of(stateView.wrap(state, 0), 0, false);
        if (gated != null)
        {
            // admitted when its handshake was logged: its cap is its base
            gated.socket(HOST.fcntl(connection, F_DUPFD_CLOEXEC, 0));
            watch(process, appFd, gated);
        }
    }

    /**
     * Keep {@code connection}, the application's {@code appFd}, and watch its input in the process's own epoll set.
     */
    private void watch(final ProcessSockets process, final int appFd, final GatedConnection connection)
    {
        process.gated.put(appFd, connection);
        if (process.epoll < 0)
        {
            process.epoll = GateBinding.CALLS.epoll_create1(GateCalls.EPOLL_CLOEXEC);
        }
        final UnsafeBuffer event = readable.buffer();
        event.putInt(0, GateCalls.EPOLLIN);
        event.putLong(GateCalls.EPOLL_EVENT_DATA_OFFSET, appFd);
        if (connection.socket() < 0 || process.epoll < 0 || GateBinding.CALLS.epoll_ctl(process.epoll,
            GateCalls.EPOLL_CTL_ADD, connection.socket(), readable.pointer()) < 0)
        {
            events.accept("connection " + appFd + "'s input cannot be watched (errno " + Native.lastErrno() + "): " +
                "what the application is told of it is logged only as it reads it");
        }
    }

    /**
     * Stop watching {@code connection} and let go of the primary's descriptor of it.
     */
    private void unwatch(final ProcessSockets process, final GatedConnection connection)
    {
        gate.forget(connection);
        if (connection.socket() >= 0)
        {
            GateBinding.CALLS.epoll_ctl(process.epoll, GateCalls.EPOLL_CTL_DEL, connection.socket(), null);
            HOST.close(connection.socket());
        }
    }

    @Override
    public void announceReadable(final int owner) throws ReplicaStop
    {
        if (gate == null)
        {
            return; // no lock taken where there is no gate
        }
        synchronized (log) // the log's monitor before this one, as the accepts take them
        {
            synchronized (this)
            {
                final ProcessSockets process = processes.get(owner);
                final int ready = process == null || process.epoll < 0 ? 0 :
                    GateBinding.CALLS.epoll_wait(process.epoll, readable.pointer(), ANNOUNCED_AT_ONCE, 0);
                for (int i = 0; i < ready; i++)
                {
                    final int appFd = (int)readable.buffer().getLong(i * GateCalls.EPOLL_EVENT_LENGTH +
                        GateCalls.EPOLL_EVENT_DATA_OFFSET);
                    final GatedConnection connection = process.gated.get(appFd);
                    if (connection != null)
                    {
                        announce(owner, appFd, connection);
                    }
                }
            }
        }
    }

    /**
     * Log the input of {@code connection} beyond what is logged already, as much as one record holds, and let the
     * kernel acknowledge it.
     */
    private void announce(final int owner, final int appFd, final GatedConnection connection) throws ReplicaStop
    {
        final long unread = connection.unread();
        if (unread >= announceLimit)
        {
            return; // a record's worth announced and not read yet: more once the application has read it
        }
        // the queue starts with the bytes logged and not read yet, which are skipped
        final UnsafeBuffer record = announcement.buffer();
        final long peeked = HOST.recvfrom(connection.socket(), announcement.at(LogRecord.INPUT_BYTES_OFFSET),
            unread + announceLimit, MSG_PEEK | MSG_DONTWAIT, null, null);
        if (peeked <= unread)
        {
            return; // nothing new, the end of the input (the FIN is logged as it is read), or an error
        }
        final int fresh = (int)Math.min(peeked - unread, announceLimit);
        if (unread > 0)
        {
            final byte[] moved = new byte[fresh];
            record.getBytes(LogRecord.INPUT_BYTES_OFFSET + (int)unread, moved);
            record.putBytes(LogRecord.INPUT_BYTES_OFFSET, moved);
        }
        record.putInt(LogRecord.INPUT_OWNER_OFFSET, owner);
        record.putInt(LogRecord.INPUT_DESCRIPTOR_OFFSET, appFd);
        record.putInt(LogRecord.INPUT_LENGTH_OFFSET, fresh);
        record.putInt(LogRecord.INPUT_LENGTH_OFFSET + 4, 0);
        log.append(LogRecord.TYPE_INPUT, record, 0, LogRecord.INPUT_BYTES_OFFSET + fresh);
        connection.announced(fresh);
        if (!gate.admit(connection))
        {
            events.accept("the acknowledgement gate could not be raised for descriptor " + appFd + " of process " +
                owner + ": errno " + Native.lastErrno() + "; its client waits for acknowledgements");
        }
    }

    @Override
    public void delivered(final int owner, final int appFd, final long bytes, final boolean end)
    {
        if (gate == null)
        {
            return; // no lock taken where there is no gate
        }
        synchronized (this)
        {
            final ProcessSockets process = processes.get(owner);
            final GatedConnection gated = process == null ? null : process.gated.get(appFd);
            if (gated == null)
            {
                return;
            }
            gated.delivered(bytes, end);
            if (!gate.admit(gated))
            {
                events.accept("the acknowledgement gate could not be raised for descriptor " + appFd + " of process " +
                    owner + ": errno " + Native.lastErrno() + "; its client waits for acknowledgements");
            }
        }
    }

    private void publishConnections()
    {
        mailbox.slot(selfId).connections(connectionCount);
    }

    private void handTo(final ReplicaSlot backup, final int owner, final int appFd, final int dupFd)
        throws ReplicaStop
    {
        final long deadline = System.nanoTime() + REGISTER_WAIT_NS;
        // A backup still starting binds its channel before it registers: wait for it rather than leave it behind.
        while (backup.state() == ReplicaState.EMPTY && System.nanoTime() - deadline < 0)
        {
            LockSupport.parkNanos(100_000);
        }
        if (!backup.state().isLive())
        {
            return;
        }
        final int rc = channel.send(mailbox.runId(), backup.replicaId(), owner, appFd, log.epoch(),
            log.lastSequence() + 1, dupFd);
        if (rc < 0 && backup.state().isLive())
        {
            // A primary frozen between its epoch check and the send, and thawed after its successor closed the
            // channel, has been replaced: it is fenced, not failed.
            log.checkStillPrimary();
            throw new ReplicaStop(-1, "cannot hand socket " + appFd + " of process " + owner + " to replica " +
                backup.replicaId() + ": errno " + -rc + "; it could not take the connection over");
        }
    }

    @Override
    public synchronized int trackedLimit(final int owner)
    {
        final ProcessSockets process = processes.get(owner);
        return process == null ? 0 :
            Math.max(Math.max(process.shared.length(), process.notSockets.length()), process.files.length());
    }

    @Override
    public synchronized void closed(final int owner, final int appFd)
    {
        final ProcessSockets process = processes.get(owner);
        if (appFd < 0 || process == null)
        {
            return;
        }
        if (process.connections.get(appFd))
        {
            process.connections.clear(appFd);
            connectionCount--;
            publishConnections();
        }
        final GatedConnection gated = process.gated.remove(appFd);
        if (gated != null)
        {
            unwatch(process, gated);
        }
        process.shared.clear(appFd);
        process.notSockets.clear(appFd);
        process.files.clear(appFd);
        if (process.alreadySent != null && appFd < process.alreadySent.length)
        {
            process.alreadySent[appFd] = 0;
        }
    }

    @Override
    public synchronized void ended(final int owner)
    {
        final ProcessSockets process = processes.remove(owner);
        if (process != null)
        {
            connectionCount -= process.connections.cardinality();
            publishConnections();
            process.gated.values().forEach(connection -> unwatch(process, connection));
            if (process.epoll >= 0)
            {
                HOST.close(process.epoll);
            }
        }
    }

    @Override
    public synchronized long alreadySent(final int owner, final int appFd, final long count)
    {
        final ProcessSockets process = processes.get(owner);
        final long[] sent = process == null ? null : process.alreadySent;
        if (sent == null || appFd >= sent.length || sent[appFd] == 0)
        {
            return 0;
        }
        final long skip = Math.min(sent[appFd], count);
        sent[appFd] -= skip;
        return skip;
    }

    private ProcessSockets of(final int owner)
    {
        return processes.computeIfAbsent(owner, unused -> new ProcessSockets());
    }

    @Override
    public void close() throws IOException
    {
        if (handshakes != null)
        {
            handshakes.close();
            events.accept(gate.summary());
        }
        if (ring != null)
        {
            mailbox.slot(selfId).acceptRing(0);
            ring.close();
        }
        synchronized (this)
        {
            acceptedUnseen.forEach(HOST::close);
            openedUnaccepted.forEach(opened -> HOST.close(opened.socket));
            knocks.forEachLong((endpoint, knock) -> HOST.close((int)knock));
            if (takeovers != null)
            {
                takeovers.close();
            }
        }
        if (channel != null)
        {
            channel.close();
        }
    }
}
