package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.intercept.Syscalls;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.replay.ReplicaStop;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A new primary takes the application's sockets over, during the first call it handles:
 * <ol>
 *   <li>gives the accept the application is making again a connection the old primary accepted as it died, handed
 *   over or still in a slot of its {@link AcceptRing};</li>
 *   <li>notes the application's epoll registrations of its stand-in sockets and their descriptor flags;</li>
 *   <li>puts each real socket, handed over earlier by the old primary, at its number in place of the stand-in
 *   (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD);</li>
 *   <li>lines each connection's kernel state up with the log (logical TCP): bytes the log delivered to the
 *   application but still queued in the kernel, because the old primary died between logging and consuming them,
 *   are consumed now; bytes the kernel took from the old primary beyond what the log says the application wrote
 *   are reported, so the new primary does not send them twice;</li>
 *   <li>registers the real sockets in the epoll sets again ({@link Rearm}: a registration is keyed by the number in
 *   the table of the process that makes it, so a helper borrows each socket at that number).</li>
 * </ol>
 */
public final class SocketTakeover
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

    private final Native.Scratch info = Native.allocate(TCP_INFO_LENGTH + 8);
    private final Native.Scratch drain = Native.allocate(64 * 1024);
    private final List<String> notes = new ArrayList<>();
    private BitSet takenOver = new BitSet();
    private final List<Integer> acceptedUnseen = new ArrayList<>();

    /**
     * @param position the last record of the old primary's log that was applied.
     * @param pendingNr the call the application is making, which the new primary answers next.
     * @return per application descriptor, the bytes the old primary sent that the application will write again.
     */
    public long[] takeOver(final SeccompListener listener, final int appPid, final BackupSockets sockets,
        final long position, final int pendingNr, final Path rearmHelper) throws ReplicaStop
    {
        for (final int[] rest : sockets.takeRest(position))
        {
            if (pendingNr == Syscalls.ACCEPT || pendingNr == Syscalls.ACCEPT4)
            {
                // Accepted by the old primary as it died: the application's accept, made again, gets it.
                acceptedUnseen.add(rest[1]);
                notes.add("a connection the old primary had just accepted goes to the accept made again");
            }
            else if (rest[0] == SocketShadowChannel.ACCEPTED)
            {
                HOST.close(rest[1]);
            }
            else
            {
                sockets.hold(rest[0], rest[1]);
            }
        }
        if (sockets.failure() != null)
        {
            throw new ReplicaStop(-1, "cannot take the sockets over: " + sockets.failure());
        }
        takeFromAcceptRing(sockets, pendingNr == Syscalls.ACCEPT || pendingNr == Syscalls.ACCEPT4);
        final BitSet held = sockets.held();
        takenOver = held;
        final long[] alreadySent = new long[Math.max(held.length(), 1)];
        if (held.isEmpty())
        {
            return alreadySent;
        }
        final Rearm rearm = Rearm.start(rearmHelper, appPid, held);
        try
        {
            for (int fd = held.nextSetBit(0); fd >= 0; fd = held.nextSetBit(fd + 1))
            {
                final int installed = listener.installDescriptor(sockets.shadow(fd), fd, rearm.closeOnExec(fd), false);
                if (installed != fd && installed != SeccompListener.GONE)
                {
                    throw new ReplicaStop(-1, "cannot take socket " + fd + " over: errno " + -installed);
                }
                alreadySent[fd] = lineUp(fd, sockets);
            }
            notes.add(rearm.finish());
        }
        finally
        {
            rearm.close();
        }
        sockets.releaseAll();
        return alreadySent;
    }

    /**
     * A connection the old primary accepted and died before handing over is still in a slot of its accept ring,
     * which this backup holds: it goes to the accept the application makes again, unless it came by the hand-over
     * channel too (the primary died between handing it over and freeing the slot).
     */
    private void takeFromAcceptRing(final BackupSockets sockets, final boolean acceptPending)
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
                if (!acceptPending || isKnown(connection, sockets))
                {
                    HOST.close(connection);
                    continue;
                }
                acceptedUnseen.add(connection);
                notes.add("a connection the old primary accepted but had not handed over was taken from its " +
                    "accept ring for the accept made again");
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
        final BitSet held = sockets.held();
        for (int fd = held.nextSetBit(0); fd >= 0; fd = held.nextSetBit(fd + 1))
        {
            if (inode(sockets.shadow(fd)) == inode)
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
        final SocketTakeover takeover = new SocketTakeover();
        AcceptRing.warmUp();
        HOST.getsockopt(-1, IPPROTO_TCP, TCP_INFO, takeover.info.pointer(), takeover.info.at(TCP_INFO_LENGTH));
        HOST.ioctl(-1, SIOCINQ, takeover.info.pointer());
        HOST.recvfrom(-1, takeover.drain.pointer(), 1, MSG_DONTWAIT, null, null);
    }

    /**
     * @return the application descriptors whose real sockets were put in place.
     */
    public BitSet takenOver()
    {
        return takenOver;
    }

    /**
     * @return connections the old primary accepted for the call the application is making again.
     */
    public List<Integer> acceptedUnseen()
    {
        return acceptedUnseen;
    }

    /**
     * @return what was done beyond the plain hand-over, for the event log.
     */
    public List<String> notes()
    {
        return notes;
    }

    /**
     * @return bytes of the application's output the kernel already took for this connection beyond the log's.
     */
    private long lineUp(final int fd, final BackupSockets sockets) throws ReplicaStop
    {
        final int socket = sockets.shadow(fd);
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
        final long delivered = sockets.deliveredTo(fd);
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
        final long skip = Math.max(0, sent - sockets.writtenBy(fd));
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
