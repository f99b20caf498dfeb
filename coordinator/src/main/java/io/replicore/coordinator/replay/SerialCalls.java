package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import io.replicore.detscheduler.FutexTable;
import io.replicore.detscheduler.SerialToken;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.replicore.coordinator.intercept.Syscalls.*;

/**
 * The calls at which serial mode passes control between threads, as the primary answers them: futex waits and
 * wakes (answered from the coordinator's own futex table, so that lock hand-offs follow the log). Each returns the
 * value to answer; the caller logs it under the serial grant. (Sleeps and yields pass control too; PrimaryCalls
 * answers them in either mode.)
 * <p>
 * The futex commands glibc uses for mutexes, condition variables, joins and semaphores are handled (WAIT, WAKE
 * and their BITSET forms, private or shared, either clock); any other stops the replica naming it.
 */
final class SerialCalls
{
    static final int FUTEX_WAIT = 0;
    static final int FUTEX_WAKE = 1;
    static final int FUTEX_WAIT_BITSET = 9;
    static final int FUTEX_WAKE_BITSET = 10;
    private static final int FUTEX_PRIVATE_FLAG = 128;
    private static final int FUTEX_CLOCK_REALTIME = 256;
    private static final int FUTEX_BITSET_MATCH_ANY = 0xFFFF_FFFF;
    private static final int CLOCK_REALTIME = 0;
    private static final int CLOCK_MONOTONIC = 1;
    private static final int EAGAIN = 11;
    private static final int EFAULT = 14;
    private static final int EINVAL = 22;
    private static final int ETIMEDOUT = 110;
    private static final long SLICE_NS = TimeUnit.MILLISECONDS.toNanos(20);

    private final InterceptedCall call;
    private final SerialToken token;
    private final FutexTable futexes;
    private final PrimaryChecks whileWaiting;
    private final Native.Scratch scratch = Native.allocate(4);
    private final Timespecs times;

    SerialCalls(final InterceptedCall call, final ApplicationProcesses processes, final PrimaryChecks whileWaiting)
    {
        this.call = call;
        this.token = processes.serialToken();
        this.futexes = processes.futexes();
        this.whileWaiting = whileWaiting;
        this.times = new Timespecs(call);
    }

    /**
     * @return true for calls that may wait for the outside world or another thread: the primary waits without the
     * serial grant, so that other threads run meanwhile, and takes it once it has the result.
     */
    static boolean mayWait(final int nr)
    {
        return switch (nr)
        {
            case READ, PREAD64, READV, RECVFROM, RECVMSG, ACCEPT, ACCEPT4, CONNECT, EPOLL_WAIT, EPOLL_PWAIT, POLL,
                PPOLL, SELECT, PSELECT6, FUTEX, NANOSLEEP, CLOCK_NANOSLEEP -> true;
            default -> false;
        };
    }

    /**
     * @return the command of a futex operation, without its PRIVATE and CLOCK_REALTIME flags.
     */
    static int command(final int op)
    {
        return op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    }

    /**
     * @return true for the futex commands {@link #futex} answers.
     */
    static boolean isOrdered(final int op)
    {
        final int command = command(op);
        return command == FUTEX_WAIT || command == FUTEX_WAKE || command == FUTEX_WAIT_BITSET ||
            command == FUTEX_WAKE_BITSET;
    }

    /**
     * A futex wait or wake ({@link #isOrdered}); a wait returns once a wake of another thread lets it go, or at
     * its timeout.
     */
    long futex(final long address, final int op, final int value, final long timeout, final int bitsetArgument)
        throws ReplicaStop
    {
        final int command = command(op);
        final boolean bitset = command == FUTEX_WAIT_BITSET || command == FUTEX_WAKE_BITSET;
        final int mask = bitset ? bitsetArgument : FUTEX_BITSET_MATCH_ANY;
        if (mask == 0)
        {
            return -EINVAL;
        }
        acquire();
        if (command == FUTEX_WAKE || command == FUTEX_WAKE_BITSET)
        {
            return futexes.wake(call.process, address, value, mask);
        }
        if (call.memory.read(call.tid, address, scratch.address(), 4) != 4)
        {
            return -EFAULT;
        }
        if (scratch.buffer().getInt(0) != value)
        {
            return -EAGAIN;
        }
        final long deadlineNs;
        if (timeout == 0)
        {
            deadlineNs = Long.MAX_VALUE;
        }
        else
        {
            // WAIT's timeout is relative (on the monotonic clock); WAIT_BITSET's is absolute on the flag's clock.
            final long ns = times.read(timeout);
            if (ns < 0)
            {
                return ns == Timespecs.UNREADABLE ? -EFAULT : -EINVAL;
            }
            final int clock = (op & FUTEX_CLOCK_REALTIME) != 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
            deadlineNs = bitset ? times.deadlineOf(clock, ns) :
                System.nanoTime() + ns;
        }
        final FutexTable.Waiter waiter = futexes.enqueue(call.process, address, mask);
        token.relinquish(call.tid, call.arrival);
        if (await(waiter, deadlineNs))
        {
            return 0;
        }
        futexes.remove(call.process, address, waiter);
        return waiter.isWoken() ? 0 : -ETIMEDOUT;
    }

    /**
     * Wait for a wake, between slices checking that this replica is still the primary and the thread still there.
     *
     * @return true if woken.
     */
    private boolean await(final FutexTable.Waiter waiter, final long deadlineNs) throws ReplicaStop
    {
        final Path thread = Path.of("/proc", Integer.toString(call.tid));
        try
        {
            while (!waiter.await(deadlineNs, SLICE_NS))
            {
                if (System.nanoTime() - deadlineNs >= 0 || !Files.exists(thread))
                {
                    return false;
                }
                whileWaiting.check();
            }
            return true;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new ReplicaStop(call.nr, "interrupted while a futex wait was pending");
        }
    }

    /**
     * Take the serial grant for the call in hand: the futex table is changed only by the one running thread.
     */
    void acquire() throws ReplicaStop
    {
        try
        {
            token.acquire(call.tid, call.arrival);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new ReplicaStop(call.nr, "interrupted while waiting for the serial grant");
        }
    }

    /**
     * Give the grant back while the call in hand waits, without the thread running; {@link #acquire} takes it again.
     */
    void release()
    {
        token.relinquish(call.tid, call.arrival);
    }
}
