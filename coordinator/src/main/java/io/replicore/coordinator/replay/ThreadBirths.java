package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.detscheduler.ChildWatch;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A clone's first stretch: a new thread starts running the moment the clone returns, alongside its parent, before
 * either makes another intercepted call, and what each does there (a new thread's first malloc maps an arena, the
 * parent maps the next thread's stack) would land in a different order in each replica. To run that stretch in the
 * same order in every replica, the parent runs it alone and first: before its clone runs, the parent is put on one
 * CPU at real-time priority (SCHED_FIFO, reset on fork, so the child is an ordinary thread on the same CPU, which
 * cannot run before the parent blocks). Each goes back to the application's CPUs and policy at its next call.
 * <p>
 * Serial mode does this for every clone, under its grant, which keeps the parent's next call waiting until the
 * child has arrived too. Parallel mode does it for a clone that makes a thread (its memory is the parent's), and
 * holds the parent's next call here until the new thread's stretch is over: it sleeps in a call (its first
 * intercepted one, or a wait of its own, for its parent perhaps) or is gone; at most {@link #STRETCH_LIMIT_NS},
 * for a thread that computes without a call.
 * <p>
 * Arrivals come from any lane, so the methods are synchronized; a parent waits outside the lock.
 */
final class ThreadBirths
{
    /** How long a parent's next call waits for its new thread's first stretch to end. */
    static final long STRETCH_LIMIT_NS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final long POLL_NS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final int SCHED_OTHER = 0;
    private static final int SCHED_FIFO = 1;
    private static final int SCHED_RESET_ON_FORK = 0x40000000;
    private static final int MASK_LENGTH = 128;
    /** {@link #newborns}: the clone has run, its child is not found yet. */
    private static final int NOT_FOUND_YET = 0;

    private final Native.Scratch mask = Native.allocate(MASK_LENGTH);
    private final Native.Scratch one = Native.allocate(MASK_LENGTH);
    private final Native.Scratch param = Native.allocate(8);
    private final Set<Integer> parents = new HashSet<>();
    /** The application's CPUs, read from the first parent: what every thread goes back to. */
    private boolean maskKnown;
    /** Serial mode: new threads still on their parent's one CPU, not yet arrived. */
    private int childrenToWiden;
    /** Parallel mode: each parent's new thread whose first stretch may not be over, by the parent's host id. */
    private final Map<Integer, Integer> newborns = new HashMap<>();
    /** Parallel mode: new threads still on their parent's one CPU. */
    private final Set<Integer> unwidened = new HashSet<>();
    private volatile boolean any;

    /**
     * Serial mode, before a clone of {@code tid} runs: the parent runs first, and its child is widened at its first
     * call. If the parent cannot be made to run first (no privilege for SCHED_FIFO), the clone runs unordered.
     */
    synchronized void beforeClone(final int tid)
    {
        if (runFirst(tid))
        {
            childrenToWiden++;
        }
    }

    /**
     * Parallel mode, before a clone of {@code parent} that makes a thread runs: the parent runs first, and its next
     * call waits for the new thread ({@link #threadMade}, {@link #arrivedInParallel}). Unordered as for
     * {@link #beforeClone} without the privilege.
     */
    synchronized void beforeThread(final int parent)
    {
        if (runFirst(parent))
        {
            newborns.put(parent, NOT_FOUND_YET);
        }
    }

    /**
     * Put {@code tid} on the application's first CPU at SCHED_FIFO, reset on fork.
     *
     * @return false if it could not be.
     */
    private boolean runFirst(final int tid)
    {
        if (!maskKnown)
        {
            if (PROCESS.sched_getaffinity(tid, MASK_LENGTH, mask.pointer()) < 0)
            {
                return false;
            }
            maskKnown = true;
        }
        one.buffer().setMemory(0, MASK_LENGTH, (byte)0);
        final int cpu = firstCpu();
        one.buffer().putByte(cpu / 8, (byte)(1 << (cpu % 8)));
        param.buffer().putInt(0, 1);
        if (PROCESS.sched_setaffinity(tid, MASK_LENGTH, one.pointer()) < 0 ||
            PROCESS.sched_setscheduler(tid, SCHED_FIFO | SCHED_RESET_ON_FORK, param.pointer()) < 0)
        {
            restore(tid);
            return false;
        }
        parents.add(tid);
        any = true;
        return true;
    }

    /**
     * Serial mode: a thread made an intercepted call: a parent goes back to its policy and CPUs, and so does a new
     * thread.
     */
    synchronized void arrived(final int tid, final boolean newThread)
    {
        if (parents.remove(tid))
        {
            restore(tid);
        }
        else if (newThread && childrenToWiden > 0)
        {
            childrenToWiden--;
            restore(tid);
        }
    }

    /**
     * The clone made no child: nobody is to be widened for it.
     */
    synchronized void noChild()
    {
        if (childrenToWiden > 0)
        {
            childrenToWiden--;
        }
    }

    /**
     * Parallel mode: the clone of {@code parent} made thread {@code child} (host ids), or none ({@code child} 0).
     */
    synchronized void threadMade(final int parent, final int child)
    {
        if (!newborns.containsKey(parent))
        {
            return;
        }
        if (child > 0)
        {
            newborns.put(parent, child);
            unwidened.add(child);
        }
        else
        {
            newborns.remove(parent);
        }
    }

    /**
     * Parallel mode: thread {@code tid} made an intercepted call. A parent or a new thread goes back to the
     * application's policy and CPUs; a parent whose new thread's first stretch may not be over waits for its end
     * first, so that the two stretches run one after the other in every replica.
     */
    void arrivedInParallel(final int tid)
    {
        if (!any)
        {
            return;
        }
        final boolean parent;
        synchronized (this)
        {
            if (parents.remove(tid) || unwidened.remove(tid))
            {
                restore(tid);
            }
            parent = newborns.containsKey(tid);
        }
        if (parent)
        {
            awaitStretch(tid);
        }
        synchronized (this)
        {
            any = !parents.isEmpty() || !newborns.isEmpty() || !unwidened.isEmpty();
        }
    }

    /**
     * Wait until the new thread of {@code parent} has been found and has ended its first stretch, at most
     * {@link #STRETCH_LIMIT_NS}.
     */
    private void awaitStretch(final int parent)
    {
        final long deadline = System.nanoTime() + STRETCH_LIMIT_NS;
        while (System.nanoTime() - deadline < 0)
        {
            final Integer child;
            synchronized (this)
            {
                child = newborns.get(parent);
            }
            // None: the clone's lane found no new thread (it may have ended before it looked).
            if (child == null || (child != NOT_FOUND_YET && (!isUnwidened(child) || ChildWatch.pausedOrGone(child))))
            {
                break;
            }
            LockSupport.parkNanos(POLL_NS);
        }
        synchronized (this)
        {
            newborns.remove(parent);
        }
    }

    private synchronized boolean isUnwidened(final int child)
    {
        return unwidened.contains(child);
    }

    private void restore(final int tid)
    {
        param.buffer().putInt(0, 0);
        // Either may fail only because the thread is gone.
        PROCESS.sched_setscheduler(tid, SCHED_OTHER, param.pointer());
        PROCESS.sched_setaffinity(tid, MASK_LENGTH, mask.pointer());
    }

    private int firstCpu()
    {
        for (int i = 0; i < MASK_LENGTH; i++)
        {
            final int bits = mask.buffer().getByte(i) & 0xFF;
            if (bits != 0)
            {
                return i * 8 + Integer.numberOfTrailingZeros(bits);
            }
        }
        return 0;
    }
}
