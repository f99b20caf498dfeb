package io.replicore.coordinator.replay;

import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.coordinator.natives.SocketCalls;
import io.replicore.detscheduler.ThreadIds;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The ends of the application's processes, held in their exit_group (or in the call where a signal is to end
 * them) until a point of the parent that every replica reproduces. When a child ends, the kernel makes it a zombie
 * for wait4 and sends its parent its exit signal (SIGCHLD): where that lands in the parent is non-determinism like
 * any signal's. So every replica stops a child's exit_group in its notification (END_HELD), and lets it run only
 * where the log says, while the parent is stopped in a call or asleep in one (5b), then waits until the kernel has
 * told the parent: after that the parent's wait4 finds the zombie and its handler runs, the same in every replica.
 * <p>
 * A process whose parent is not the application's is not held: the first (its parent is the launcher) and an
 * orphan (init of the pid namespace reaps it, outside the application); when a parent ends, the ends held for it
 * are let run at once, since its children go to that init.
 * Shared by the primary's lanes and the backup's loop, and kept across a takeover (a backup's held ends are
 * delivered by the new primary).
 */
public final class ChildEnds
{
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final short POLLIN = 0x1;
    /** The longest a released process may take to end; a pidfd is readable once its parent has been told. */
    static final long END_LIMIT_MS = TimeUnit.SECONDS.toMillis(5);

    /**
     * One held end.
     *
     * @param parent the parent's process id inside the replica, which the end is delivered to.
     * @param owner the ending process's id inside the replica.
     * @param thread the id inside the replica of the thread stopped in the call that ends its process.
     * @param process the ending process, its host id.
     * @param tid the same thread's host id.
     * @param signal 0 if the call is exit_group, answered on release; else the signal sent on release to end the
     * process (one whose default action ends it, which the call was to take: SIGPIPE, or one sent to it).
     * @param notification the held call's notification ({@link SeccompListener#save}).
     */
    public record HeldEnd(int parent, int owner, int thread, int process, int tid, int signal, byte[] notification)
    {
    }

    private final Map<Integer, HeldEnd> held = new ConcurrentHashMap<>();
    private final SeccompListener answers;
    private final ApplicationProcesses processes;
    private final Native.Scratch pollFd = Native.allocate(8);
    /** The host id of the replica's init, which the launcher runs; 0 until read. */
    private volatile int initHostPid;

    /**
     * @param listener the application's listener; the ends are answered through a view of their own.
     */
    public ChildEnds(final SeccompListener listener, final ApplicationProcesses processes)
    {
        this.answers = listener.view();
        this.processes = processes;
    }

    /**
     * Hold the call loaded in {@code call}, unanswered, until {@link #release}: an exit_group, or a call where a
     * signal is to end the process.
     *
     * @param parent the parent's process id inside the replica ({@link #parentOf}).
     * @param signal 0 for an exit_group; else the signal that is to end the process.
     */
    public HeldEnd hold(final InterceptedCall call, final int parent, final int signal)
    {
        final byte[] notification = new byte[SeccompListener.NOTIFICATION_LENGTH];
        call.listener.save(notification);
        final HeldEnd end = new HeldEnd(parent, call.logicalPid, call.logicalTid, call.process, call.tid, signal,
            notification);
        held.put(call.logicalTid, end);
        return end;
    }

    /**
     * @return the process id inside the replica of the ending process's parent, whose point the end waits for; -1
     * if the parent is not the application's: for its first process, the launcher; for an orphan, the init of the
     * replica's pid namespace, which the launcher runs (the parent of the first process), unintercepted.
     */
    public int parentOf(final int process)
    {
        if (process == processes.mainProcess())
        {
            return -1;
        }
        final int parent = parentHostPid(process);
        if (parent <= 0 || parent == initHostPid())
        {
            return -1;
        }
        return processes.threads().of(parent).logicalPid();
    }

    private int initHostPid()
    {
        if (initHostPid == 0)
        {
            initHostPid = parentHostPid(processes.mainProcess());
        }
        return initHostPid;
    }

    private static int parentHostPid(final int process)
    {
        final String status = read(process, "status");
        return status == null ? -1 : ThreadIds.lastNumberOf(status, "\nPPid:");
    }

