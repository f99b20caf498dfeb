package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import static io.replicore.coordinator.intercept.Syscalls.*;

/**
 * The calls that set and read the application's signalling timers (alarm, setitimer, getitimer, timer_create,
 * timer_settime, timer_gettime, timer_getoverrun, timer_delete), applied to {@link Timers}: by the primary, which
 * answers from what they return, and by a backup after it has answered from the log, so that its timers stay in
 * step with the primary's.
 * <p>
 * Timers of CPU time (ITIMER_VIRTUAL, ITIMER_PROF, a POSIX timer on a CPU-time clock) stop the replica, naming the
 * call: each replica spends its own CPU time.
 */
final class TimerCalls
{
    private static final int ITIMER_REAL = 0;
    private static final int CLOCK_REALTIME = 0;
    private static final int CLOCK_MONOTONIC = 1;
    private static final int CLOCK_BOOTTIME = 7;
    private static final int CLOCK_TAI = 11;
    private static final int TIMER_ABSTIME = 1;
    private static final int SIGEV_SIGNAL = 0;
    private static final int SIGEV_NONE = 1;
    private static final int SIGEV_THREAD_ID = 4;
    private static final int SIGNAL_MAX = 64;
    private static final int EFAULT = 14;
    private static final int EINVAL = 22;
    private static final long NANOS_PER_SECOND = Timespecs.NANOS_PER_SECOND;
    private static final long NANOS_PER_MICRO = 1_000L;
    /** struct itimerval and struct itimerspec: the interval, then the value, each two longs. */
    static final int INTERVAL_OFFSET = 0;
    static final int VALUE_OFFSET = 16;
    static final int TIMER_VALUE_LENGTH = 32;
    /** struct sigevent: sigev_value (8), sigev_signo (4), sigev_notify (4), then the thread id for SIGEV_THREAD_ID. */
    private static final int SIGEV_VALUE_OFFSET = 0;
    private static final int SIGEV_SIGNO_OFFSET = 8;
    private static final int SIGEV_NOTIFY_OFFSET = 12;
    private static final int SIGEV_THREAD_ID_OFFSET = 16;
    private static final int SIGEVENT_READ_LENGTH = 20;
    /** The answer's bytes when there are none for the application. */
    static final int NONE = 0;

    private final InterceptedCall call;
    private final Timers timers;
    private final Native.Scratch scratch = Native.allocate(TIMER_VALUE_LENGTH);
    private final Timespecs times;
    private final UnsafeBuffer replayed = new UnsafeBuffer(new byte[TIMER_VALUE_LENGTH]);
    private final long[] old = new long[2];
    private long outAddress;
    private int outLength;

    TimerCalls(final InterceptedCall call, final Timers timers)
    {
        this.call = call;
        this.timers = timers;
        this.times = new Timespecs(call);
    }

    /**
     * @return true for the calls this class applies.
     */
    static boolean isTimerCall(final int nr)
    {
        return switch (nr)
        {
            case ALARM, SETITIMER, GETITIMER, TIMER_CREATE, TIMER_SETTIME, TIMER_GETTIME, TIMER_GETOVERRUN,
                TIMER_DELETE -> true;
            default -> false;
        };
    }

    /**
     * @return where in the application the bytes {@link #apply} put in its buffer go; 0 if none do.
     */
    long outAddress()
    {
        return outAddress;
    }

    /**
     * @return how many bytes {@link #apply} put in its buffer for {@link #outAddress}.
     */
    int outLength()
    {
        return outLength;
    }

    /**
     * Apply the call in hand (the primary's).
     *
     * @param out receives, from {@code offset}, the bytes the application is to get at {@link #outAddress}: an old
     * value, a new timer's id.
     * @return the call's answer: 0, the seconds alarm's timer had left, an overrun count, or -errno.
     */
    long apply(final MutableDirectBuffer out, final int offset) throws ReplicaStop
    {
        return apply(out, offset, -1);
    }

