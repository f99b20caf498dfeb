package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.mailbox.ReplicaSlot;

import java.io.IOException;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A backup's hold on the primary's sockets: the duplicates the primary handed over (see
 * {@link SocketShadowChannel}), by the application's descriptor number, and for each connection its logical
 * position as the log tells it: the bytes delivered to the application and the bytes the application wrote. At a
 * takeover these are what {@link SocketTakeover} puts in place and lines the kernel's socket up with.
 */
public final class BackupSockets implements AutoCloseable
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final int NONE = -1;

    private final SocketShadowChannel channel;
    private final int[] received = new int[2];
    private final long[] receivedPosition = new long[1];
    private int pendingFd = NONE;
    private int acceptedConnection = NONE;
    private int pendingAppFd;
    private long pendingPosition;
    private int followedEpoch;
    private long followedFrom;
    private int[] shadows = new int[64];
    private long[] delivered = new long[64];
    private long[] written = new long[64];
    private final BitSet connections = new BitSet();
    private int acceptRing = NONE;
    private final ReplicaSlot slot;
    private String failure;
    private boolean closed;

    /**
     * @param slot where the number of connections held is published, for {@code status}.
     */
    public BackupSockets(final long runId, final ReplicaSlot slot) throws IOException
    {
        this.slot = slot;
        channel = SocketShadowChannel.receiver(runId, slot.replicaId());
        Arrays.fill(shadows, NONE);
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
                hold(pendingAppFd, pendingFd);
            }
            pendingFd = NONE;
        }
    }

    /**
     * At a takeover: take everything handed over. What came for records the old primary never appended belongs to
     * the call the new primary's application is making again: a connection accepted as the old primary died, or a
     * socket it was first acting on.
     *
     * @return those sockets, as pairs {application descriptor, socket}.
     */
    List<int[]> takeRest(final long position)
    {
        takeHandedOver(position);
        final List<int[]> beyond = new ArrayList<>();
        while (loadPending())
        {
            beyond.add(new int[]{pendingAppFd, pendingFd});
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
        while (pendingFd == NONE && !closed)
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
            pendingPosition = receivedPosition[0];
        }
        return pendingFd != NONE;
    }

    /**
     * Hold {@code socket} as the application's {@code appFd}.
     */
    void hold(final int appFd, final int socket)
    {
        grow(appFd);
        if (shadows[appFd] != NONE)
        {
            HOST.close(shadows[appFd]);
        }
        shadows[appFd] = socket;
    }

    /**
     * A connection was accepted at {@code appFd}: the one handed over for this accept is held as it, and its
     * positions start at zero.
     */
    public void connectionAccepted(final int appFd)
    {
        if (acceptedConnection != NONE)
        {
            hold(appFd, acceptedConnection);
            acceptedConnection = NONE;
        }
        grow(appFd);
        delivered[appFd] = 0;
        written[appFd] = 0;
        connections.set(appFd);
        slot.connections(connections.cardinality());
    }

    public void delivered(final int appFd, final long bytes)
    {
        if (appFd >= 0 && appFd < delivered.length)
        {
            delivered[appFd] += bytes;
        }
    }

    public void written(final int appFd, final long bytes)
    {
        if (appFd >= 0 && appFd < written.length)
        {
            written[appFd] += bytes;
        }
    }

    /**
     * The application closed {@code appFd}: let go of the duplicate, so the connection can end.
     */
    public void closed(final int appFd)
    {
        if (appFd >= 0 && connections.get(appFd))
        {
            connections.clear(appFd);
            slot.connections(connections.cardinality());
        }
        if (appFd >= 0 && appFd < shadows.length && shadows[appFd] != NONE)
        {
            HOST.close(shadows[appFd]);
            shadows[appFd] = NONE;
            delivered[appFd] = 0;
            written[appFd] = 0;
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
     * @return the application descriptors that have a real socket or file here.
     */
    public BitSet held()
    {
        final BitSet held = new BitSet();
        for (int fd = 0; fd < shadows.length; fd++)
        {
            if (shadows[fd] != NONE)
            {
                held.set(fd);
            }
        }
        return held;
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
     * @return the application descriptors that are accepted connections.
     */
    public BitSet connections()
    {
        return connections;
    }

    int shadow(final int appFd)
    {
        return shadows[appFd];
    }

    long deliveredTo(final int appFd)
    {
        return delivered[appFd];
    }

    long writtenBy(final int appFd)
    {
        return written[appFd];
    }

    /**
     * The application has its own copies now: let go of ours.
     */
    void releaseAll()
    {
        for (int fd = 0; fd < shadows.length; fd++)
        {
            if (shadows[fd] != NONE)
            {
                HOST.close(shadows[fd]);
                shadows[fd] = NONE;
            }
        }
    }

    private void grow(final int appFd)
    {
        if (appFd >= shadows.length)
        {
            final int length = Math.max(appFd + 1, shadows.length * 2);
            final int old = shadows.length;
            shadows = Arrays.copyOf(shadows, length);
            Arrays.fill(shadows, old, length, NONE);
            delivered = Arrays.copyOf(delivered, length);
            written = Arrays.copyOf(written, length);
        }
    }

    /**
     * Let go of everything and stop receiving: hand-overs still in flight, from a replaced primary, are dropped by
     * the kernel with the channel. A new primary does this once it has taken the sockets over.
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
            HOST.close(rest[1]);
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
        releaseAll();
        closed = true;
        channel.close();
    }
}