    /**
     * @return the thread of the ending process's parent (its id inside the replica) that the kernel hands the exit
     * signal to when a handler takes it there: the thread that made the child (whose /proc children list holds it),
     * if its process catches the signal and it does not block it; {@link SignalDelivery#ANY_THREAD} if no handler
     * runs, so that only the zombie, which any thread's wait finds, is to be ordered.
     */
    int signalledThread(final HeldEnd end)
    {
        final int signo = exitSignal(end.process());
        final int parent = parentHostPid(end.process());
        if (signo <= 0 || parent <= 0)
        {
            return SignalDelivery.ANY_THREAD;
        }
        try (var tasks = Files.list(Path.of("/proc", Integer.toString(parent), "task")))
        {
            for (final Path task : (Iterable<Path>)tasks::iterator)
            {
                if (ApplicationProcesses.childrenOf(task).contains(end.process()))
                {
                    final int tid = Integer.parseInt(task.getFileName().toString());
                    return SignalDelivery.effectOf(parent, tid, signo) == SignalDelivery.INTERRUPTS ?
                        processes.threads().of(tid).logicalTid() : SignalDelivery.ANY_THREAD;
                }
            }
        }
        catch (final IOException | UncheckedIOException ex)
        {
            // the parent ended meanwhile
        }
        return SignalDelivery.ANY_THREAD;
    }

    /**
     * @return the exit signal of the process whose thread {@code thread} holds its end ({@link #exitSignal}), 0 if
     * none is held.
     */
    public int exitSignalOf(final int thread)
    {
        final HeldEnd end = held.get(thread);
        return end == null ? 0 : exitSignal(end.process());
    }

    /**
     * @return the held end of thread {@code thread} (its id inside the replica), no longer held; null if it is not.
     */
    public HeldEnd take(final int thread)
    {
        return held.remove(thread);
    }

    /**
     * @return true while the end of thread {@code thread} (its id inside the replica) is held.
     */
    public boolean isHeld(final int thread)
    {
        return held.containsKey(thread);
    }

    /**
     * @return true if no end is held.
     */
    public boolean isEmpty()
    {
        return held.isEmpty();
    }

    /**
     * @return the ends held now, for a new primary to deliver.
     */
    public List<HeldEnd> held()
    {
        return List.copyOf(held.values());
    }

    /**
     * Let the held exit_group run, or send the signal that ends the process, and wait until the process has ended
     * and its parent has been told (its pidfd is readable then: the kernel checks that under the lock it tells the
     * parent under).
     *
     * @return true once it has ended (or was gone already); false if it did not within {@link #END_LIMIT_MS}.
     */
    public synchronized boolean release(final HeldEnd end)
    {
        final int pidfd = PROCESS.pidfd_open(end.process(), 0);
        if (end.signal() == 0)
        {
            answers.restore(end.notification());
            answers.continueCall();
        }
        else
        {
            SignalDelivery.send(end.process(), end.tid(), end.signal());
        }
        if (pidfd < 0)
        {
            return true; // ended already (killed while held)
        }
        try
        {
            final UnsafeBuffer poll = pollFd.buffer();
            poll.putInt(0, pidfd);
            poll.putShort(4, POLLIN);
            poll.putShort(6, (short)0);
            return SOCKETS.poll(pollFd.pointer(), 1, (int)END_LIMIT_MS) > 0;
        }
        finally
        {
            PROCESS.close(pidfd);
        }
    }

    /**
     * @return the signal host process {@code process} sends its parent when it ends (SIGCHLD, unless its clone
     * chose another or none), 0 for none or if it cannot be read.
     */
    static int exitSignal(final int process)
    {
        final String stat = read(process, "stat");
        if (stat == null)
        {
            return 0;
        }
        // The fields after the command's closing parenthesis; exit_signal is field 38 of proc(5), 36 after it.
        final String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return fields.length > 35 ? Integer.parseInt(fields[35]) : 0;
    }

    private static String read(final int process, final String file)
    {
        try
        {
            return Files.readString(Path.of("/proc", Integer.toString(process), file));
        }
        catch (final IOException ex)
        {
            return null;
        }
    }
}
