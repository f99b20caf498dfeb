package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.intercept.DescriptorFlags;
import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.logicaltcp.AckGate;
import io.replicore.coordinator.logicaltcp.GatedConnection;
import io.replicore.coordinator.logicaltcp.TcpConnectionState;
import io.replicore.coordinator.logicaltcp.TcpRepair;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.replay.ReplicaStop;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A new primary takes the application's sockets over. Once, as it takes over ({@link #prepare}):
 * <ol>
 *   <li>keeps for the next accepts the connections the old primary accepted as it died, handed over or still in a
 *   slot of its {@link AcceptRing};</li>
 *   <li>takes from the backup's hold every socket handed over, by process.</li>
 * </ol>
 * Then, for each process, during the first call it makes to the new primary ({@link #takeOver}), since a descriptor
 * can be put in a process only while it is in a call:
 * <ol>
 *   <li>notes the process's epoll registrations of its stand-in sockets and their descriptor flags;</li>
 *   <li>puts each real socket at its number in place of the stand-in (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD);</li>
 *   <li>lines each connection's kernel state up with the log (logical TCP): bytes the log delivered to the
 *   application but still queued in the kernel, because the old primary died between logging and consuming them,
 *   are consumed now; bytes the kernel took from the old primary beyond what the log says the application wrote
 *   are reported, so the new primary does not send them twice;</li>
 *   <li>registers the real sockets in the process's epoll sets again ({@link Rearm}: a registration is keyed by the
 *   number in the table of the process that makes it, so a helper borrows each socket at that number).</li>
 * </ol>
 * Between kernel partitions there is nothing to take: the sockets are made first, in this kernel, from what the
 * backup kept ({@link BackupSockets}): each connection rebuilt with TCP_REPAIR ({@link TcpRepair}), each listening
 * socket made again from its {@link SocketRecipe}, with the file status flags of the stand-in it replaces. The
 * kernel's state is then the log's by construction, so there is nothing to line up.
 */
public final class SocketTakeover implements AutoCloseable
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_INFO = 11;
    private static final int TCP_INFO_LENGTH = 232;
    private static final int TCPI_STATE_OFFSET = 0;
    private static final int TCP_ESTABLISHED = 1;
    private static final int TCPI_BYTES_ACKED_OFFSET = 120;
    private static final int TCPI_BYTES_RECEIVED_OFFSET = 128;
    private static final long SIOCINQ = 0x541B;
    private static final long SIOCOUTQ = 0x5411;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int STAT_INO_OFFSET = 8;
    private static final int F_SETFL = 4;
    private static final int F_DUPFD_CLOEXEC = 1030;
    /** Rebuilt connections described one by one in the event log; the rest are counted. */
    private static final int DETAILED_CONNECTIONS = 3;

    private final Native.Scratch info = Native.allocate(TCP_INFO_LENGTH + 8);
    private final Native.Scratch drain = Native.allocate(64 * 1024);
    private final List<String> notes = new ArrayList<>();
    private final List<Integer> acceptedUnseen = new ArrayList<>();
    private final Path rearmHelper;
    /** Kernel partitions: rebuilds the connections; null when the sockets were handed over. */
    private final TcpRepair repair;
    /** Kernel partitions: the acknowledgement gate the rebuilt connections go behind; null if there is none. */
    private final AckGate gate;
    /** Kernel partitions, with a gate: each rebuilt connection as the gate keeps it, by owner and descriptor. */
    private final Map<Integer, Int2ObjectHashMap<GatedConnection>> gated = new HashMap<>();
    /** Kernel partitions: connections the old primary's kernel opened and nobody accepted, rebuilt here. */
    private final List<BackupSockets.HeldSocket> opened = new ArrayList<>();
    private final TcpConnectionState stateView = new TcpConnectionState();
    /** The sockets of processes not taken over yet, by owner: asked without a lock by every call's lane. */
    private Map<Integer, List<BackupSockets.HeldSocket>> pending = Map.of();
    private int mainOwner;
    /** What the application's first process gets besides its sockets (its standard descriptors); null once done. */
    private volatile MainHandover mainHandover;

    /**
     * Puts in place, during a call of the application's first process, what it holds besides its sockets.
     */
    @FunctionalInterface
    public interface MainHandover
    {
        /**
         * @return how many descriptors were put in place.
         */
        int handOver(SeccompListener listener) throws ReplicaStop;
    }

    /**
     * What one process got: its descriptors that are real sockets now, those that are connections, and per
     * descriptor the bytes the old primary sent that the application will write again.
     */
    public record TakenOver(BitSet sockets, BitSet connections, long[] alreadySent, String report)
    {
    }

    private SocketTakeover(final Path rearmHelper, final TcpRepair repair, final AckGate gate)
    {
        this.rearmHelper = rearmHelper;
        this.repair = repair;
        this.gate = gate;
    }

    /**
     * Take everything the backup holds, as its log ends at {@code position}.
     *
     * @param mainOwner the application's first process, which also gets what {@code mainHandover} puts in place.
     * @param gate kernel partitions: the acknowledgement gate of this kernel, or null.
     */
    public static SocketTakeover prepare(final BackupSockets sockets, final long position, final Path rearmHelper,
        final int mainOwner, final MainHandover mainHandover, final AckGate gate) throws ReplicaStop
    {
        final SocketTakeover takeover = new SocketTakeover(rearmHelper, sockets.isLogical() ? new TcpRepair() : null,
            gate);
        takeover.mainOwner = mainOwner;
        takeover.mainHandover = mainHandover;
        for (final int[] rest : sockets.takeRest(position))
        {
            if (rest[1] == SocketShadowChannel.ACCEPTED)
            {
                // Accepted by the old primary as it died: the application's next accept gets it.
                takeover.acceptedUnseen.add(rest[2]);
                takeover.notes.add("a connection the old primary had just accepted goes to the next accept");
            }
            else
            {
                sockets.hold(rest[0], rest[1], rest[2]);
            }
        }
        if (sockets.failure() != null)
        {
            throw new ReplicaStop(-1, "cannot take the sockets over: " + sockets.failure());
        }
        takeover.takeFromAcceptRing(sockets);
        takeover.pending = new ConcurrentHashMap<>(sockets.detach());
        if (takeover.repair != null)
        {
            takeover.makeAll(sockets.takeOpened());
        }
        return takeover;
    }

    /**
     * @return true if {@code owner} has sockets still to be put in place.
     */
    public boolean isPending(final int owner)
    {
        return pending.containsKey(owner) || (owner == mainOwner && mainHandover != null);
    }

    public boolean isDone()
    {
        return pending.isEmpty() && mainHandover == null;
    }

    /**
     * Put the sockets of process {@code owner} ({@code hostPid} on the host), which is in the call {@code listener}
     * holds, in place.
     */
    public TakenOver takeOver(final int owner, final int hostPid, final SeccompListener listener) throws ReplicaStop
    {
        final List<BackupSockets.HeldSocket> sockets = pending.getOrDefault(owner, List.of());
        pending.remove(owner);
        if (owner == mainOwner && mainHandover != null)
        {
            final MainHandover handover = mainHandover;
            mainHandover = null;
            notes.add(handover.handOver(listener) + " standard descriptors handed to the application");
        }
        final BitSet numbers = new BitSet();
        final BitSet connections = new BitSet();
        sockets.forEach(socket ->
        {
            numbers.set(socket.appFd);
            if (socket.connection)
            {
                connections.set(socket.appFd);
            }
        });
        final long[] alreadySent = new long[Math.max(numbers.length(), 1)];
        final long startNs = System.nanoTime();
        if (sockets.isEmpty())
        {
            return new TakenOver(numbers, connections, alreadySent, report(owner, numbers, startNs));
        }
        final Rearm rearm = Rearm.start(rearmHelper, hostPid, numbers);
        try
        {
            for (final BackupSockets.HeldSocket socket : sockets)
            {
                if (repair != null)
                {
                    // made before this process was in a call: it gets the stand-in's blocking mode now
                    HOST.fcntl(socket.socket, F_SETFL, DescriptorFlags.of(hostPid, socket.appFd) & DescriptorFlags.O_NONBLOCK);
                }
                final int installed = listener.installDescriptor(socket.socket, socket.appFd,
                    rearm.closeOnExec(socket.appFd), false);
                if (installed != socket.appFd && installed != SeccompListener.GONE)
                {
                    throw new ReplicaStop(-1, "cannot take socket " + socket.appFd + " of process " + owner +
                        " over: errno " + -installed);
                }
                alreadySent[socket.appFd] = repair != null ? 0 : lineUp(socket);
            }
            notes.add(rearm.finish());
        }
        finally
        {
            rearm.close();
            sockets.forEach(socket -> HOST.close(socket.socket));
        }
        return new TakenOver(numbers, connections, alreadySent, report(owner, numbers, startNs));
    }

    /**
     * Kernel partitions: make in this kernel, at once, every socket the backup kept as state, before the service
     * address comes here, so that no client's segment meets this kernel without its connection (it would answer
     * with a reset). A socket that is neither a connection nor listening stays the application's own; one that
     * cannot be made is said in the report and keeps its stand-in (the application finds that connection dead), so
     * that the others go on.
     */
    private void makeAll(final List<BackupSockets.HeldSocket> unaccepted)
    {
        final long startNs = System.nanoTime();
        final int[] made = new int[3];
        pending.forEach((owner, sockets) -> make(owner, sockets, startNs, made));
        pending.values().removeIf(List::isEmpty);
        makeOpened(unaccepted, startNs);
        notes.add(String.format(Locale.ROOT, "%d connections rebuilt with TCP_REPAIR (%d bytes the application was " +
            "told of and had not read put back in their queues), %d opened but not accepted rebuilt for the next " +
            "accepts and %d listening sockets made in this kernel in %.3f ms", made[0], made[2], opened.size(),
            made[1], (System.nanoTime() - startNs) / 1e6));
    }

    /**
     * Rebuild the connections the old primary's kernel opened (their handshake is in the log) that the
     * application had not accepted: the clients hold them for open.
     */
    private void makeOpened(final List<BackupSockets.HeldSocket> unaccepted, final long nowNs)
    {
        final String[] why = new String[1];
        for (final BackupSockets.HeldSocket socket : unaccepted)
        {
            stateView.wrap(socket.state, 0);
            socket.socket = repair.rebuild(stateView, new TcpRepair.Position(0, false, false,
                (nowNs - socket.seenAtNs) / 1_000_000, null), socket.output, why);
            if (socket.socket < 0)
            {
                notes.add("a connection opened but not accepted (" + stateView.describe() + ") could not be made " +
                    "here: " + why[0]);
                continue;
            }
            gate(stateView, socket, false);
            opened.add(socket);
        }
    }

    /**
     * Put a rebuilt connection behind this kernel's acknowledgement gate, before the service address comes here.
     *
     * @param watched true for a connection the application holds: the primary keeps a descriptor of its own of it,
     * to watch its input.
     * @return the connection as the gate keeps it, or null without a gate.
     */
    private GatedConnection gate(final TcpConnectionState state, final BackupSockets.HeldSocket socket,
        final boolean watched)
    {
        final GatedConnection connection = gate == null ? null :
            GatedConnection.of(state, socket.delivered, socket.peerFinished);
        if (connection == null)
        {
            return null;
        }
        connection.announced(socket.unread == null ? 0 : socket.unread.length());
        connection.rebuilt();
        if (watched)
        {
            connection.socket(HOST.fcntl(socket.socket, F_DUPFD_CLOEXEC, 0));
        }
        if (!gate.admit(connection))
        {
            notes.add("connection " + state.describe() + " could not be put behind the acknowledgement gate: errno " +
                Native.lastErrno());
        }
        return connection;
    }

    /**
     * Make the sockets of process {@code owner}, counting in {@code made} the connections, the listening sockets and
     * the bytes of input put back.
     */
    private void make(final int owner, final List<BackupSockets.HeldSocket> sockets, final long nowNs,
        final int[] made)
    {
        final String[] why = new String[1];
        for (final java.util.Iterator<BackupSockets.HeldSocket> each = sockets.iterator(); each.hasNext(); )
        {
            final BackupSockets.HeldSocket socket = each.next();
            if (socket.state == null && (socket.recipe == null || !socket.recipe.isListening()))
            {
                each.remove();
                continue;
            }
            if (socket.state != null)
            {
                stateView.wrap(socket.state, 0);
                socket.socket = repair.rebuild(stateView, new TcpRepair.Position(socket.delivered,
                    socket.peerFinished, socket.shutWrite, (nowNs - socket.seenAtNs) / 1_000_000, socket.unread),
                    socket.output, why);
                made[0] += socket.socket >= 0 ? 1 : 0;
                made[2] += socket.socket >= 0 && socket.unread != null ? socket.unread.length() : 0;
                final GatedConnection gated = socket.socket >= 0 ? gate(stateView, socket, true) : null;
                if (gated != null)
                {
                    this.gated.computeIfAbsent(owner, unused -> new Int2ObjectHashMap<>()).put(socket.appFd, gated);
                }
                if (socket.socket >= 0 && made[0] <= DETAILED_CONNECTIONS)
                {
                    notes.add("connection " + socket.appFd + " (" + stateView.describe() + "): " +
                        socket.delivered + " bytes delivered, " + socket.output.written() + " written, the last " +
                        (socket.output.written() - socket.output.firstRetained()) + " queued again");
                }
            }
            else
            {
                socket.socket = socket.recipe.build(why);
                made[1] += socket.socket >= 0 ? 1 : 0;
            }
            if (socket.socket < 0)
            {
                notes.add("descriptor " + socket.appFd + " of process " + owner + " (" + (socket.state != null ?
                    stateView.describe() : socket.recipe.describe()) + ") could not be made here: " + why[0]);
                each.remove();
            }
        }
    }

    private String report(final int owner, final BitSet numbers, final long startNs)
    {
        final String report = String.format(Locale.ROOT, "%d sockets of process %d taken over in %.3f ms",
            numbers.cardinality(), owner, (System.nanoTime() - startNs) / 1e6) +
            (notes.isEmpty() ? "" : "; " + String.join("; ", notes));
        notes.clear();
        return report;
    }

    /**
     * A connection the old primary accepted and died before handing over is still in a slot of its accept ring,
     * which this backup holds: it goes to the application's next accept, unless it came by the hand-over channel
     * too (the primary died between handing it over and freeing the slot).
     */
    private void takeFromAcceptRing(final BackupSockets sockets)
    {
        final int ringFd = sockets.takeAcceptRing();
        if (ringFd < 0)
        {
            return;
        }
        final AcceptRing ring = AcceptRing.adopt(ringFd);
        if (ring == null)
        {
            HOST.close(ringFd);
            notes.add("the old primary's accept ring could not be mapped: a connection it accepted as it died is lost");
            return;
        }
        try
        {
            for (int slot = 0; slot < AcceptRing.SLOTS; slot++)
            {
                final int connection = ring.take(slot);
                if (connection < 0)
                {
                    continue;
                }
                if (isKnown(connection, sockets))
                {
                    HOST.close(connection);
                    continue;
                }
                acceptedUnseen.add(connection);
                notes.add("a connection the old primary accepted but had not handed over was taken from its " +
                    "accept ring for the next accept");
            }
        }
        finally
        {
            ring.close();
        }
    }

    /**
     * @return true if {@code connection} is a socket this backup already has: the same inode.
     */
    private boolean isKnown(final int connection, final BackupSockets sockets)
    {
        final long inode = inode(connection);
        for (final int unseen : acceptedUnseen)
        {
            if (inode(unseen) == inode)
            {
                return true;
            }
        }
        for (final BackupSockets.HeldSocket held : sockets.heldSockets())
        {
            if (inode(held.socket) == inode)
            {
                return true;
            }
        }
        return false;
    }

    private long inode(final int fd)
    {
        return HOST.fstat(fd, info.pointer()) < 0 ? -1 : info.buffer().getLong(STAT_INO_OFFSET);
    }

    /**
     * Call once, on nothing, the native functions a takeover calls: their bindings are generated on first use, tens
     * of milliseconds that a takeover should not pay while the service waits.
     */
    public static void warmUp()
    {
        final SocketTakeover takeover = new SocketTakeover(null, null, null);
        AcceptRing.warmUp();
        HOST.getsockopt(-1, IPPROTO_TCP, TCP_INFO, takeover.info.pointer(), takeover.info.at(TCP_INFO_LENGTH));
        HOST.ioctl(-1, SIOCINQ, takeover.info.pointer());
        HOST.recvfrom(-1, takeover.drain.pointer(), 1, MSG_DONTWAIT, null, null);
    }

    /**
     * @return kernel partitions, with a gate: the rebuilt connections as the gate keeps them, by owner and
     * descriptor; the caller's from now on.
     */
    public Map<Integer, Int2ObjectHashMap<GatedConnection>> gated()
    {
        return gated;
    }

    /**
     * @return kernel partitions: the connections the old primary's kernel opened and the application had not
     * accepted, rebuilt here (oldest first); the caller's from now on.
     */
    public List<BackupSockets.HeldSocket> opened()
    {
        return opened;
    }

    /**
     * @return connections the old primary accepted as it died, for the application's next accepts; the caller's
     * to close from now on.
     */
    public List<Integer> acceptedUnseen()
    {
        return acceptedUnseen;
    }

    /**
     * Let go of the sockets of processes that never made another call.
     */
    @Override
    public void close()
    {
        pending.values().forEach(sockets -> sockets.forEach(socket -> HOST.close(socket.socket)));
        pending = Map.of();
    }

    /**
     * @return bytes of the application's output the kernel already took for this connection beyond the log's.
     */
    private long lineUp(final BackupSockets.HeldSocket held) throws ReplicaStop
    {
        final int socket = held.socket;
        final int fd = held.appFd;
        final UnsafeBuffer buffer = info.buffer();
        buffer.putInt(TCP_INFO_LENGTH, TCP_INFO_LENGTH);
        if (HOST.getsockopt(socket, IPPROTO_TCP, TCP_INFO, info.pointer(), info.at(TCP_INFO_LENGTH)) < 0 ||
            buffer.getByte(TCPI_STATE_OFFSET) != TCP_ESTABLISHED)
        {
            return 0; // listening, closing, or not TCP: no positions to line up
        }
        final long received = buffer.getLong(TCPI_BYTES_RECEIVED_OFFSET);
        final long acked = buffer.getLong(TCPI_BYTES_ACKED_OFFSET);
        final long inQueue = queued(socket, SIOCINQ);
        final long outQueue = queued(socket, SIOCOUTQ);
        final long consumed = received - inQueue;
        final long delivered = held.delivered;
        if (delivered > consumed)
        {
            discard(socket, delivered - consumed);
            notes.add("connection " + fd + ": consumed " + (delivered - consumed) + " bytes the log had delivered");
        }
        else if (delivered < consumed)
        {
            throw new ReplicaStop(-1, "connection " + fd + ": the kernel gave " + consumed + " bytes to the old " +
                "primary but its log delivered " + delivered + "; the rest is lost");
        }
        final long sent = acked + outQueue;
        final long skip = Math.max(0, sent - held.written);
        if (skip > 0)
        {
            notes.add("connection " + fd + ": " + skip + " bytes were sent before the old primary logged them");
        }
        return skip;
    }

    private long queued(final int socket, final long request) throws ReplicaStop
    {
        if (HOST.ioctl(socket, request, info.pointer()) < 0)
        {
            throw new ReplicaStop(-1, "cannot read a connection's queue: errno " + Native.lastErrno());
        }
        return info.buffer().getInt(0) & 0xFFFF_FFFFL;
    }

    private void discard(final int socket, final long bytes) throws ReplicaStop
    {
        long left = bytes;
        while (left > 0)
        {
            final long n = HOST.recvfrom(socket, drain.pointer(), Math.min(left, drain.capacity()), MSG_DONTWAIT,
                null, null);
            if (n <= 0)
            {
                throw new ReplicaStop(-1, "cannot consume " + left + " logged bytes left in a connection's queue");
            }
            left -= n;
        }
    }
}