    /**
     * A backup answers the call in hand with {@code result} from the log: apply it to this replica's timers too,
     * before the answer lets the application change the memory it reads.
     *
     * @param createdId for timer_create, the id the primary's gave.
     */
    void replayed(final long result, final int createdId) throws ReplicaStop
    {
        if (result >= 0) // a call that failed changed nothing
        {
            apply(replayed, 0, createdId);
        }
    }

    private long apply(final MutableDirectBuffer out, final int offset, final int createdId) throws ReplicaStop
    {
        outAddress = 0;
        outLength = NONE;
        final long[] a = call.args;
        final int owner = call.logicalPid;
        return switch (call.nr)
        {
            case ALARM -> alarm(owner, a[0] & 0xFFFF_FFFFL);
            case SETITIMER -> setitimer(owner, (int)a[0], a[1], a[2], out, offset);
            case GETITIMER -> getitimer(owner, (int)a[0], a[1], out, offset);
            case TIMER_CREATE -> timerCreate(owner, (int)a[0], a[1], a[2], out, offset, createdId);
            case TIMER_SETTIME -> timerSettime(owner, (int)a[0], (int)a[1], a[2], a[3], out, offset);
            case TIMER_GETTIME -> timerGettime(owner, (int)a[0], a[1], out, offset);
            case TIMER_GETOVERRUN -> overrun(owner, (int)a[0]);
            case TIMER_DELETE -> timers.delete(owner, (int)a[0]) ? 0 : -EINVAL;
            default -> throw new IllegalStateException(call.name() + " is not a timer call");
        };
    }

    /**
     * alarm: the seconds the timer had left, rounded as the kernel rounds them (half a second up, never 0 for a
     * timer that was armed).
     */
    private long alarm(final int owner, final long seconds)
    {
        timers.set(owner, Timers.REAL, seconds * NANOS_PER_SECOND, 0, old);
        final long whole = old[0] / NANOS_PER_SECOND;
        final long fraction = old[0] % NANOS_PER_SECOND;
        return (whole == 0 && fraction > 0) || fraction >= NANOS_PER_SECOND / 2 ? whole + 1 : whole;
    }

    private long setitimer(final int owner, final int which, final long value, final long oldValue,
        final MutableDirectBuffer out, final int offset) throws ReplicaStop
    {
        realOnly(which);
        long valueNs = 0;
        long intervalNs = 0;
        if (value != 0) // a null value disarms, as Linux allows
        {
            if (!readTimerValue(value))
            {
                return -EFAULT;
            }
            valueNs = Timespecs.nanos(scratch.buffer(), VALUE_OFFSET, NANOS_PER_MICRO);
            intervalNs = Timespecs.nanos(scratch.buffer(), INTERVAL_OFFSET, NANOS_PER_MICRO);
            if (valueNs < 0 || intervalNs < 0)
            {
                return -EINVAL;
            }
        }
        timers.set(owner, Timers.REAL, valueNs, intervalNs, old);
        putOld(out, offset, oldValue, NANOS_PER_MICRO);
        return 0;
    }

    private long getitimer(final int owner, final int which, final long current, final MutableDirectBuffer out,
        final int offset) throws ReplicaStop
    {
        realOnly(which);
        timers.get(owner, Timers.REAL, old);
        putOld(out, offset, current, NANOS_PER_MICRO);
        return 0;
    }

