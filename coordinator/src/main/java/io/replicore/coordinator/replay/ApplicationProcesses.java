package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.detscheduler.ChildWatch;
import io.replicore.detscheduler.FutexTable;
import io.replicore.detscheduler.SchedulingMode;
import io.replicore.detscheduler.SerialToken;
import io.replicore.detscheduler.ThreadIds;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntPredicate;
import java.util.function.IntSupplier;

import static io.replicore.coordinator.intercept.Syscalls.CLONE;
import static io.replicore.coordinator.intercept.Syscalls.CLONE3;
import static io.replicore.coordinator.intercept.Syscalls.EXIT;
import static io.replicore.coordinator.intercept.Syscalls.EXIT_GROUP;
import static io.replicore.coordinator.intercept.Syscalls.PAUSE;
import static io.replicore.coordinator.intercept.Syscalls.RT_SIGSUSPEND;
import static io.replicore.coordinator.intercept.Syscalls.VFORK;
import static io.replicore.coordinator.intercept.Syscalls.WAIT4;
import static io.replicore.coordinator.intercept.Syscalls.WAITID;

/**
 * The processes and threads of one replica's application as its coordinator reaches them: each thread's logical
 * id, a pidfd per process (descriptors are taken from the calling process's own table), and the one-at-a-time
 * rule for calls that create a thread or process. Shared by every lane of a primary; thread-safe.
 */
public final class ApplicationProcesses implements AutoCloseable
{
    private static final int WNOHANG = 1;
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    /** Past this many open pidfds, those of processes that have ended are closed. */
    private static final int PIDFD_SWEEP_THRESHOLD = 64;
    private static final long CLONE_VM = 0x100;
    private static final long CLONE_VFORK = 0x4000;
    private static final long EXIT_POLL_NS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final long EXIT_LIMIT_NS = TimeUnit.SECONDS.toNanos(5);

    private final ThreadIds threads = new ThreadIds();
    /** Serial mode's grant and futexes; null in parallel mode. */
    private final SerialToken token;
    private final FutexTable futexes;
    private final ThreadBirths births = new ThreadBirths();
    private final Map<Integer, Integer> pidfds = new ConcurrentHashMap<>();
    private final Object cloneLock = new Object();
    /** Threads in a vfork, or a clone with CLONE_VFORK, by host id: they sleep until the child execs or ends. */
    private final Set<Integer> vforking = ConcurrentHashMap.newKeySet();
    private final int mainProcess;
    /** The replica's init (section 4, step 1a), which takes the application's orphans; -1 if not known. */
    private final int replicaInit;

    /**
     * @param mainProcess the application's first process on the host, and {@code mainPidfd} a pidfd of it that the
     * caller keeps and closes.
     * @param mode how the application's threads are ordered.
     */
    public ApplicationProcesses(final int mainProcess, final int mainPidfd, final SchedulingMode mode)
    {
        this.mainProcess = mainProcess;
        this.replicaInit = initOf(mainProcess);
        this.token = mode == SchedulingMode.SERIAL ? new SerialToken() : null;
        this.futexes = mode == SchedulingMode.SERIAL ? new FutexTable() : null;
        pidfds.put(mainProcess, mainPidfd);
    }

    /**
     * @return the application's first process on the host: the one whose sockets the primary hands over.
     */
    public int mainProcess()
    {
        return mainProcess;
    }

    public ThreadIds threads()
    {
        return threads;
    }

    /**
     * @return serial mode's grant, or null in parallel mode.
     */
    public SerialToken serialToken()
    {
        return token;
    }

    FutexTable futexes()
    {
        return futexes;
    }

    /**
     * Every notified call, first: a parent or new thread that ran alone on one CPU since a clone goes back to the
     * application's CPUs ({@link ThreadBirths}); in serial mode the thread no longer runs; in parallel mode a parent
     * whose new thread's first stretch may not be over waits for its end.
     */
    public void arrived(final InterceptedCall call)
    {
        if (token != null)
        {
            final int arrival = token.arrived(call.tid);
            births.arrived(call.tid, arrival == 1);
            call.arrival(arrival);
        }
        else
        {
            births.arrivedInParallel(call.tid);
        }
    }

