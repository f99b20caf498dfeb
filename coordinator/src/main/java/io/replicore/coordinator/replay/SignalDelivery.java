package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.detscheduler.ChildWatch;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

import static io.replicore.coordinator.intercept.Syscalls.*;
import static io.replicore.coordinator.replay.LogRecord.*;

/**
 * Signals the operator asks for ({@code replicore signal}), and those the application's processes send each other
 * (kill, tkill, tgkill), delivered at a point every replica reproduces: only to a thread that is stopped in an
 * intercepted call (the primary logs the SIGNAL record first, then sends the signal with tgkill, and a backup sends
 * it to its own thread in the same call), or asleep in a call that waits for a signal (rt_sigsuspend, pause), which
 * runs in the kernel in every replica.
 * <p>
 * Whether the signal interrupts the call is read from the thread's masks in /proc: a signal the thread blocks
 * stays pending and one it ignores is dropped, and the call goes on; one it catches, or whose default action ends
 * the process, withdraws the call's notification, and the kernel makes the call again or fails it with EINTR after
 * the handler; for a wait the kernel never restarts (epoll_wait, poll, select, sleeps), a restart is failed with
 * EINTR. Shared by the primary's lanes.
 */
public final class SignalDelivery
{
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    /** Signals whose default action is to do nothing (SIGCHLD, SIGCONT, SIGURG, SIGWINCH). */
    private static final long DEFAULT_IGNORED = bit(17) | bit(18) | bit(23) | bit(28);
    /** The longest a signal that interrupts may take to withdraw the call. */
    static final long WITHDRAW_LIMIT_NS = TimeUnit.SECONDS.toNanos(5);
    /** A signal the application sent itself: no operator's command to answer. */
    static final int NO_COMMAND = -1;
    static final int ANY_THREAD = 0;

    private final ArrayDeque<int[]> pending = new ArrayDeque<>();
    private volatile boolean any;
    /** Threads asleep in a call that waits for a signal, by host id: {logical tid, process, logical pid, nr}. */
    private final Map<Integer, int[]> asleep = new ConcurrentHashMap<>();
    private final IntConsumer delivered;
    /**
     * Threads whose wait a signal interrupted, by host id: the call's number and signature. A wait the kernel never
     * restarts after a handler (signal(7)) comes back restarted from a seccomp notification under a handler with
     * SA_RESTART: the thread's next call of that number, after the handler's own calls, fails with EINTR if it is
     * the same call, as the kernel's would have. (Under a handler without SA_RESTART the wait has failed with EINTR
     * already; a program that makes the same wait again at once gets one more EINTR, which it is ready for.)
     */
    private final Map<Integer, long[]> interruptedWaits = new ConcurrentHashMap<>();
    private final UnsafeBuffer asleepRecord = new UnsafeBuffer(new byte[CALL_HEADER_LENGTH]);

    /**
     * @param delivered told the command sequence of each signal once it has been delivered.
     */
    public SignalDelivery(final IntConsumer delivered)
    {
        this.delivered = delivered;
    }

    /**
     * Deliver {@code signo} to process {@code owner} (its id inside the replica) at its next chance.
     *
     * @param sequence the operator's command to answer once delivered, or {@link #NO_COMMAND}.
     */
    public void post(final int owner, final int signo, final int sequence)
    {
        post(owner, ANY_THREAD, signo, sequence);
    }

    /**
     * Deliver {@code signo} to thread {@code thread} (its id inside the replica; {@link #ANY_THREAD}: any) of process
     * {@code owner} at its next chance.
     */
    synchronized void post(final int owner, final int thread, final int signo, final int sequence)
    {
        pending.add(new int[]{owner, thread, signo, sequence});
        any = true;
    }

    /**
     * @return a signal waiting for thread {@code thread} of process {@code owner}, taken off the queue, as {signal,
     * command sequence}; null if there is none.
     */
    synchronized int[] take(final int owner, final int thread)
    {
        if (!any)
        {
            return null;
        }
        for (final int[] signal : pending)
        {
            if (isFor(signal, owner, thread))
            {
                pending.remove(signal);
                any = !pending.isEmpty();
                return new int[]{signal[2], signal[3]};
            }
        }
        return null;
    }

    boolean isPendingFor(final int owner, final int thread)
    {
        if (!any)
        {
            return false;
        }
        synchronized (this)
        {
            return pending.stream().anyMatch(signal -> isFor(signal, owner, thread));
        }
    }

    private static boolean isFor(final int[] signal, final int owner, final int thread)
    {
        return signal[0] == owner && (signal[1] == ANY_THREAD || signal[1] == thread);
    }

    void delivered(final int sequence)
    {
        if (sequence != NO_COMMAND)
        {
            delivered.accept(sequence);
        }
    }

