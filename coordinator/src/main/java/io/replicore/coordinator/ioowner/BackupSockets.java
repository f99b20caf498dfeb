package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.logicaltcp.RetainedOutput;
import io.replicore.coordinator.logicaltcp.TcpConnectionState;
import io.replicore.coordinator.logicaltcp.UnreadInput;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.replay.LogRecord;
import io.replicore.coordinator.replay.Signature;
import io.replicore.mailbox.ReplicaSlot;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A backup's hold on the primary's sockets: the duplicates the primary handed over (see
 * {@link SocketShadowChannel}), by the owning process and the descriptor number there, and for each connection its
 * logical position as the log tells it: the bytes delivered to the application and the bytes the application
 * wrote. At a takeover these are what {@link SocketTakeover} puts in place and lines the kernel's socket up with.
 * <p>
 * Between kernel partitions nothing is handed over: the backup keeps, for each connection, the logical TCP state the
 * primary logged with the accept, the bytes delivered, the last bytes written ({@link RetainedOutput}) and whether
 * either side has finished; for each listening socket how it was made ({@link SocketRecipe}). A new primary rebuilds
 * them in its own kernel.
 */
public final class BackupSockets implements AutoCloseable
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final int NONE = -1;
    /**
     * Opened connections kept at most: more than any listening socket's backlog, so that only handshakes whose
     * connection the kernel dropped (a client that gave up, a full queue) fall out.
     */
    private static final int OPENED_LIMIT = 65536;

    /** Null between kernel partitions, which share no sockets. */
    private final SocketShadowChannel channel;
    private final int[] received = new int[3];
    private final long[] receivedPosition = new long[1];
    private int pendingFd = NONE;
    private int acceptedConnection = NONE;
    private int pendingAppFd;
    private int pendingOwner;
    private long pendingPosition;
    private int followedEpoch;
    private long followedFrom;
    /** By {@link #key}: what is held for a descriptor of a process. */
    private final Map<Long, HeldSocket> held = new HashMap<>();
    /**
     * Kernel partitions: connections whose handshake the primary logged (CONNECTION records) and no accept has named
     * yet, oldest first, by {@link TcpConnectionState#describe()}.
     */
    private final Map<String, HeldSocket> opened = new LinkedHashMap<>();
    private final TcpConnectionState view = new TcpConnectionState();
    private int connectionCount;
    private int acceptRing = NONE;
    private final ReplicaSlot slot;
    private String failure;
    private boolean closed;

    /**
     * A socket held for descriptor {@code appFd} of a process, and for a connection its logical position.
     */
    static final class HeldSocket
    {
        final int appFd;
        int socket;
        long delivered;
        long written;
        boolean connection;
        /** Kernel partitions: the connection's state as the primary logged it, and what the log says since. */
        UnsafeBuffer state;
        RetainedOutput output;
        long seenAtNs;
        boolean peerFinished;
        boolean shutWrite;
        /** Kernel partitions: how the application made a socket that is not a connection. */
        SocketRecipe recipe;
        /** Kernel partitions: input the primary announced to the application that it has not read yet. */
        UnreadInput unread;

        HeldSocket(final int appFd, final int socket)
        {
            this.appFd = appFd;
            this.socket = socket;
        }
    }

    /**
     * @param slot where the number of connections held is published, for {@code status}.
     * @param logical true between kernel partitions: sockets are kept as logical state, none is handed over.
     */
    public BackupSockets(final long runId, final ReplicaSlot slot, final boolean logical) throws IOException
    {
        this.slot = slot;
        channel = logical ? null : SocketShadowChannel.receiver(runId, slot.replicaId());
    }

    /**
     * @return true if sockets are kept as logical state, to be rebuilt by a new primary (kernel partitions).
     */
    public boolean isLogical()
    {
        return channel == null;
    }

    private static long key(final int owner, final int appFd)
    {
        return ((long)owner << 32) | (appFd & 0xFFFF_FFFFL);
    }

    private static int ownerOf(final long key)
    {
        return (int)(key >>> 32);
    }

    /**
     * This replica follows the primary of {@code epoch} from here, its log going on after {@code lastApplied}:
     * what a replaced primary handed over for a later record, one it never appended, is dropped.
     */
    public void follow(final int epoch, final long lastApplied)
    {
        followedEpoch = epoch;
        followedFrom = lastApplied;
    }

    /**
     * Take the sockets handed over for the log up to {@code position}: the primary hands a socket over before it
     * appends the record that makes it usable, and the backup takes it as it applies that record.
     */
    public void takeHandedOver(final long position)
    {
        while (loadPending() && pendingPosition <= position)
        {
            if (pendingAppFd == SocketShadowChannel.ACCEPTED)
            {
                if (acceptedConnection != NONE)
                {
                    HOST.close(acceptedConnection);
                }
                acceptedConnection = pendingFd;
            }
            else
            {
                hold(pendingOwner, pendingAppFd, pendingFd);
            }
            pendingFd = NONE;
        }
    }

    /**
     * At a takeover: take everything handed over. What came for records the old primary never appended belongs to
     * the calls the new primary's application makes again: a connection accepted as the old primary died, or a
     * socket a process was first acting on.
     *
     * @return those sockets, as {owner, application descriptor, socket}.
     */
    List<int[]> takeRest(final long position)
    {
        takeHandedOver(position);
        final List<int[]> beyond = new ArrayList<>();
        while (loadPending())
        {
            beyond.add(new int[]{pendingOwner, pendingAppFd, pendingFd});
            pendingFd = NONE;
        }
        return beyond;
    }

    /**
     * Receive the next hand-over unless one is pending, dropping those of a replaced primary for records it never
     * appended.
     *
     * @return true if one is pending.
     */
    private boolean loadPending()
    {
        while (pendingFd == NONE && !closed && channel != null)
        {
            final int fd = channel.receive(received, receivedPosition);
            if (fd < -1)
            {
                failure = "the primary's socket hand-over channel failed (errno " + (-fd - 2) + ")";
                return false;
            }
            if (fd == -1)
            {
                return false;
            }
            if (received[1] < followedEpoch && receivedPosition[0] > followedFrom)
            {
                HOST.close(fd);
                continue;
            }
            pendingFd = fd;
            pendingAppFd = received[0];
            pendingOwner = received[2];
            pendingPosition = receivedPosition[0];
        }
        return pendingFd != NONE;
    }

    /**
     * Hold {@code socket} as descriptor {@code appFd} of process {@code owner}.
     */
    void hold(final int owner, final int appFd, final int socket)
    {
        release(held.put(key(owner, appFd), new HeldSocket(appFd, socket)));
    }

    /**
     * A connection was accepted at {@code appFd} of {@code owner}: the one handed over for this accept is held as
     * it, and its positions start at zero.
     */
    public void connectionAccepted(final int owner, final int appFd)
    {
        if (acceptedConnection == NONE)
        {
            return;
        }
        hold(owner, appFd, acceptedConnection);
        acceptedConnection = NONE;
        held.get(key(owner, appFd)).connection = true;
        connectionCount++;
        slot.connections(connectionCount);
    }

    /**
     * Kernel partitions: a connection was accepted at {@code appFd} of {@code owner}, with the logical TCP state
     * the primary logged at {@code offset} of {@code record} ({@link TcpConnectionState}).
     */
    public void connectionAccepted(final int owner, final int appFd, final DirectBuffer record, final int offset)
    {
        opened.remove(view.wrap(record, offset).describe());
        release(held.put(key(owner, appFd), logicalConnection(appFd, record, offset)));
        connectionCount++;
        slot.connections(connectionCount);
    }

    /**
     * @return a connection kept as the logical TCP state at {@code offset} of {@code record}, nothing read or written.
     */
    private static HeldSocket logicalConnection(final int appFd, final DirectBuffer record, final int offset)
    {
        final HeldSocket socket = new HeldSocket(appFd, NONE);
        socket.connection = true;
        socket.state = new UnsafeBuffer(new byte[TcpConnectionState.LENGTH]);
        socket.state.putBytes(0, record, offset, TcpConnectionState.LENGTH);
        socket.output = new RetainedOutput();
        socket.seenAtNs = System.nanoTime();
        return socket;
    }

    /**
     * Kernel partitions: the primary's kernel opened a connection whose state is at {@code offset} of
     * {@code record} (a CONNECTION record): the client may hold it for open before the application accepts it.
     */
    public void connectionOpened(final DirectBuffer record, final int offset)
    {
        final HeldSocket socket = logicalConnection(NONE, record, offset);
        opened.put(view.wrap(socket.state, 0).describe(), socket);
        if (opened.size() > OPENED_LIMIT)
        {
            opened.remove(opened.keySet().iterator().next());
        }
    }

    /**
     * Kernel partitions, at a takeover: the connections opened that no accept named, oldest first; the caller's
     * from now on.
     */
    List<HeldSocket> takeOpened()
    {
        final List<HeldSocket> unaccepted = new ArrayList<>(opened.values());
        opened.clear();
        return unaccepted;
    }

    /**
     * Kernel partitions: the recipe of socket {@code appFd} of {@code owner}, made on first use; null for a
     * connection, or when sockets are handed over instead.
     */
    SocketRecipe recipeOf(final int owner, final int appFd)
    {
        if (channel != null)
        {
            return null;
        }
        final HeldSocket socket = held.computeIfAbsent(key(owner, appFd), unused -> new HeldSocket(appFd, NONE));
        if (socket.connection)
        {
            return null;
        }
        if (socket.recipe == null)
        {
            socket.recipe = new SocketRecipe();
        }
        return socket.recipe;
    }

    /**
     * Kernel partitions: socket {@code appFd} of {@code owner} had option {@code name} of {@code level} set.
     */
    public void optionSet(final int owner, final int appFd, final int level, final int name, final byte[] value)
    {
        final SocketRecipe recipe = recipeOf(owner, appFd);
        if (recipe != null)
        {
            recipe.option(level, name, value);
        }
    }

    public void bound(final int owner, final int appFd, final byte[] address)
    {
        final SocketRecipe recipe = recipeOf(owner, appFd);
        if (recipe != null)
        {
            recipe.bind(address);
        }
    }

    public void listening(final int owner, final int appFd, final int backlog)
    {
        final SocketRecipe recipe = recipeOf(owner, appFd);
        if (recipe != null)
        {
            recipe.listen(backlog);
        }
    }

    /**
     * Kernel partitions: where the bytes the application writes to connection {@code appFd} are kept while their
     * signature is taken; null for anything else.
     */
    public Signature.OutputTap outputOf(final int owner, final int appFd)
    {
        final HeldSocket socket = held.get(key(owner, appFd));
        return socket == null ? null : socket.output;
    }

    /**
     * Kernel partitions: the application read the end of the client's stream on {@code appFd}.
     */
    public void inputEnded(final int owner, final int appFd)
    {
        final HeldSocket socket = held.get(key(owner, appFd));
        if (socket != null && socket.state != null)
        {
            socket.peerFinished = true;
        }
    }

    /**
     * Kernel partitions: the application shut its side of {@code appFd} down for writing.
     */
    public void outputShut(final int owner, final int appFd)
    {
        final HeldSocket socket = held.get(key(owner, appFd));
        if (socket != null && socket.state != null)
        {
            socket.shutWrite = true;
        }
    }

    public void delivered(final int owner, final int appFd, final long bytes)
    {
        final HeldSocket socket = held.get(key(owner, appFd));
        if (socket != null)
        {
            socket.delivered += bytes;
            if (socket.unread != null)
            {
                socket.unread.read(bytes);
            }
        }
    }

    /**
     * Kernel partitions: the primary announced input of a connection to its application (an INPUT record at
     * {@code offset} of {@code record}).
     */
    public void inputAnnounced(final DirectBuffer record, final int offset)
    {
        final HeldSocket socket = held.get(key(record.getInt(offset + LogRecord.INPUT_OWNER_OFFSET),
            record.getInt(offset + LogRecord.INPUT_DESCRIPTOR_OFFSET)));
        if (socket == null || socket.state == null)
        {
            return; // a connection closed meanwhile: nobody will read it
        }
        if (socket.unread == null)
        {
            socket.unread = new UnreadInput();
        }
        socket.unread.announced(record, offset + LogRecord.INPUT_BYTES_OFFSET,
            record.getInt(offset + LogRecord.INPUT_LENGTH_OFFSET));
    }

    public void written(final int owner, final int appFd, final long bytes)
    {
        final HeldSocket socket = held.get(key(owner, appFd));
        if (socket != null)
        {
            socket.written += bytes;
        }
    }

    /**
     * Process {@code owner} closed {@code appFd}: let go of the duplicate, so the connection can end.
     */
    public void closed(final int owner, final int appFd)
    {
        release(held.remove(key(owner, appFd)));
    }

    /**
     * Process {@code owner} ended, and its descriptors with it.
     */
    public void ended(final int owner)
    {
        final Iterator<Map.Entry<Long, HeldSocket>> entries = held.entrySet().iterator();
        while (entries.hasNext())
        {
            final Map.Entry<Long, HeldSocket> entry = entries.next();
            if (ownerOf(entry.getKey()) == owner)
            {
                entries.remove();
                release(entry.getValue());
            }
        }
    }

    private void release(final HeldSocket socket)
    {
        if (socket == null)
        {
            return;
        }
        if (socket.socket != NONE)
        {
            HOST.close(socket.socket);
        }
        if (socket.connection)
        {
            connectionCount--;
            slot.connections(connectionCount);
        }
    }

    /**
     * @return why sockets could not be taken over, or null.
     */
    String failure()
    {
        return failure;
    }

    /**
     * @return the descriptors of {@code owner} that have a real socket or file here.
     */
    public BitSet held(final int owner)
    {
        final BitSet numbers = new BitSet();
        held.forEach((key, socket) ->
        {
            if (ownerOf(key) == owner)
            {
                numbers.set(socket.appFd);
            }
        });
        return numbers;
    }

    /**
     * @return every socket held, of every process.
     */
    Collection<HeldSocket> heldSockets()
    {
        return held.values();
    }

    /**
     * @return everything held, by owner; the caller owns the sockets from now on.
     */
    Map<Integer, List<HeldSocket>> detach()
    {
        final Map<Integer, List<HeldSocket>> byOwner = new HashMap<>();
        held.forEach((key, socket) -> byOwner.computeIfAbsent(ownerOf(key), unused -> new ArrayList<>()).add(socket));
        held.clear();
        return byOwner;
    }

    /**
     * Hold the accept ring of the primary followed from now on ({@link AcceptRing}), in place of any earlier one.
     */
    public void holdAcceptRing(final int ring)
    {
        final int earlier = takeAcceptRing();
        if (earlier != NONE)
        {
            HOST.close(earlier);
        }
        acceptRing = ring;
    }

    /**
     * @return the primary's accept ring, which is the caller's to close from now on, or -1.
     */
    int takeAcceptRing()
    {
        final int ring = acceptRing;
        acceptRing = NONE;
        return ring;
    }

    /**
     * Let go of everything and stop receiving: hand-overs still in flight, from a replaced primary, are dropped by
     * the kernel with the channel. A new primary does this once it has taken what it needs.
     */
    @Override
    public void close() throws IOException
    {
        if (closed)
        {
            return;
        }
        for (final int[] rest : takeRest(Long.MAX_VALUE))
        {
            HOST.close(rest[2]);
        }
        if (acceptedConnection != NONE)
        {
            HOST.close(acceptedConnection);
            acceptedConnection = NONE;
        }
        final int ring = takeAcceptRing();
        if (ring != NONE)
        {
            HOST.close(ring);
        }
        held.values().forEach(this::release);
        held.clear();
        closed = true;
        if (channel != null)
        {
            channel.close();
        }
    }
}