    /**
     * Serial mode's accounting once a call has been answered: the thread runs now, unless it went into the kernel
     * for a call that may block there (its next call says when it is back), ended, or was gone.
     */
    public void answered(final InterceptedCall call, final boolean gone)
    {
        if (token == null)
        {
            return;
        }
        final boolean vfork = !vforking.isEmpty() && vforking.remove(call.tid);
        // A wait with WNOHANG returns at once: the thread runs on, as after any call.
        final boolean waits = (call.nr == WAIT4 && (call.args[2] & WNOHANG) == 0) ||
            (call.nr == WAITID && (call.args[3] & WNOHANG) == 0);
        if (gone || vfork || waits || call.nr == RT_SIGSUSPEND || call.nr == PAUSE || call.nr == EXIT ||
            call.nr == EXIT_GROUP)
        {
            token.relinquish(call.tid, call.arrival);
        }
        else
        {
            token.released(call.tid, call.arrival);
        }
    }

    /**
     * Let a thread's exit run ({@code letRun}) and wait until the thread is gone, so that the kernel has cleared
     * its thread-id word before any other thread runs (serial mode); then let its process's futex waiters look
     * again.
     */
    public int exitThread(final InterceptedCall call, final IntSupplier letRun)
    {
        final int rc = letRun.getAsInt();
        final Path task = Path.of("/proc", Integer.toString(call.process), "task", Integer.toString(call.tid));
        final long deadline = System.nanoTime() + EXIT_LIMIT_NS;
        while (Files.exists(task) && System.nanoTime() - deadline < 0)
        {
            LockSupport.parkNanos(EXIT_POLL_NS);
        }
        if (futexes != null)
        {
            futexes.threadEnded(call.process);
        }
        return rc;
    }

    /**
     * @return the host id of the application's process whose id inside the replica is {@code logicalPid}, or -1:
     * the known thread of that id, or else found by walking the application's process tree from its first process
     * (a child that has made no call yet is not known).
     */
    public int hostPidOf(final int logicalPid)
    {
        final int known = threads.hostTidOf(logicalPid);
        return known > 0 ? known : walkApplication(process -> threads.of(process).logicalPid() == logicalPid);
    }

    /**
     * @return the host ids of the application's processes: its first process and its descendants, and the orphans
     * the replica's init took and theirs.
     */
    public List<Integer> all()
    {
        final List<Integer> found = new ArrayList<>();
        walkApplication(process -> !found.add(process));
        return found;
    }

    /**
     * Visit the application's processes ({@link #all}) until {@code stop} says so.
     *
     * @return the process {@code stop} stopped at, or -1.
     */
    private int walkApplication(final IntPredicate stop)
    {
        return replicaInit < 0 ? walk(mainProcess, stop) : walk(replicaInit, process -> process != replicaInit &&
            stop.test(process));
    }

    /**
     * @return the host id of the parent of {@code mainProcess} if it is its pid namespace's init (the replica's),
     * else -1.
     */
    private static int initOf(final int mainProcess)
    {
        final int parent = statusNumber(mainProcess, "\nPPid:");
        return parent > 0 && statusNumber(parent, "\nNSpid:") == 1 ? parent : -1;
    }

    /**
     * @return the process group of host process {@code process}, its id inside the replica; -1 if it is gone.
     */
    public static int groupOf(final int process)
    {
        return statusNumber(process, "\nNSpgid:");
    }

    /**
     * @return the last number on the line {@code key} of host process {@code process}'s /proc status; -1 if it is
     * gone.
     */
    private static int statusNumber(final int process, final String key)
    {
        try
        {
            return ThreadIds.lastNumberOf(Files.readString(Path.of("/proc", Integer.toString(process), "status")), key);
        }
        catch (final IOException ex)
        {
            return -1;
        }
    }

    /**
     * @return the children of thread {@code task} (a /proc/PID/task/TID directory): the processes it made, host ids.
     */
    static List<Integer> childrenOf(final Path task) throws IOException
    {
        final List<Integer> children = new ArrayList<>();
        for (final String child : Files.readString(task.resolve("children")).trim().split("\\s+"))
        {
            if (!child.isEmpty())
            {
                children.add(Integer.parseInt(child));
            }
        }
        return children;
    }

    /**
     * Visit {@code process} and its descendants, depth first, until {@code stop} says so.
     *
     * @return the process {@code stop} stopped at, or -1.
     */
    private static int walk(final int process, final IntPredicate stop)
    {
        if (stop.test(process))
        {
            return process;
        }
        final Path tasks = Path.of("/proc", Integer.toString(process), "task");
        try (var taskDirs = Files.list(tasks))
        {
            for (final Path task : (Iterable<Path>)taskDirs::iterator)
            {
                for (final int child : childrenOf(task))
                {
                    final int found = walk(child, stop);
                    if (found > 0)
                    {
                        return found;
                    }
                }
            }
        }
        catch (final IOException | UncheckedIOException ex)
        {
            return -1; // the process ended meanwhile
        }
        return -1;
    }

