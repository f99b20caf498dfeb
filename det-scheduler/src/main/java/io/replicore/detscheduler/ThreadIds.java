package io.replicore.detscheduler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The identity of an application thread as the coordinator sees it (its id on the host, in notifications) and as
 * the application sees it (its id inside the replica's pid namespace). Ids inside the namespace are handed out in
 * creation order, and every replica creates its threads and processes in the order of the log, so the id inside
 * is the thread's logical id: the same thread has it in every replica, and log records name threads by it.
 * <p>
 * Read once per thread from /proc/TID/status and cached; thread-safe.
 */
public final class ThreadIds
{
    /** The thread is gone, or its status could not be read. */
    public static final Identity UNKNOWN = new Identity(-1, -1, -1, -1);

    private final ConcurrentHashMap<Integer, Identity> byHostTid = new ConcurrentHashMap<>();

    /**
     * @param hostTid the thread id in the coordinator's (the host's) pid namespace.
     * @param process the thread group (process) id on the host.
     * @param logicalTid the thread id inside the replica's pid namespace.
     * @param logicalPid the process id inside the replica's pid namespace: names the process in every replica.
     */
    public record Identity(int hostTid, int process, int logicalTid, int logicalPid)
    {
        public boolean isKnown()
        {
            return hostTid >= 0;
        }
    }

    /**
     * @return the identity of {@code hostTid}, or {@link #UNKNOWN} if it is gone.
     */
    public Identity of(final int hostTid)
    {
        final Identity known = byHostTid.get(hostTid);
        if (known != null)
        {
            return known;
        }
        final Identity read = read(hostTid);
        if (read.isKnown())
        {
            byHostTid.put(hostTid, read);
        }
        return read;
    }

    /**
     * @return the host id of the known thread whose id inside the replica is {@code logicalTid}, or -1.
     */
    public int hostTidOf(final int logicalTid)
    {
        for (final Identity identity : byHostTid.values())
        {
            if (identity.logicalTid() == logicalTid)
            {
                return identity.hostTid();
            }
        }
        return -1;
    }

    /**
     * @return how many threads are known.
     */
    public int size()
    {
        return byHostTid.size();
    }

    static Identity read(final int hostTid)
    {
        final String status;
        try
        {
            status = Files.readString(Path.of("/proc", Integer.toString(hostTid), "status"));
        }
        catch (final IOException ex)
        {
            return UNKNOWN;
        }
        final int process = lastNumberOf(status, "\nTgid:");
        final int logical = lastNumberOf(status, "\nNSpid:");
        final int logicalPid = lastNumberOf(status, "\nNStgid:");
        return process < 0 || logical < 0 || logicalPid < 0 ? UNKNOWN :
            new Identity(hostTid, process, logical, logicalPid);
    }

    /**
     * @return the last number on the line that starts with {@code key} (NSpid lists the id in each namespace from
     * the outermost in; the last is the innermost, the application's own), or -1.
     */
    public static int lastNumberOf(final String status, final String key)
    {
        final int start = status.indexOf(key);
        if (start < 0)
        {
            return -1;
        }
        int end = status.indexOf('\n', start + key.length());
        end = end < 0 ? status.length() : end;
        final String[] fields = status.substring(start + key.length(), end).trim().split("\\s+");
        try
        {
            return Integer.parseInt(fields[fields.length - 1]);
        }
        catch (final NumberFormatException ex)
        {
            return -1;
        }
    }
}
