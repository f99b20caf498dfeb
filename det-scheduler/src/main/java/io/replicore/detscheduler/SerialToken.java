package io.replicore.detscheduler;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Serial mode's rule: at most one application thread runs at a time. A thread runs from the moment its call is
 * answered until it makes its next intercepted call (it arrives). Answering a call takes the grant, which is free
 * only while no thread runs; the primary takes it before logging the call, so the log's order is the order in
 * which threads ran, and a backup answers the next record only when the grant is free.
 * <p>
 * After a clone both the parent and the new thread run until each has arrived: the instructions between the
 * clone returning and the next intercepted call of either are the one place two threads run together.
 * <p>
 * Threads are named by their host ids, and each call by its thread and arrival number: a thread may arrive with its
 * next call before the lane that answered its last one has said so, and that answer must not count it as
 * running again.
 * <p>
 * Thread-safe: the primary's lanes share one token.
 */
public final class SerialToken
{
    private static final int NOBODY = 0;

    private final Set<Integer> running = new HashSet<>();
    private final Set<Integer> known = new HashSet<>();
    private final Map<Integer, Integer> arrivals = new HashMap<>();
    private int grantedArrival;
    private int childrenToCome;
    private int grantedTo = NOBODY;
    /** Threads whose calls wait for the grant, first come first served: a thread that spins on sched_yield
     * cannot keep the one it waits for from running. */
    private final ArrayDeque<Integer> queue = new ArrayDeque<>();

    /**
     * A thread made an intercepted call: it no longer runs. A thread never seen before is a new child.
     *
     * @return the call's arrival number, which names it in {@link #acquire}, {@link #released}, {@link #relinquish}.
     */
    public synchronized int arrived(final int tid)
    {
        if (known.add(tid) && childrenToCome > 0)
        {
            childrenToCome--;
        }
        running.remove(tid);
        notifyAll();
        return arrivals.merge(tid, 1, Integer::sum);
    }

    /**
     * @return true if no thread runs and nobody holds the grant: the next call may be answered.
     */
    public synchronized boolean isFree()
    {
        return grantedTo == NOBODY && running.isEmpty() && childrenToCome == 0;
    }

    /**
     * Wait until no thread runs, then hold the grant for call {@code arrival} of {@code tid}; a no-op if that call
     * holds it already.
     */
    public synchronized void acquire(final int tid, final int arrival) throws InterruptedException
    {
        if (holds(tid, arrival))
        {
            return;
        }
        queue.add(tid);
        try
        {
            while (queue.peek() != tid || !isFree())
            {
                wait();
            }
        }
        finally
        {
            queue.remove(tid);
            notifyAll();
        }
        grantedTo = tid;
        grantedArrival = arrival;
    }

    /**
     * Call {@code arrival} of {@code tid} has been answered: the thread runs now (unless it has arrived again
     * already), and the grant is free for when it arrives.
     */
    public synchronized void released(final int tid, final int arrival)
    {
        answered(tid, arrival, true);
    }

    /**
     * Give the grant back without letting the thread run: its call waits (a futex wait), or it ran a call that
     * may block in the kernel (its next call will say when it is back), or it is gone.
     */
    public synchronized void relinquish(final int tid, final int arrival)
    {
        answered(tid, arrival, false);
    }

    /**
     * The grant of call {@code arrival} of {@code tid} ends; unless the thread has arrived again since, it runs or
     * not as {@code runs} says.
     */
    private void answered(final int tid, final int arrival, final boolean runs)
    {
        if (holds(tid, arrival))
        {
            grantedTo = NOBODY;
        }
        if (arrivals.getOrDefault(tid, 0) == arrival)
        {
            if (runs)
            {
                running.add(tid);
            }
            else
            {
                running.remove(tid);
            }
        }
        notifyAll();
    }

    private boolean holds(final int tid, final int arrival)
    {
        return grantedTo == tid && grantedArrival == arrival;
    }

    /**
     * A clone of the thread that holds the grant is about to run: its child runs too until its first call.
     */
    public synchronized void expectChild()
    {
        childrenToCome++;
    }

    /**
     * The clone made no child after all.
     */
    public synchronized void childNotMade()
    {
        if (childrenToCome > 0)
        {
            childrenToCome--;
            notifyAll();
        }
    }
}