    /**
     * @return a pidfd of the host process {@code process}, or -errno.
     */
    public int pidfdOf(final int process)
    {
        final Integer known = pidfds.get(process);
        if (known != null)
        {
            return known;
        }
        final int pidfd = PROCESS.pidfd_open(process, 0);
        if (pidfd < 0)
        {
            return -Native.lastErrno();
        }
        final Integer raced = pidfds.putIfAbsent(process, pidfd);
        if (raced != null)
        {
            PROCESS.close(pidfd);
            return raced;
        }
        if (pidfds.size() > PIDFD_SWEEP_THRESHOLD)
        {
            sweep();
        }
        return pidfd;
    }

    /**
     * Let a call that creates a thread or process run ({@code letRun}) and wait until its child exists, holding
     * every other such call back meanwhile, so that children are numbered in log order in every replica.
     *
     * @return what {@code letRun} returned.
     */
    public int createChild(final InterceptedCall call, final IntSupplier letRun)
    {
        if (sleepsUntilChildLeaves(call))
        {
            vforking.add(call.tid);
        }
        synchronized (cloneLock)
        {
            final int before = ChildWatch.count(call.process, call.tid);
            // Parallel mode orders only a new thread's first stretch: a new process has memory of its own.
            final List<Integer> threadsBefore = token == null && makesThread(call) ? ChildWatch.threadsOf(call.process) :
                null;
            if (token != null)
            {
                token.expectChild();
                births.beforeClone(call.tid);
            }
            else if (threadsBefore != null)
            {
                births.beforeThread(call.tid);
            }
            final int rc = letRun.getAsInt();
            final boolean made = rc == 0 && before >= 0 && ChildWatch.awaitChild(call.process, call.tid, before, call.nr);
            if (!made && token != null)
            {
                token.childNotMade();
                births.noChild();
            }
            if (threadsBefore != null)
            {
                births.threadMade(call.tid, made ? newThread(call.process, threadsBefore) : 0);
            }
            return rc;
        }
    }

    /**
     * @return true for vfork and a clone with CLONE_VFORK (posix_spawn's): the caller sleeps in the call until its
     * child has exec'd or ended, so serial mode must not count it as running meanwhile, or the child would wait for
     * it.
     */
    private static boolean sleepsUntilChildLeaves(final InterceptedCall call)
    {
        return call.nr == VFORK || (cloneFlags(call) & CLONE_VFORK) != 0;
    }

    /**
     * @return true for a clone or clone3 whose child shares the caller's memory and runs at once: a thread (not a
     * vfork's child, which runs while its parent sleeps).
     */
    private static boolean makesThread(final InterceptedCall call)
    {
        final long flags = cloneFlags(call);
        return (flags & CLONE_VM) != 0 && (flags & CLONE_VFORK) == 0;
    }

    /**
     * @return the flags of a clone or clone3 (0 for another call, or a clone3 whose arguments cannot be read).
     */
    private static long cloneFlags(final InterceptedCall call)
    {
        return switch (call.nr)
        {
            case CLONE -> call.args[0];
            // clone3's flags are the first field of its struct clone_args
            case CLONE3 -> call.memory.read(call.tid, call.args[0], call.work.address(), 8) == 8 ?
                call.work.buffer().getLong(0) : 0;
            default -> 0;
        };
    }

    /**
     * @return the thread of {@code process} that is not among {@code before} (host ids), or 0 if none is.
     */
    private static int newThread(final int process, final List<Integer> before)
    {
        for (final int tid : ChildWatch.threadsOf(process))
        {
            if (!before.contains(tid))
            {
                return tid;
            }
        }
        return 0;
    }

    /**
     * Close the pidfds of processes that have ended (their /proc entry is gone).
     */
    private void sweep()
    {
        final Iterator<Map.Entry<Integer, Integer>> entries = pidfds.entrySet().iterator();
        while (entries.hasNext())
        {
            final Map.Entry<Integer, Integer> entry = entries.next();
            if (entry.getKey() != mainProcess && !Files.exists(Path.of("/proc", Integer.toString(entry.getKey()))))
            {
                entries.remove();
                PROCESS.close(entry.getValue());
            }
        }
    }

    @Override
    public void close()
    {
        pidfds.forEach((process, pidfd) ->
        {
            if (process != mainProcess)
            {
                PROCESS.close(pidfd);
            }
        });
        pidfds.clear();
    }
}
