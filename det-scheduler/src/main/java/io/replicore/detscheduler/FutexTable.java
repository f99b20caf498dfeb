package io.replicore.detscheduler;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Serial mode's futexes: the coordinator answers futex waits and wakes itself, so that which waiter a wake lets
 * go, and when, is decided in the log's order rather than by the kernel. Waiters are kept in arrival order per
 * (process, address); a wake lets the first matching ones go. Callers hold the serial grant, so at most one
 * thread changes the table at a time; the table is still thread-safe for the lanes that wait on it.
 * <p>
 * Futexes are keyed by process and address: a futex shared between processes through shared memory is not
 * matched across them (serial mode is for threads; use parallel mode for such programs).
 */
public final class FutexTable
{
    /** One thread waiting on a futex. */
    public static final class Waiter
    {
        private final int bitset;
        private boolean woken;

        Waiter(final int bitset)
        {
            this.bitset = bitset;
        }

        /**
         * Wait until woken or {@code deadlineNs} (System.nanoTime; Long.MAX_VALUE: none) passes, at most {@code
         * sliceNs} at a time so that the caller can look around between slices.
         *
         * @return true if woken.
         */
        public synchronized boolean await(final long deadlineNs, final long sliceNs) throws InterruptedException
        {
            if (!woken)
            {
                final long leftNs = Math.min(sliceNs, deadlineNs - System.nanoTime());
                if (leftNs > 0)
                {
                    wait(Math.max(1, leftNs / 1_000_000), 0);
                }
            }
            return woken;
        }

        public synchronized boolean isWoken()
        {
            return woken;
        }

        synchronized void wake()
        {
            woken = true;
            notifyAll();
        }
    }

    private record Key(int process, long address)
    {
    }

    private final Map<Key, ArrayDeque<Waiter>> waiters = new HashMap<>();

    /**
     * Queue a waiter on {@code address} of {@code process}; the caller has checked the futex word.
     */
    public synchronized Waiter enqueue(final int process, final long address, final int bitset)
    {
        final Waiter waiter = new Waiter(bitset);
        waiters.computeIfAbsent(new Key(process, address), key -> new ArrayDeque<>()).add(waiter);
        return waiter;
    }

    /**
     * Take a waiter that timed out (or whose thread is gone) off its queue; a no-op if it was woken meanwhile.
     */
    public synchronized void remove(final int process, final long address, final Waiter waiter)
    {
        final ArrayDeque<Waiter> queue = waiters.get(new Key(process, address));
        if (queue != null)
        {
            queue.remove(waiter);
        }
    }

    /**
     * Wake up to {@code count} waiters on {@code address} of {@code process} whose bitset shares a bit with
     * {@code bitset}, first come first woken.
     *
     * @return how many were woken.
     */
    public synchronized int wake(final int process, final long address, final int count, final int bitset)
    {
        final ArrayDeque<Waiter> queue = waiters.get(new Key(process, address));
        int woken = 0;
        if (queue != null)
        {
            final Iterator<Waiter> it = queue.iterator();
            while (it.hasNext() && woken < count)
            {
                final Waiter waiter = it.next();
                if ((waiter.bitset & bitset) != 0)
                {
                    it.remove();
                    waiter.wake();
                    woken++;
                }
            }
        }
        return woken;
    }

    /**
     * A thread of {@code process} ended: the kernel cleared its thread-id word and woke the futex there, which
     * only the kernel's own waiters see. Every waiter of the process is woken instead; futex waits may return
     * early, and their callers look at the word again.
     */
    public synchronized void threadEnded(final int process)
    {
        final List<Key> keys = new ArrayList<>();
        waiters.forEach((key, queue) ->
        {
            if (key.process() == process)
            {
                queue.forEach(Waiter::wake);
                keys.add(key);
            }
        });
        keys.forEach(waiters::remove);
    }
}
