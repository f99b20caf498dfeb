package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.replay.LogSink;
import io.replicore.coordinator.replay.ReplicaStop;
import io.replicore.coordinator.replay.SocketOwner;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import jnr.ffi.Pointer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The primary's {@link SocketOwner}: hands each socket of the application to every live backup over its
 * {@link SocketShadowChannel} the first time the primary acts on it, and skips the bytes an old primary had sent.
 * The primary's lanes share it: its bookkeeping is under its monitor; {@link #accept} is not (it may wait for a
 * connection), and the lanes make their accepts one at a time themselves.
 */
public final class PrimarySockets implements SocketOwner, AutoCloseable
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int STAT_MODE_OFFSET = 24;
    private static final long REGISTER_WAIT_NS = TimeUnit.SECONDS.toNanos(10);

    private final Mailbox mailbox;
    private final int selfId;
    private final LogSink log;
    private final Consumer<String> events;
    private AcceptRing ring;
    private final SocketShadowChannel channel;
    private final BitSet shared = new BitSet();
    private final BitSet notSockets = new BitSet();
    private final BitSet files = new BitSet();
    private final BitSet connections = new BitSet();
    private long[] alreadySent;
    private final List<Integer> acceptedUnseen = new ArrayList<>();
    private final Native.Scratch stat = Native.allocate(144);

    /**
     * @param log the primary's log: a socket is handed over for the record appended next, and only while this
     * replica is still the primary.
     * @param events where it says how accepts are made.
     */
    public PrimarySockets(final Mailbox mailbox, final int selfId, final LogSink log, final Consumer<String> events)
        throws IOException
    {
        this.mailbox = mailbox;
        this.selfId = selfId;
        this.log = log;
        this.events = events;
        startRing();
        this.channel = SocketShadowChannel.sender();
    }

    /**
     * After a takeover: the sockets taken over are held by the other backups already (the old primary handed them
     * to every backup), and some bytes of their output were sent by the old primary.
     *
     * @param connections the descriptors that are accepted connections.
     * @param alreadySent per application descriptor, bytes an old primary sent that the application will write
     * again.
     */
    public synchronized void adopt(
        final BitSet takenOver, final BitSet connections, final long[] alreadySent, final List<Integer> acceptedUnseen)
    {
        shared.or(takenOver);
        this.connections.or(connections);
        publishConnections();
        this.alreadySent = alreadySent;
        this.acceptedUnseen.addAll(acceptedUnseen);
    }

    @Override
    public synchronized int takeAcceptedUnseen()
    {
        return acceptedUnseen.isEmpty() ? -1 : acceptedUnseen.remove(0);
    }

    @Override
    public synchronized boolean isSocket(final int appFd)
    {
        return appFd >= 0 && shared.get(appFd) && !files.get(appFd);
    }

    @Override
    public synchronized void share(final int appFd, final int dupFd) throws ReplicaStop
    {
        if (appFd < 0 || shared.get(appFd) || notSockets.get(appFd))
        {
            return;
        }
        if (HOST.fstat(dupFd, stat.pointer()) < 0 || (stat.buffer().getInt(STAT_MODE_OFFSET) & S_IFMT) != S_IFSOCK)
        {
            notSockets.set(appFd);
            return;
        }
        handToBackups(appFd, dupFd);
    }

    @Override
    public synchronized void shareAlways(final int appFd, final int dupFd) throws ReplicaStop
    {
        files.set(appFd);
        handToBackups(appFd, dupFd);
    }

    private void handToBackups(final int appFd, final int dupFd) throws ReplicaStop
    {
        log.checkStillPrimary();
        for (int id = 0; id < mailbox.replicaCount(); id++)
        {
            if (id != selfId)
            {
                handTo(mailbox.slot(id), appFd, dupFd);
            }
        }
        shared.set(appFd);
    }

    @Override
    public int accept(final int listenDup, final int flags, final Pointer address, final Pointer lengthAddress)
    {
        if (ring != null)
        {
            return ring.accept(listenDup, flags, address, lengthAddress);
        }
        final int connection = HOST.accept4(listenDup, address, lengthAddress, flags);
        return connection < 0 ? -Native.lastErrno() : connection;
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
        log.checkStillPrimary();
        for (int id = 0; id < mailbox.replicaCount(); id++)
        {
            if (id != selfId)
            {
                handTo(mailbox.slot(id), SocketShadowChannel.ACCEPTED, connection);
            }
        }
        if (ring != null)
        {
            ring.release();
        }
    }

    @Override
    public synchronized void accepted(final int appFd)
    {
        closed(appFd);
        shared.set(appFd);
        connections.set(appFd);
        publishConnections();
    }

    private void publishConnections()
    {
        mailbox.slot(selfId).connections(connections.cardinality());
    }

    private void handTo(final ReplicaSlot backup, final int appFd, final int dupFd) throws ReplicaStop
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
        final int rc = channel.send(mailbox.runId(), backup.replicaId(), appFd, log.epoch(), log.lastSequence() + 1,
            dupFd);
        if (rc < 0 && backup.state().isLive())
        {
            // A primary frozen between its epoch check and the send, and thawed after its successor closed the
            // channel, has been replaced: it is fenced, not failed.
            log.checkStillPrimary();
            throw new ReplicaStop(-1, "cannot hand socket " + appFd + " to replica " + backup.replicaId() +
                ": errno " + -rc + "; it could not take the connection over");
        }
    }

    @Override
    public synchronized int trackedLimit()
    {
        return Math.max(Math.max(shared.length(), notSockets.length()), files.length());
    }

    @Override
    public synchronized void closed(final int appFd)
    {
        if (appFd < 0)
        {
            return;
        }
        if (connections.get(appFd))
        {
            connections.clear(appFd);
            publishConnections();
        }
        shared.clear(appFd);
        notSockets.clear(appFd);
        files.clear(appFd);
        if (alreadySent != null && appFd < alreadySent.length)
        {
            alreadySent[appFd] = 0;
        }
    }

    @Override
    public synchronized long alreadySent(final int appFd, final long count)
    {
        if (alreadySent == null || appFd >= alreadySent.length || alreadySent[appFd] == 0)
        {
            return 0;
        }
        final long skip = Math.min(alreadySent[appFd], count);
        alreadySent[appFd] -= skip;
        return skip;
    }

    @Override
    public void close() throws IOException
    {
        if (ring != null)
        {
            mailbox.slot(selfId).acceptRing(0);
            ring.close();
        }
        acceptedUnseen.forEach(HOST::close);
        channel.close();
    }
}
