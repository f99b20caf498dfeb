package io.replicore.coordinator.replay;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * The application's timers that end in a signal (alarm and setitimer's ITIMER_REAL, and POSIX timers), kept by the
 * coordinator instead of the kernel. A kernel timer's signal lands wherever the thread happens to be when it
 * expires, in each replica on its own; here the primary's timer only posts its signal to {@link SignalDelivery},
 * which delivers it at a logged point (5b). Every backup keeps the same timers from the calls it replays, armed on
 * its own clock, so that one that takes over goes on firing them.
 * <p>
 * A process's ITIMER_REAL is its timer {@link #REAL}; its POSIX timers have the ids the kernel would have handed
 * out (0, 1, 2... in creation order). Deadlines are on {@link System#nanoTime}. Thread-safe: the primary's lanes
 * and its checks between calls share one.
 */
public final class Timers
{
    /** The id under which a process's ITIMER_REAL (alarm, setitimer) is kept. */
    static final int REAL = -1;
    static final int SIGALRM = 14;
    private static final int CLOCK_REALTIME = 0;
    /** A timer's signal goes to any thread of its process. */
    static final int ANY_THREAD = SignalDelivery.ANY_THREAD;
    /** {@link #create}: the timer's value is its id. */
    static final long ID_AS_VALUE = Long.MIN_VALUE;

    /**
     * One armed or disarmed timer.
     */
    private static final class Timer
    {
        final int clock;
        final int signo;
        final int thread;
        /** Its sigev_value, which its signal's siginfo carries. */
        final long value;
        long deadlineNs;
        long intervalNs;
        boolean armed;
        /** Expirations that came while the last one's signal was still waiting to be delivered. */
        int overrun;

        Timer(final int clock, final int signo, final int thread, final long value)
        {
            this.clock = clock;
            this.signo = signo;
            this.thread = thread;
            this.value = value;
        }
    }

    private final Map<Long, Timer> timers = new HashMap<>();
    private final Map<Integer, Integer> nextIds = new HashMap<>();

    /**
     * Create a POSIX timer of process {@code owner} (its id inside the replica), disarmed.
     *
     * @param id the id to give it (a backup's, from the log), or -1 for the next the kernel would hand out.
     * @param clock the clock an absolute time given to it is on.
     * @param signo its signal; 0 for a timer that signals nothing (SIGEV_NONE).
     * @param thread the thread its signal goes to (SIGEV_THREAD_ID), or {@link #ANY_THREAD}.
     * @param value its sigev_value; {@link #ID_AS_VALUE}: its id, as the kernel gives a timer made without a
     * sigevent.
     * @return its id.
     */
    synchronized int create(final int owner, final int id, final int clock, final int signo, final int thread,
        final long value)
    {
        final int created = id >= 0 ? id : nextIds.getOrDefault(owner, 0);
        nextIds.put(owner, created + 1);
        timers.put(key(owner, created), new Timer(clock, signo, thread, value == ID_AS_VALUE ? created : value));
        return created;
    }

    /**
     * @return the clock of timer {@code id} of {@code owner}, which {@link #exists}.
     */
    synchronized int clockOf(final int owner, final int id)
    {
        return timerOf(owner, id).clock;
    }

    /**
     * @return true if process {@code owner} has timer {@code id} ({@link #REAL} always exists).
     */
    synchronized boolean exists(final int owner, final int id)
    {
        return id == REAL || timers.containsKey(key(owner, id));
    }

    /**
     * Arm timer {@code id} of {@code owner} to expire {@code valueNs} from now and then every {@code intervalNs}
     * (0: once), or disarm it ({@code valueNs} 0), writing what it had left into {@code old}.
     *
     * @param old {time left, interval} before, in nanoseconds.
     * @return false if there is no such timer.
     */
    synchronized boolean set(final int owner, final int id, final long valueNs, final long intervalNs,
        final long[] old)
    {
        final Timer timer = timerOf(owner, id);
        if (timer == null)
        {
            return false;
        }
        left(timer, old);
        timer.armed = valueNs > 0;
        timer.deadlineNs = System.nanoTime() + valueNs;
        timer.intervalNs = timer.armed ? intervalNs : 0;
        return true;
    }

    /**
     * Write timer {@code id}'s time left and interval into {@code current}.
     *
     * @return false if there is no such timer.
     */
    synchronized boolean get(final int owner, final int id, final long[] current)
    {
        final Timer timer = timerOf(owner, id);
        if (timer == null)
        {
            return false;
        }
        left(timer, current);
        return true;
    }

    /**
     * @return the overrun count of POSIX timer {@code id}, or -1 if there is no such timer.
     */
    synchronized int overrun(final int owner, final int id)
    {
        final Timer timer = timers.get(key(owner, id));
        return timer == null ? -1 : timer.overrun;
    }

    /**
     * @return false if there was no such POSIX timer.
     */
    synchronized boolean delete(final int owner, final int id)
    {
        return timers.remove(key(owner, id)) != null;
    }

    /**
     * Post the signal of every timer that has expired to {@code signals}; one whose last signal is still waiting
     * there counts an overrun instead, as the kernel queues a timer's signal once. Called by the primary between
     * calls.
     *
     * @param alive says whether a process (its id inside the replica) still exists; the timers of one that does
     * not are dropped.
     */
    public synchronized void fireDue(final SignalDelivery signals, final IntPredicate alive)
    {
        if (timers.isEmpty())
        {
            return;
        }
        final long now = System.nanoTime();
        for (final Iterator<Map.Entry<Long, Timer>> i = timers.entrySet().iterator(); i.hasNext(); )
        {
            final Map.Entry<Long, Timer> entry = i.next();
            final Timer timer = entry.getValue();
            if (!timer.armed || now - timer.deadlineNs < 0)
            {
                continue;
            }
            final int owner = ownerOf(entry.getKey());
            if (!alive.test(owner))
            {
                i.remove();
                continue;
            }
            int expirations = 1;
            if (timer.intervalNs > 0)
            {
                final long late = now - timer.deadlineNs;
                expirations += (int)Math.min(Integer.MAX_VALUE - 1, late / timer.intervalNs);
                timer.deadlineNs += timer.intervalNs * expirations;
            }
            else
            {
                timer.armed = false;
            }
            if (timer.signo == 0)
            {
                continue;
            }
            final int id = idOf(entry.getKey());
            // ITIMER_REAL's SIGALRM is an ordinary signal, one pending at a time; a POSIX timer's is its own.
            if (id == REAL ? signals.isQueued(owner, timer.thread, timer.signo) : signals.isQueuedTimer(owner, id))
            {
                timer.overrun += expirations;
            }
            else
            {
                timer.overrun = expirations - 1;
                if (id == REAL)
                {
                    signals.post(owner, timer.thread, timer.signo, SignalDelivery.NO_COMMAND);
                }
                else
                {
                    signals.postTimer(owner, timer.thread, timer.signo, id, timer.value);
                }
            }
        }
    }

    /**
     * @return process {@code owner}'s timer {@code id}; its ITIMER_REAL is made on first use.
     */
    private Timer timerOf(final int owner, final int id)
    {
        if (id != REAL)
        {
            return timers.get(key(owner, id));
        }
        return timers.computeIfAbsent(key(owner, REAL), k -> new Timer(CLOCK_REALTIME, SIGALRM, ANY_THREAD, 0));
    }

    private static void left(final Timer timer, final long[] into)
    {
        // An armed timer has at least a nanosecond left: 0 would say it is disarmed.
        into[0] = timer.armed ? Math.max(1, timer.deadlineNs - System.nanoTime()) : 0;
        into[1] = timer.intervalNs;
    }

    private static long key(final int owner, final int id)
    {
        return ((long)owner << 32) | (id & 0xFFFF_FFFFL);
    }

    private static int ownerOf(final long key)
    {
        return (int)(key >>> 32);
    }

    private static int idOf(final long key)
    {
        return (int)key;
    }
}
