package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.detscheduler.ChildWatch;
import io.replicore.detscheduler.ThreadIds;

import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The processes and threads of one replica's application as its coordinator reaches them: each thread's logical
 * id, a pidfd per process (descriptors are taken from the calling process's own table), and the one-at-a-time
 * rule for calls that create a thread or process. Shared by every lane of a primary; thread-safe.
 */
public final class ApplicationProcesses implements AutoCloseable
{
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    /** Past this many open pidfds, those of processes that have ended are closed. */
    private static final int PIDFD_SWEEP_THRESHOLD = 64;

    private final ThreadIds threads = new ThreadIds();
    private final Map<Integer, Integer> pidfds = new ConcurrentHashMap<>();
    private final Object cloneLock = new Object();
    private final int mainProcess;

    /**
     * @param mainProcess the application's first process on the host, and {@code mainPidfd} a pidfd of it that the
     * caller keeps and closes.
     */
    public ApplicationProcesses(final int mainProcess, final int mainPidfd)
    {
        this.mainProcess = mainProcess;
        pidfds.put(mainProcess, mainPidfd);
    }

    public ThreadIds threads()
    {
        return threads;
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
    public int createChild(final InterceptedCall call, final java.util.function.IntSupplier letRun)
    {
        synchronized (cloneLock)
        {
            final int before = ChildWatch.count(call.process, call.tid);
            final int rc = letRun.getAsInt();
            if (rc == 0 && before >= 0)
            {
                ChildWatch.awaitChild(call.process, call.tid, before, call.nr);
            }
            return rc;
        }
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
            if (entry.getKey() != mainProcess && !java.nio.file.Files.exists(java.nio.file.Path.of("/proc",
                Integer.toString(entry.getKey()))))
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
