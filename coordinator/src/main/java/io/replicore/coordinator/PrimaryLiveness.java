package io.replicore.coordinator;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.coordinator.natives.SocketCalls;
import io.replicore.coordinator.replay.PrimaryWatch;
import io.replicore.mailbox.HeartbeatMonitor;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A backup's view of whether its primary lives, from three sources: the primary's slot says it ended; its
 * coordinator process is gone (a pidfd turns readable at once when a process partition is killed); its heartbeat
 * counter has not moved for longer than the timeout (a frozen or hung partition, or a replica kernel that died
 * without a word).
 */
final class PrimaryLiveness implements PrimaryWatch, AutoCloseable
{
    static final int RING_NOT_YET = -1;
    static final int RING_NONE = -2;
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final short POLLIN = 0x1;
    private static final int ESRCH = 3;
    private static final long REGISTER_GRACE_NS = java.util.concurrent.TimeUnit.SECONDS.toNanos(30);

    private final ReplicaSlot primary;
    private final HeartbeatMonitor heartbeats;
    private final long timeoutNs;
    private final boolean otherKernel;
    /** Opened once the primary has registered its pid (a backup may start first); -1 until then. */
    private int pidfd = -1;
    /** The registered pid had no process by the time this backup first looked: the primary died first. */
    private boolean goneBeforeWatched;
    /** When this backup first saw the primary's slot registered; 0 until then. */
    private long registeredSeenNs;
    /** When this backup began to watch: a primary in this kernel that has not registered by then plus a grace is lost. */
    private final long watchedSinceNs;
    private final Native.Scratch pollFd = Native.allocate(8);

    /**
     * @param otherKernel true in kernel partitions: the primary's pid is another kernel's, so only its slot and its
     * heartbeats tell.
     */
    PrimaryLiveness(final Mailbox mailbox, final int primaryId, final long timeoutNs, final boolean otherKernel)
    {
        this.primary = mailbox.slot(primaryId);
        this.heartbeats = new HeartbeatMonitor(mailbox, System.nanoTime());
        this.timeoutNs = timeoutNs;
        this.otherKernel = otherKernel;
        this.watchedSinceNs = System.nanoTime();
        openPidfd();
    }

    /**
     * The coordinator's pid is only a hint in kernel partitions (another kernel's pid space): no pidfd there.
     */
    private void openPidfd()
    {
        final int pid = primary.pid();
        if (pid > 0 && !otherKernel)
        {
            pidfd = PROCESS.pidfd_open(pid, 0);
            goneBeforeWatched = pidfd < 0 && Native.lastErrno() == ESRCH;
        }
    }

    int primaryId()
    {
        return primary.replicaId();
    }

    @Override
    public String lostReason(final long nowNs)
    {
        final ReplicaState state = primary.state();
        if (state.isEnded())
        {
            final String error = primary.lastErrorMessage();
            return "replica " + primary.replicaId() + " is " + state.name().toLowerCase() +
                (error.isEmpty() ? "" : " (" + error + ")");
        }
        if (state == ReplicaState.EMPTY)
        {
            // Not started yet: replica kernels boot in their own time, and on a loaded machine the primary's JVM may
            // register seconds after this one began to watch. In this kernel a primary that never registers is
            // lost after a grace.
            final long waitedNs = nowNs - watchedSinceNs;
            return otherKernel || waitedNs < Math.max(timeoutNs, REGISTER_GRACE_NS) ? null :
                "replica " + primary.replicaId() + " did not register within " + waitedNs / 1_000_000 + " ms";
        }
        if (registeredSeenNs == 0)
        {
            // Its silence counts from now: its first beat may come a while after it registered, not from when this
            // backup began to watch.
            registeredSeenNs = nowNs;
        }
        if (pidfd < 0)
        {
            openPidfd();
        }
        if (goneBeforeWatched || (pidfd >= 0 && exited()))
        {
            return "replica " + primary.replicaId() + "'s coordinator (pid " + primary.pid() + ") is gone";
        }
        heartbeats.poll(nowNs);
        final long silenceNs = Math.min(heartbeats.silenceNs(primary.replicaId(), nowNs), nowNs - registeredSeenNs);
        if (silenceNs >= timeoutNs)
        {
            return "replica " + primary.replicaId() + " missed its heartbeats for " + silenceNs / 1_000_000 + " ms";
        }
        return null;
    }

    private boolean exited()
    {
        final UnsafeBuffer poll = pollFd.buffer();
        poll.putInt(0, pidfd);
        poll.putShort(4, POLLIN);
        poll.putShort(6, (short)0);
        return SOCKETS.poll(pollFd.pointer(), 1, 0) > 0 && (poll.getShort(6) & POLLIN) != 0;
    }

    /**
     * Borrow the primary's accept ring once it has published one: a duplicate from its coordinator's table.
     *
     * @return the duplicate; {@link #RING_NOT_YET} while the primary has not said; {@link #RING_NONE} if it has
     * none, or it cannot be borrowed (the primary is gone, or its pid is not in this kernel).
     */
    int borrowAcceptRing()
    {
        final int published = primary.acceptRing();
        if (published == 0)
        {
            return RING_NOT_YET;
        }
        final int coordinator = published < 0 ? -1 : PROCESS.pidfd_open(primary.pid(), 0);
        if (coordinator < 0)
        {
            return RING_NONE;
        }
        final int ring = PROCESS.pidfd_getfd(coordinator, published - 1, 0);
        PROCESS.close(coordinator);
        return ring >= 0 ? ring : RING_NONE;
    }

    @Override
    public void close()
    {
        if (pidfd >= 0)
        {
            PROCESS.close(pidfd);
        }
    }
}
