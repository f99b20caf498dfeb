package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import org.agrona.DirectBuffer;

/**
 * Times as the application passes them (struct timespec, struct timeval: seconds, then nanoseconds or microseconds)
 * read from its memory, and absolute times on its clocks turned into deadlines on {@link System#nanoTime}.
 */
final class Timespecs
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    static final int TIMESPEC_LENGTH = 16;
    static final long NANOS_PER_SECOND = 1_000_000_000L;
    /** Returned by {@link #read} for memory that cannot be read. */
    static final long UNREADABLE = Long.MIN_VALUE;
    /** Returned for a time whose fraction or seconds are out of range. */
    static final long INVALID = -1;

    private final InterceptedCall call;
    private final Native.Scratch scratch = Native.allocate(TIMESPEC_LENGTH);

    Timespecs(final InterceptedCall call)
    {
        this.call = call;
    }

    /**
     * @return the timespec at {@code address} of the calling thread in nanoseconds; {@link #UNREADABLE} or
     * {@link #INVALID}.
     */
    long read(final long address)
    {
        if (call.memory.read(call.tid, address, scratch.address(), TIMESPEC_LENGTH) != TIMESPEC_LENGTH)
        {
            return UNREADABLE;
        }
        return nanos(scratch.buffer(), 0, 1);
    }

    /**
     * @return the System.nanoTime at which {@code clock} reads {@code absoluteNs}.
     */
    long deadlineOf(final int clock, final long absoluteNs)
    {
        return System.nanoTime() + (absoluteNs - now(clock));
    }

    /**
     * @return what {@code clock} reads now, in nanoseconds (0 if it cannot be read).
     */
    long now(final int clock)
    {
        if (HOST.clock_gettime(clock, scratch.pointer()) != 0)
        {
            return 0;
        }
        return scratch.buffer().getLong(0) * NANOS_PER_SECOND + scratch.buffer().getLong(8);
    }

    /**
     * @param unit the nanoseconds in one unit of the fraction: 1 for a timespec, 1000 for a timeval.
     * @return the seconds and fraction at {@code offset} in nanoseconds (a time beyond 146 years is cut to that, so
     * that a deadline cannot wrap); {@link #INVALID} if either is out of range.
     */
    static long nanos(final DirectBuffer buffer, final int offset, final long unit)
    {
        final long seconds = buffer.getLong(offset);
        final long fraction = buffer.getLong(offset + 8);
        if (seconds < 0 || fraction < 0 || fraction >= NANOS_PER_SECOND / unit)
        {
            return INVALID;
        }
        return seconds > Long.MAX_VALUE / NANOS_PER_SECOND / 2 ? Long.MAX_VALUE / 2 :
            seconds * NANOS_PER_SECOND + fraction * unit;
    }
}
