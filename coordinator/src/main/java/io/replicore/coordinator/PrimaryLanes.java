package io.replicore.coordinator;

import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.replay.InterceptedCall;
import io.replicore.coordinator.replay.ReplicaStop;
import io.replicore.detscheduler.ThreadIds;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The primary's lanes: each lane handles one notified call at a time with buffers of its own, so that a call that
 * waits (a read of an empty pipe, an epoll_wait) holds up only the thread that made it, while other threads' and
 * processes' calls go on in other lanes. The log order is the order in which lanes append.
 * <p>
 * One lane at a time waits for the next notification (it holds the receive permit) and lets the permit go as
 * soon as it has one, so a single-threaded application needs a single lane and pays no hand-off. A watchdog adds a
 * lane when a notification (or a call held over from the backup's role) has waited while every lane was busy.
 */
final class PrimaryLanes
{
    /** Makes the call handler of a lane from the lane's own listener view and call buffer. */
    @FunctionalInterface
    interface LaneFactory
    {
        CallHandler handlerFor(InterceptedCall call, PrimaryLanes lanes) throws ReplicaStop;
    }

    /** Handles the call loaded in a lane, or checks between calls; throws to stop the replica. */
    @FunctionalInterface
    interface CallHandler
    {
        void handle() throws ReplicaStop;
    }

    /** Sees each call first (a freshly executed image's vDSO, counters); shared by every lane. */
    @FunctionalInterface
    interface CallObserver
    {
        void observe(InterceptedCall call) throws ReplicaStop;
    }

    private static final int POLL_MS = 20;
    private static final long WATCH_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(2);
    /** More lanes than this means something is wrong with the application, not a lack of lanes. */
    private static final int MAX_LANES = 1024;
    private static final long JOIN_NS = TimeUnit.SECONDS.toNanos(1);

    private final SeccompListener listener;
    private final LaneFactory factory;
    private final CallHandler between;
    private final CallObserver observer;
    private final int maxRecord;
    private final ThreadIds threads;
    private final Semaphore receivePermit = new Semaphore(1, true);
    private final AtomicInteger idleLanes = new AtomicInteger();
    private final AtomicInteger lanes = new AtomicInteger(1);
    private final AtomicReference<ReplicaStop> stopped = new AtomicReference<>();
    private final Queue<byte[]> heldOver = new ConcurrentLinkedQueue<>();
    /** The lanes besides lane 0; only the watchdog adds to it. */
    private final Queue<Thread> laneThreads = new ConcurrentLinkedQueue<>();
    private volatile boolean ended;
    /** No lane is added before the first call's work (a new primary's hand-over of the devices) is done. */
    private volatile boolean growing;

    /**
     * @param listener the application's listener; lane 0 (the caller of {@link #serve}) uses it and its call
     * buffer, other lanes use views of it.
     */
    PrimaryLanes(
        final SeccompListener listener, final ThreadIds threads, final int maxRecord,
        final LaneFactory factory, final CallHandler between, final CallObserver observer)
    {
        this.listener = listener;
        this.threads = threads;
        this.maxRecord = maxRecord;
        this.factory = factory;
        this.between = between;
        this.observer = observer;
    }

    /**
     * Notifications taken in the backup's role and not answered yet: the lanes answer them first.
     */
    void holdOver(final byte[] notification)
    {
        heldOver.add(notification);
    }

    /**
     * Serve until no process of the application is left, with the calling thread as lane 0 over {@code call}.
     *
     * @param beforeFirst run in lane 0 with the first notification loaded, before any other lane exists.
     * @throws ReplicaStop the first reason any lane had to stop.
     */
    void serve(final InterceptedCall call, final CallHandler beforeFirst) throws ReplicaStop
    {
        growing = beforeFirst == null;
        final Thread watchdog = new Thread(this::watch, "replicore-lanes");
        watchdog.setDaemon(true);
        watchdog.start();
        try
        {
            runLane(call, factory.handlerFor(call, this), beforeFirst);
        }
        finally
        {
            ended = true;
            watchdog.interrupt();
            joinLanes();
        }
        final ReplicaStop stop = stopped.get();
        if (stop != null)
        {
            throw stop;
        }
    }

    /**
     * For a lane in a wait: stop waiting once another lane has stopped the replica.
     */
    void checkNotStopped() throws ReplicaStop
    {
        final ReplicaStop stop = stopped.get();
        if (stop != null)
        {
            throw stop;
        }
    }

    private void runLane(final InterceptedCall call, final CallHandler handler, final CallHandler beforeFirst)
    {
        final SeccompListener own = call.listener();
        CallHandler first = beforeFirst;
        try
        {
            while (!ended && stopped.get() == null)
            {
                if (!take(own))
                {
                    continue;
                }
                call.load();
                observer.observe(call);
                if (first != null)
                {
                    first.handle();
                    first = null;
                    growing = true;
                }
                handler.handle();
            }
        }
        catch (final ReplicaStop stop)
        {
            stopped.compareAndSet(null, stop);
            ended = true;
        }
        catch (final RuntimeException ex)
        {
            // A defect here must stop the replica with its cause, not leave a thread of the application unanswered.
            stopped.compareAndSet(null, new ReplicaStop(call.nr(), "internal error while handling " +
                call.nr() + ": " + ex));
            ended = true;
        }
    }

    /**
     * Wait for the receive permit, then for a notification (or a held-over one) while running the checks between
     * calls.
     *
     * @return true with a notification in {@code own}; false to look again.
     */
    private boolean take(final SeccompListener own) throws ReplicaStop
    {
        idleLanes.incrementAndGet();
        try
        {
            receivePermit.acquireUninterruptibly();
            try
            {
                if (ended)
                {
                    return false;
                }
                final byte[] held = heldOver.poll();
                if (held != null)
                {
                    own.restore(held);
                    return true;
                }
                between.handle();
                final int rc = own.awaitNotification(POLL_MS);
                if (rc == SeccompListener.ENDED)
                {
                    ended = true;
                    return false;
                }
                if (rc == SeccompListener.GONE)
                {
                    return false;
                }
                if (rc < 0)
                {
                    throw new ReplicaStop(-1, "cannot receive notifications: errno " + -rc);
                }
                return true;
            }
            finally
            {
                receivePermit.release();
            }
        }
        finally
        {
            idleLanes.decrementAndGet();
        }
    }

    /**
     * Add a lane whenever calls wait while every lane is busy: a lane may be held by a call that waits for
     * another thread of the application, whose call must then be taken by another lane.
     */
    private void watch()
    {
        // A view of its own: the lanes' listeners are theirs.
        final SeccompListener pending = listener.view();
        long busySinceNs = 0;
        while (!ended)
        {
            LockSupport.parkNanos(WATCH_INTERVAL_NS);
            // A thread holds at most one lane; one more is for a thread whose first call is still unread.
            if (!growing || idleLanes.get() > 0 || lanes.get() >= Math.min(MAX_LANES, threads.size() + 1))
            {
                busySinceNs = 0;
                continue;
            }
            final boolean waiting = !heldOver.isEmpty() || pending.hasPending();
            if (!waiting)
            {
                busySinceNs = 0;
                continue;
            }
            final long nowNs = System.nanoTime();
            if (busySinceNs == 0)
            {
                busySinceNs = nowNs;
            }
            else if (nowNs - busySinceNs >= WATCH_INTERVAL_NS)
            {
                addLane();
                busySinceNs = 0;
            }
        }
    }

    /**
     * Wait a little for the other lanes to finish the calls they are in: once the application is gone, each
     * answer fails at once. A lane still blocked in a read of an outside pipe stays behind, as a stray.
     */
    private void joinLanes()
    {
        final long deadline = System.nanoTime() + JOIN_NS;
        for (final Thread lane : laneThreads)
        {
            try
            {
                lane.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * @return how many lanes are still in a call after {@link #serve} returned: the mailbox must stay mapped for
     * them until the process ends.
     */
    int strayLanes()
    {
        return (int)laneThreads.stream().filter(Thread::isAlive).count();
    }

    private void addLane()
    {
        final int index = lanes.getAndIncrement();
        final InterceptedCall call = new InterceptedCall(listener.view(), threads, maxRecord);
        final Thread lane = new Thread(() ->
        {
            try
            {
                runLane(call, factory.handlerFor(call, this), null);
            }
            catch (final ReplicaStop stop)
            {
                stopped.compareAndSet(null, stop);
                ended = true;
            }
        }, "replicore-lane-" + index);
        lane.setDaemon(true);
        laneThreads.add(lane);
        lane.start();
    }
}
