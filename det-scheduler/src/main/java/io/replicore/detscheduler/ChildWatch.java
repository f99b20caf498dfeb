package io.replicore.detscheduler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * Waits for a thread or process the application is creating to exist. Ids inside a pid namespace are handed out
 * in creation order, so a replica lets one clone, fork or vfork run at a time, and the next only once the first
 * has made its child: then the n-th child of the run has the same id in every replica.
 * <p>
 * The children of a thread are counted from /proc: the threads of its process (a new thread) plus the processes
 * it is the parent of (a fork or vfork).
 */
public final class ChildWatch
{
    private static final long POLL_NS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final String RUNNING = "running";
    /** The kernel function a thread stopped in a seccomp notification sleeps in (its suffix varies by build). */
    private static final String SECCOMP_WAIT = "seccomp_do_user_notification";
    /**
     * How long a clone may take before it is taken to have failed: a caller that failed it and runs on without a
     * call looks the same from /proc as one still in it.
     */
    private static final long LIMIT_NS = TimeUnit.SECONDS.toNanos(1);

    private ChildWatch()
    {
    }

    /**
     * @return how many children {@code tid} of process {@code process} has now, or -1 if it is gone.
     */
    public static int count(final int process, final int tid)
    {
        final Path task = Path.of("/proc", Integer.toString(process), "task");
        try (Stream<Path> threads = Files.list(task))
        {
            final long threadCount = threads.count();
            final String children = Files.readString(task.resolve(Integer.toString(tid)).resolve("children")).trim();
            return (int)threadCount + (children.isEmpty() ? 0 : children.split(" ").length);
        }
        catch (final IOException | java.io.UncheckedIOException ex)
        {
            return -1;
        }
    }

    /**
     * @return the host ids of the threads of {@code process}; empty if it is gone.
     */
    public static List<Integer> threadsOf(final int process)
    {
        try (Stream<Path> threads = Files.list(Path.of("/proc", Integer.toString(process), "task")))
        {
            return threads.map(task -> Integer.parseInt(task.getFileName().toString())).toList();
        }
        catch (final IOException | java.io.UncheckedIOException ex)
        {
            return List.of();
        }
    }

    /**
     * After the call that creates a child has been let run: wait until the child exists, the caller has left the
     * call without one (it failed), or the caller is gone.
     *
     * @param before {@link #count} before the call ran.
     * @param nr the call's number, to see the caller leave it.
     * @return true if a child was made.
     */
    public static boolean awaitChild(final int process, final int tid, final int before, final int nr)
    {
        final long deadline = System.nanoTime() + LIMIT_NS;
        while (System.nanoTime() - deadline < 0)
        {
            final int now = count(process, tid);
            if (now < 0)
            {
                return false;
            }
            if (now > before)
            {
                return true;
            }
            if (!mayBeInCall(tid, nr))
            {
                // It may have made the child and left just after the count: look once more.
                return count(process, tid) > before;
            }
            LockSupport.parkNanos(POLL_NS);
        }
        return false;
    }

    /**
     * @return true while {@code tid} may still be inside system call {@code nr}: it sleeps in it, or it is on a
     * CPU, where /proc cannot tell whether it is still in the call (it says "running").
     */
    static boolean mayBeInCall(final int tid, final int nr)
    {
        final String first = currentCall(tid);
        return first != null && (first.equals(RUNNING) || first.equals(Integer.toString(nr)));
    }

    /**
     * @return true if {@code tid} sleeps inside system call {@code nr}, in the kernel: not stopped in the call's
     * seccomp notification, which /proc shows as the same call (a thread that makes the call again at once).
     */
    public static boolean sleepsIn(final int tid, final int nr)
    {
        return Integer.toString(nr).equals(currentCall(tid)) && !waitsForNotificationAnswer(tid);
    }

    /**
     * @return true if {@code tid} sleeps in a system call (any: the notification of an intercepted one, or a wait
     * in the kernel), so that it runs no code of its own until woken, or is gone; false while it is on a CPU or
     * waiting for one, or sleeps in a page fault.
     */
    public static boolean pausedOrGone(final int tid)
    {
        final String call = currentCall(tid);
        return call == null || (!call.equals(RUNNING) && !call.startsWith("-"));
    }

    /**
     * @return true if the kernel function {@code tid} sleeps in (/proc/TID/wchan) is seccomp's wait for the answer
     * to a notification.
     */
    private static boolean waitsForNotificationAnswer(final int tid)
    {
        try
        {
            return Files.readString(Path.of("/proc", Integer.toString(tid), "wchan")).startsWith(SECCOMP_WAIT);
        }
        catch (final IOException ex)
        {
            return false; // gone: /proc/TID/syscall said the same a moment ago
        }
    }

    /**
     * @return the first word of /proc/TID/syscall: the number of the call the thread sleeps in, "running", or
     * null if the thread is gone.
     */
    private static String currentCall(final int tid)
    {
        try
        {
            final String line = Files.readString(Path.of("/proc", Integer.toString(tid), "syscall"));
            final int space = line.indexOf(' ');
            return (space < 0 ? line : line.substring(0, space)).trim();
        }
        catch (final IOException ex)
        {
            return null;
        }
    }
}