    private long timerCreate(final int owner, final int clock, final long event, final long idAddress,
        final MutableDirectBuffer out, final int offset, final int createdId) throws ReplicaStop
    {
        if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME && clock != CLOCK_TAI)
        {
            throw new ReplicaStop(call.nr, call.name() + " on clock " + clock + " (a CPU-time or alarm clock) " +
                "cannot be replicated by this version");
        }
        int signo = Timers.SIGALRM;
        int thread = Timers.ANY_THREAD;
        long value = Timers.ID_AS_VALUE;
        if (event != 0)
        {
            if (call.memory.read(call.tid, event, scratch.address(), SIGEVENT_READ_LENGTH) != SIGEVENT_READ_LENGTH)
            {
                return -EFAULT;
            }
            final int notify = scratch.buffer().getInt(SIGEV_NOTIFY_OFFSET);
            value = scratch.buffer().getLong(SIGEV_VALUE_OFFSET);
            signo = notify == SIGEV_NONE ? 0 : scratch.buffer().getInt(SIGEV_SIGNO_OFFSET);
            if (notify == SIGEV_THREAD_ID)
            {
                thread = scratch.buffer().getInt(SIGEV_THREAD_ID_OFFSET);
            }
            else if (notify != SIGEV_SIGNAL && notify != SIGEV_NONE)
            {
                return -EINVAL;
            }
            if (signo < 0 || signo > SIGNAL_MAX || (notify != SIGEV_NONE && signo == 0))
            {
                return -EINVAL;
            }
        }
        final int id = timers.create(owner, createdId, clock, signo, thread, value);
        out.putInt(offset, id);
        outAddress = idAddress;
        outLength = 4;
        return 0;
    }

    private long timerSettime(final int owner, final int id, final int flags, final long value, final long oldValue,
        final MutableDirectBuffer out, final int offset)
    {
        if (!timers.exists(owner, id))
        {
            return -EINVAL;
        }
        if (!readTimerValue(value))
        {
            return -EFAULT;
        }
        long valueNs = Timespecs.nanos(scratch.buffer(), VALUE_OFFSET, 1);
        final long intervalNs = Timespecs.nanos(scratch.buffer(), INTERVAL_OFFSET, 1);
        if (valueNs < 0 || intervalNs < 0)
        {
            return -EINVAL;
        }
        if ((flags & TIMER_ABSTIME) != 0 && valueNs > 0)
        {
            // A time already past expires at once.
            valueNs = Math.max(1, valueNs - times.now(timers.clockOf(owner, id)));
        }
        timers.set(owner, id, valueNs, intervalNs, old);
        putOld(out, offset, oldValue, 1);
        return 0;
    }

    private long timerGettime(final int owner, final int id, final long current, final MutableDirectBuffer out,
        final int offset)
    {
        if (!timers.get(owner, id, old))
        {
            return -EINVAL;
        }
        putOld(out, offset, current, 1);
        return 0;
    }

    private long overrun(final int owner, final int id)
    {
        final int overrun = timers.overrun(owner, id);
        return overrun < 0 ? -EINVAL : overrun;
    }

    private void realOnly(final int which) throws ReplicaStop
    {
        if (which != ITIMER_REAL)
        {
            throw new ReplicaStop(call.nr, call.name() + " of a CPU-time timer (ITIMER_VIRTUAL, ITIMER_PROF) " +
                "cannot be replicated by this version");
        }
    }

    private boolean readTimerValue(final long address)
    {
        return call.memory.read(call.tid, address, scratch.address(), TIMER_VALUE_LENGTH) == TIMER_VALUE_LENGTH;
    }

    /**
     * Put {@link #old} at {@code offset} as an itimerval (unit 1000: microseconds) or itimerspec (unit 1), to go
     * to {@code address} if it is not null.
     */
    private void putOld(final MutableDirectBuffer out, final int offset, final long address, final long unit)
    {
        if (address == 0)
        {
            return;
        }
        out.putLong(offset + INTERVAL_OFFSET, old[1] / NANOS_PER_SECOND);
        out.putLong(offset + INTERVAL_OFFSET + 8, old[1] % NANOS_PER_SECOND / unit);
        out.putLong(offset + VALUE_OFFSET, old[0] / NANOS_PER_SECOND);
        // A timer with less than a unit left still reads as armed.
        out.putLong(offset + VALUE_OFFSET + 8, old[0] > 0 && old[0] < unit ? 1 : old[0] % NANOS_PER_SECOND / unit);
        outAddress = address;
        outLength = TIMER_VALUE_LENGTH;
    }
}