    /**
     * The thread of {@code call} goes to sleep in it (rt_sigsuspend or pause, let run in the kernel).
     */
    void asleep(final InterceptedCall call)
    {
        asleep.put(call.tid, new int[]{call.logicalTid, call.process, call.logicalPid, call.nr});
    }

    /**
     * The thread {@code tid} made another call: it no longer sleeps in the last one.
     *
     * @return true if this call is the wait a signal just interrupted, made again: it is to fail with EINTR.
     */
    boolean awake(final int tid, final InterceptedCall call)
    {
        if (!asleep.isEmpty())
        {
            asleep.remove(tid);
        }
        if (interruptedWaits.isEmpty())
        {
            return false;
        }
        final long[] interrupted = interruptedWaits.get(tid);
        if (interrupted == null || interrupted[0] != call.nr)
        {
            return false; // the handler's own calls come first
        }
        interruptedWaits.remove(tid);
        return interrupted[1] == call.signatureOfArguments();
    }

    /**
     * A signal interrupted {@code call}, stopped in its notification.
     */
    void interrupted(final InterceptedCall call)
    {
        if (isNeverRestarted(call.nr))
        {
            interruptedWaits.put(call.tid, new long[]{call.nr, call.signatureOfArguments()});
        }
    }

    /**
     * @return true for the waits signal(7) says are never restarted after a handler, whatever SA_RESTART says.
     */
    private static boolean isNeverRestarted(final int nr)
    {
        return switch (nr)
        {
            case EPOLL_WAIT, EPOLL_PWAIT, POLL, PPOLL, SELECT, PSELECT6, NANOSLEEP, CLOCK_NANOSLEEP, PAUSE,
                RT_SIGSUSPEND -> true;
            default -> false;
        };
    }

    /**
     * Deliver waiting signals to processes that have a thread asleep in a call that waits for one: logged as
     * SIGNAL_ASLEEP, then sent. Called by the primary between calls.
     */
    public synchronized void deliverToSleepers(final LogSink log) throws ReplicaStop
    {
        if (!any || asleep.isEmpty())
        {
            return;
        }
        for (final Map.Entry<Integer, int[]> entry : asleep.entrySet())
        {
            final int tid = entry.getKey();
            final int[] thread = entry.getValue();
            if (!Files.exists(Path.of("/proc", Integer.toString(tid))))
            {
                asleep.remove(tid);
                continue;
            }
            if (!ChildWatch.sleepsIn(tid, thread[3]))
            {
                continue; // not there yet, or woken: it will make a call
            }
            final int[] signal = take(thread[2], thread[0]);
            if (signal == null)
            {
                continue;
            }
            asleep.remove(tid);
            LogRecord.putCall(asleepRecord, 0, thread[3], ACTION_SIGNAL_ASLEEP, 0, signal[0]);
            asleepRecord.putInt(THREAD_INDEX_OFFSET, thread[0]);
            log.append(TYPE_CALL, asleepRecord, 0, CALL_HEADER_LENGTH);
            send(thread[1], tid, signal[0]);
            delivered(signal[1]);
        }
    }

    /**
     * Send {@code signo} to thread {@code tid} of process {@code process} (host ids).
     */
    static void send(final int process, final int tid, final int signo)
    {
        PROCESS.tgkill(process, tid, signo);
    }

    /**
     * @return true if {@code signo} sent to thread {@code tid} now would withdraw the call it is stopped in: the
     * thread does not block it, and its process catches it or its default action ends the process.
     */
    static boolean interrupts(final int process, final int tid, final int signo)
    {
        final String status;
        try
        {
            status = Files.readString(Path.of("/proc", Integer.toString(process), "task", Integer.toString(tid),
                "status"));
        }
        catch (final IOException ex)
        {
            return false; // the thread is gone: nothing to interrupt
        }
        final long bit = bit(signo);
        if ((mask(status, "SigBlk:") & bit) != 0 || (mask(status, "SigIgn:") & bit) != 0)
        {
            return false;
        }
        return (mask(status, "SigCgt:") & bit) != 0 || (DEFAULT_IGNORED & bit) == 0;
    }

    /**
     * Wait until the call {@code stillCurrent} says is in hand has been withdrawn.
     *
     * @return false if it was not within {@link #WITHDRAW_LIMIT_NS}.
     */
    static boolean awaitWithdrawn(final BooleanSupplier stillCurrent)
    {
        final long deadline = System.nanoTime() + WITHDRAW_LIMIT_NS;
        while (stillCurrent.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                return false;
            }
            LockSupport.parkNanos(20_000);
        }
        return true;
    }

    private static long mask(final String status, final String key)
    {
        final int start = status.indexOf(key);
        if (start < 0)
        {
            return 0;
        }
        final int end = status.indexOf('\n', start);
        return Long.parseUnsignedLong(status.substring(start + key.length(), end < 0 ? status.length() : end).trim(),
            16);
    }

    private static long bit(final int signo)
    {
        return 1L << (signo - 1);
    }
}
