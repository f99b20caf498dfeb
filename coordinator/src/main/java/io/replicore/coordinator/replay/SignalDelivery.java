package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.detscheduler.ChildWatch;
import io.replicore.detscheduler.ThreadIds;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;

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
 * <p>
 * A child's end is delivered the same way ({@link ChildEnds}): its held exit_group waits here for a point of its
 * parent, where the primary logs it and lets it run instead of sending a signal; and besides the calls that wait
 * for a signal, a parent asleep in wait4, waitid or vfork takes it. One its parent meets no point for within
 * {@link #END_PATIENCE_NS} is let run at no point of the parent (END_RELEASED), so that a parent that computes
 * for long, or blocks where no point is looked for, does not keep the child's descriptors open meanwhile.
 */
public final class SignalDelivery
{
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    /** Signals whose default action is to do nothing (SIGCHLD, SIGCONT, SIGURG, SIGWINCH). */
    private static final long DEFAULT_IGNORED = bit(17) | bit(18) | bit(23) | bit(28);
    /** Signals whose default action stops the process (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU). */
    private static final long DEFAULT_STOPS = bit(19) | bit(20) | bit(21) | bit(22);
    private static final int EINTR = 4;
    /** {@link #awake}: the call is no interrupted one made again, and is handled as any call. */
    static final long NO_ANSWER = Long.MIN_VALUE;
    /** {@link #effectOf}: the kernel drops the signal (the process ignores it, or its default is to). */
    static final int DROPPED = 0;
    /** {@link #effectOf}: the thread blocks it; it stays pending and the call goes on. */
    static final int PENDING = 1;
    /** {@link #effectOf}: a handler takes it (or it stops the process): the call is withdrawn. */
    static final int INTERRUPTS = 2;
    /** {@link #effectOf}: its default action ends the process: the call is withdrawn with it. */
    static final int ENDS = 3;
    /** The longest a signal that interrupts may take to withdraw the call. */
    static final long WITHDRAW_LIMIT_NS = TimeUnit.SECONDS.toNanos(5);
    /** A signal the application sent itself: no operator's command to answer. */
    static final int NO_COMMAND = -1;
    static final int ANY_THREAD = 0;
    /** How long a child's held end waits for a point of its parent before it is let run at none. */
    public static final long END_PATIENCE_NS = TimeUnit.SECONDS.toNanos(1);
    /**
     * A pending entry: {process, thread, signal, command sequence, held end's thread (0: a signal), posted at, the
     * POSIX timer whose signal it is ({@link #NO_TIMER}: none), that timer's value}. {@link #take} hands one out.
     */
    private static final int OWNER = 0;
    private static final int THREAD = 1;
    static final int SIGNO = 2;
    static final int SEQUENCE = 3;
    static final int ENDED = 4;
    private static final int POSTED_AT = 5;
    static final int TIMER = 6;
    static final int VALUE = 7;
    static final long NO_TIMER = Long.MIN_VALUE;

    private final ArrayDeque<long[]> pending = new ArrayDeque<>();
    private volatile boolean any;
    /** Threads asleep in a call that waits for a signal, by host id: {logical tid, process, logical pid, nr}. */
    private final Map<Integer, int[]> asleep = new ConcurrentHashMap<>();
    private final IntConsumer delivered;
    /**
     * Threads whose call a signal interrupted, by host id: the call's number, signature and the answer it is to get
     * when the kernel makes it again. A wait the kernel never restarts after a handler (signal(7)) comes back
     * restarted from a seccomp notification under a handler with SA_RESTART: the thread's next call of that number,
     * after the handler's own calls, fails with EINTR if it is the same call, as the kernel's would have. (Under a
     * handler without SA_RESTART the wait has failed with EINTR already; a program that makes the same wait again at
     * once gets one more EINTR, which it is ready for.) An output whose SIGPIPE a handler took fails with EPIPE when
     * it is made again, the same call only, since the handler's own writes come first.
     */
    private final Map<Integer, long[]> interruptedCalls = new ConcurrentHashMap<>();
    private final UnsafeBuffer asleepRecord = new UnsafeBuffer(new byte[CALL_HEADER_LENGTH +
        TimerSignalInfo.SEGMENT_LENGTH]);
    private final TimerSignalInfo asleepInfo = new TimerSignalInfo();
    private final ChildEnds ends;
    private final Timers timers;

    /**
     * @param delivered told the command sequence of each signal once it has been delivered.
     * @param ends the held ends of the application's processes; those held already (by a backup that takes over)
     * are posted to their parents.
     * @param timers the application's timers that signal; those a backup that takes over kept go on here.
     */
    public SignalDelivery(final IntConsumer delivered, final ChildEnds ends, final Timers timers)
    {
        this.delivered = delivered;
        this.ends = ends;
        this.timers = timers;
        // A backup's held ends, now this primary's to deliver: to the parent each has now (its own may have ended).
        for (final ChildEnds.HeldEnd end : ends.held())
        {
            final int parent = ends.parentOf(end.process());
            postEnd(end, parent < 0 ? end.parent() : parent);
        }
    }

    public ChildEnds ends()
    {
        return ends;
    }

    Timers timers()
    {
        return timers;
    }

    /**
     * Post the signals of the timers that have expired ({@link Timers#fireDue}). Called by the primary between
     * calls.
     *
     * @param alive says whether a process (its id inside the replica) still exists.
     */
    public void fireTimers(final IntPredicate alive)
    {
        timers.fireDue(this, alive);
    }

    /**
     * Deliver a held end to process {@code parent} (its id inside the replica) at its next chance: at a point of
     * the thread the kernel will hand the exit signal to, if a handler takes it there ({@link
     * ChildEnds#signalledThread}), else of any of its threads.
     */
    public void postEnd(final ChildEnds.HeldEnd end, final int parent)
    {
        final int thread = ends.signalledThread(end);
        synchronized (this)
        {
            pending.add(new long[]{parent, thread, 0, NO_COMMAND, end.thread(), System.nanoTime(), NO_TIMER, 0});
            any = true;
        }
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
        pending.add(new long[]{owner, thread, signo, sequence, 0, System.nanoTime(), NO_TIMER, 0});
        any = true;
    }

    /**
     * Deliver the signal of POSIX timer {@code timer} of process {@code owner}, with its siginfo ({@link
     * TimerSignalInfo}), at the next chance of thread {@code thread} ({@link #ANY_THREAD}: any).
     */
    synchronized void postTimer(final int owner, final int thread, final int signo, final int timer, final long value)
    {
        pending.add(new long[]{owner, thread, signo, NO_COMMAND, 0, System.nanoTime(), timer, value});
        any = true;
    }

    /**
     * @return a signal or held end waiting for thread {@code thread} of process {@code owner}, taken off the
     * queue (its fields at {@link #SIGNO}, {@link #SEQUENCE}, {@link #ENDED}, {@link #TIMER}, {@link #VALUE}); null
     * if there is none.
     */
    long[] take(final int owner, final int thread)
    {
        return take(owner, thread, false);
    }

    /**
     * @param endsOnly take only a held end (for a thread asleep in a call only an end is delivered in).
     */
    private synchronized long[] take(final int owner, final int thread, final boolean endsOnly)
    {
        if (!any)
        {
            return null;
        }
        for (final long[] signal : pending)
        {
            if (isFor(signal, owner, thread) && (!endsOnly || signal[ENDED] != 0))
            {
                pending.remove(signal);
                any = !pending.isEmpty();
                return signal;
            }
        }
        return null;
    }

    /**
     * @return true if signal {@code signo} waits, undelivered, for thread {@code thread} (or any thread) of process
     * {@code owner}.
     */
    synchronized boolean isQueued(final int owner, final int thread, final int signo)
    {
        return any && pending.stream().anyMatch(signal -> signal[OWNER] == owner && signal[THREAD] == thread &&
            signal[SIGNO] == signo && signal[ENDED] == 0);
    }

    /**
     * @return true if the signal of POSIX timer {@code timer} of process {@code owner} waits, undelivered.
     */
    synchronized boolean isQueuedTimer(final int owner, final int timer)
    {
        return any && pending.stream().anyMatch(signal -> signal[OWNER] == owner && signal[TIMER] == timer);
    }

    /**
     * Append the siginfo of the taken {@code signal}, if it is a POSIX timer's, to the record after
     * {@code recordLength} bytes ({@link TimerSignalInfo}), with the timer's overrun count as it is now.
     *
     * @return the new record length.
     */
    int appendInfo(final long[] signal, final MutableDirectBuffer record, final int recordLength)
    {
        if (signal[TIMER] == NO_TIMER)
        {
            return recordLength;
        }
        final int timer = (int)signal[TIMER];
        // A timer deleted since it fired still has its signal delivered, with no overrun to count.
        final int overrun = Math.max(0, timers.overrun((int)signal[OWNER], timer));
        return TimerSignalInfo.append(record, recordLength, timer, overrun, signal[VALUE]);
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

    private static boolean isFor(final long[] signal, final int owner, final int thread)
    {
        return signal[OWNER] == owner && (signal[THREAD] == ANY_THREAD || signal[THREAD] == thread);
    }

    void delivered(final int sequence)
    {
        if (sequence != NO_COMMAND)
        {
            delivered.accept(sequence);
        }
    }

    /**
     * The thread of {@code call} goes to sleep in it (rt_sigsuspend, pause, wait4, waitid, vfork: let run in the
     * kernel).
     */
    void asleep(final InterceptedCall call)
    {
        asleep.put(call.tid, new int[]{call.logicalTid, call.process, call.logicalPid, call.nr});
    }

    /**
     * A new primary finds the application's threads that its predecessor let sleep in a call a signal or an end is
     * delivered in ({@link #asleep}): they make no call that would tell it.
     */
    public void findSleepers(final ApplicationProcesses processes)
    {
        for (final int process : processes.all())
        {
            try (var tasks = Files.list(Path.of("/proc", Integer.toString(process), "task")))
            {
                for (final Path task : (Iterable<Path>)tasks::iterator)
                {
                    final int tid = Integer.parseInt(task.getFileName().toString());
                    for (final int nr : new int[]{RT_SIGSUSPEND, PAUSE, WAIT4, WAITID})
                    {
                        if (ChildWatch.sleepsIn(tid, nr))
                        {
                            final ThreadIds.Identity thread = processes.threads().of(tid);
                            asleep.put(tid, new int[]{thread.logicalTid(), process, thread.logicalPid(), nr});
                        }
                    }
                }
            }
            catch (final IOException | UncheckedIOException ex)
            {
                // the process ended meanwhile
            }
        }
    }

    /**
     * The thread {@code tid} made another call: it no longer sleeps in the last one.
     *
     * @return the answer this call is to get if it is one a signal just interrupted, made again by the kernel
     * ({@link #interruptedCalls}); {@link #NO_ANSWER} if it is to be handled as any call.
     */
    long awake(final int tid, final InterceptedCall call)
    {
        if (!asleep.isEmpty())
        {
            asleep.remove(tid);
        }
        if (interruptedCalls.isEmpty())
        {
            return NO_ANSWER;
        }
        final long[] interrupted = interruptedCalls.get(tid);
        if (interrupted == null || interrupted[0] != call.nr)
        {
            return NO_ANSWER; // the handler's own calls come first
        }
        final boolean same = interrupted[1] == call.signatureOfArguments();
        if (same || interrupted[2] == -EINTR)
        {
            interruptedCalls.remove(tid);
        }
        return same ? interrupted[2] : NO_ANSWER;
    }

    /**
     * A signal interrupted {@code call}, stopped in its notification: a wait the kernel never restarts is to fail
     * with EINTR if the kernel makes it again.
     */
    void interrupted(final InterceptedCall call)
    {
        if (isNeverRestarted(call.nr))
        {
            interrupted(call, -EINTR);
        }
    }

    /**
     * A signal interrupted {@code call}, which is to get {@code answer} if the kernel makes it again; {@link
     * #NO_ANSWER}: what the kernel would give it ({@link #interrupted(InterceptedCall)}).
     */
    void interrupted(final InterceptedCall call, final long answer)
    {
        if (answer == NO_ANSWER)
        {
            interrupted(call);
            return;
        }
        interruptedCalls.put(call.tid, new long[]{call.nr, call.signatureOfArguments(), answer});
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
     * Deliver waiting signals to processes that have a thread asleep in a call that waits for one, and held ends to
     * parents asleep in any of the calls above: logged as SIGNAL_ASLEEP or CHILD_END_ASLEEP, then sent or let run.
     * Called by the primary between calls.
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
            final long[] signal = take(thread[2], thread[0], thread[3] != RT_SIGSUSPEND && thread[3] != PAUSE);
            if (signal == null)
            {
                continue;
            }
            asleep.remove(tid);
            final int ended = (int)signal[ENDED];
            final int signo = (int)signal[SIGNO];
            LogRecord.putCall(asleepRecord, 0, thread[3], ended != 0 ? ACTION_CHILD_END_ASLEEP : ACTION_SIGNAL_ASLEEP,
                0, ended != 0 ? ended : signo);
            asleepRecord.putInt(THREAD_INDEX_OFFSET, thread[0]);
            final int length = appendInfo(signal, asleepRecord, CALL_HEADER_LENGTH);
            log.append(TYPE_CALL, asleepRecord, 0, length);
            if (ended != 0)
            {
                release(ended, log);
            }
            else
            {
                send(thread[1], tid, signo, asleepInfo, asleepRecord, CALL_HEADER_LENGTH, length);
                delivered((int)signal[SEQUENCE]);
            }
        }
    }

    /**
     * Let run the held ends that have waited {@link #END_PATIENCE_NS} for a point of their parent: logged as
     * END_RELEASED (the ended thread's record). Called by the primary between calls.
     *
     * @param released told each thread (its id inside the replica) whose end was let run.
     */
    public synchronized void releaseOverdue(final LogSink log, final IntConsumer released) throws ReplicaStop
    {
        if (!any)
        {
            return;
        }
        final long now = System.nanoTime();
        for (final long[] signal : pending.toArray(new long[0][]))
        {
            // pending.remove: an end let run meanwhile, as an orphan of one of these, is gone from it
            if (signal[ENDED] != 0 && now - signal[POSTED_AT] > END_PATIENCE_NS && pending.remove(signal))
            {
                releaseAtNoPoint((int)signal[ENDED], log);
                released.accept((int)signal[ENDED]);
            }
        }
        any = !pending.isEmpty();
    }

    /**
     * Let the held end of {@code thread} run, once its record is in the log; then the ends held for its process,
     * whose children go to the replica's init, at no point (END_RELEASED).
     */
    void release(final int thread, final LogSink log) throws ReplicaStop
    {
        final ChildEnds.HeldEnd end = ends.take(thread);
        if (end == null)
        {
            return;
        }
        if (!ends.release(end))
        {
            throw new ReplicaStop(EXIT_GROUP, "process of thread " + thread + " did not end within " +
                ChildEnds.END_LIMIT_MS + " ms of its exit_group being let run");
        }
        for (long[] orphaned = take(end.owner(), ANY_THREAD, true); orphaned != null;
            orphaned = take(end.owner(), ANY_THREAD, true))
        {
            releaseAtNoPoint((int)orphaned[ENDED], log);
        }
    }

    private void releaseAtNoPoint(final int thread, final LogSink log) throws ReplicaStop
    {
        final UnsafeBuffer released = new UnsafeBuffer(new byte[CALL_HEADER_LENGTH]);
        LogRecord.putCall(released, 0, EXIT_GROUP, ACTION_END_RELEASED, 0, thread);
        released.putInt(THREAD_INDEX_OFFSET, thread);
        log.append(TYPE_CALL, released, 0, CALL_HEADER_LENGTH);
        release(thread, log);
    }

    /**
     * Send {@code signo} to thread {@code tid} of process {@code process} (host ids).
     */
    static void send(final int process, final int tid, final int signo)
    {
        PROCESS.tgkill(process, tid, signo);
    }

    /**
     * Send the signal {@code signo} of a SIGNAL, SIGNAL_PENDING or SIGNAL_ASLEEP record to thread {@code tid} of
     * process {@code process} (host ids): with the siginfo the record carries ({@link TimerSignalInfo}), if any,
     * through {@code info}; else as {@link #send(int, int, int)}.
     *
     * @param firstSegment where the record's segments start; {@code recordLength} where they end.
     */
    static void send(final int process, final int tid, final int signo, final TimerSignalInfo info,
        final DirectBuffer record, final int firstSegment, final int recordLength)
    {
        final int data = TimerSignalInfo.find(record, firstSegment, recordLength);
        // A kernel that refused the siginfo still gets the signal, as tgkill's.
        if (data < 0 || info.send(process, tid, signo, record, data) < 0)
        {
            send(process, tid, signo);
        }
    }

    /**
     * @return true if {@code signo} sent to thread {@code tid} now would withdraw the call it is stopped in: the
     * thread does not block it, and its process catches it or its default action ends or stops the process.
     */
    static boolean interrupts(final int process, final int tid, final int signo)
    {
        return effectOf(process, tid, signo) >= INTERRUPTS;
    }

    /**
     * @return what {@code signo} sent to thread {@code tid} of host process {@code process} now would do, read from
     * the thread's masks in /proc: {@link #DROPPED}, {@link #PENDING}, {@link #INTERRUPTS} or {@link #ENDS}.
     */
    static int effectOf(final int process, final int tid, final int signo)
    {
        final String status;
        try
        {
            status = Files.readString(Path.of("/proc", Integer.toString(process), "task", Integer.toString(tid),
                "status"));
        }
        catch (final IOException ex)
        {
            return DROPPED; // the thread is gone: nothing to interrupt
        }
        final long bit = bit(signo);
        if ((mask(status, "SigBlk:") & bit) != 0)
        {
            return PENDING; // a blocked signal is kept even if ignored: the handler may change before it is unblocked
        }
        final boolean caught = (mask(status, "SigCgt:") & bit) != 0;
        if ((mask(status, "SigIgn:") & bit) != 0 || (!caught && (DEFAULT_IGNORED & bit) != 0))
        {
            return DROPPED;
        }
        return caught || (DEFAULT_STOPS & bit) != 0 ? INTERRUPTS : ENDS;
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
