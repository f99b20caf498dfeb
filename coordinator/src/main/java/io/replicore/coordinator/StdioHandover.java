package io.replicore.coordinator;

import io.replicore.coordinator.intercept.DescriptorFlags;
import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.replay.ReplicaStop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Map;

/**
 * What a backup's application holds in place of the outside world, and handing the real thing over when the
 * backup becomes primary. A backup's application starts with placeholders for standard input, output and error
 * (its coordinator holds the real ones, inherited from {@code replicore run}); at takeover each placeholder still
 * in place is replaced, at the same number, by the coordinator's own descriptor.
 */
final class StdioHandover
{
    private static final int STDIO = 3;
    private static final HostCalls HOST = Native.load(HostCalls.class);

    private final int appPid;
    private final long[][] placeholders = new long[STDIO][];

    /**
     * Note the identity of the placeholders the backup's application was started with.
     */
    StdioHandover(final int appPid)
    {
        this.appPid = appPid;
        for (int fd = 0; fd < STDIO; fd++)
        {
            placeholders[fd] = identity(appPid, fd);
        }
    }

    /**
     * Kernel partitions: opens, in this kernel, the file a placeholder stands in for.
     */
    @FunctionalInterface
    interface Reopener
    {
        /**
         * @return a descriptor of the file, the caller's to close, or -errno.
         */
        int reopen(int fd);
    }

    /**
     * Install the real standard descriptors over the placeholders, during the notification in hand.
     *
     * @param fileOpenedByPrimary descriptors that stand in for files only the old primary opened.
     * @param reopener kernel partitions: opens those files in this kernel; null where the old primary handed them
     * over (one kernel), so that a placeholder still there cannot be replaced.
     * @return how many were handed over.
     * @throws ReplicaStop if the application holds a stand-in this version cannot replace.
     */
    int handOver(final SeccompListener listener, final BitSet fileOpenedByPrimary, final Reopener reopener)
        throws ReplicaStop
    {
        int handedOver = 0;
        for (int fd = fileOpenedByPrimary.nextSetBit(0); fd >= 0; fd = fileOpenedByPrimary.nextSetBit(fd + 1))
        {
            if (!isDevNull(fd))
            {
                continue;
            }
            final int file = reopener == null ? -1 : reopener.reopen(fd);
            if (file < 0)
            {
                throw new ReplicaStop(-1, "cannot take over: descriptor " + fd + " of the application is a file " +
                    "that only the old primary opened for writing, outside the state directory, and " +
                    (reopener == null ? "this version cannot reopen it" : "it cannot be opened here: errno " + -file));
            }
            try
            {
                final boolean closeOnExec = (DescriptorFlags.of(appPid, fd) & DescriptorFlags.O_CLOEXEC) != 0;
                final int installed = listener.installDescriptor(file, fd, closeOnExec, false);
                if (installed != fd && installed != SeccompListener.GONE)
                {
                    throw new ReplicaStop(-1, "cannot take over: installing descriptor " + fd + " failed (" +
                        installed + ")");
                }
                handedOver++;
            }
            finally
            {
                HOST.close(file);
            }
        }
        for (int fd = 0; fd < STDIO; fd++)
        {
            final long[] now = identity(appPid, fd);
            if (placeholders[fd] == null || now == null || now[0] != placeholders[fd][0] ||
                now[1] != placeholders[fd][1])
            {
                continue; // closed or replaced by the application itself: nothing of ours to hand over
            }
            final int installed = listener.installDescriptor(fd, fd, false, false);
            if (installed != fd && installed != SeccompListener.GONE)
            {
                throw new ReplicaStop(-1, "cannot take over: installing standard descriptor " + fd +
                    " in the application failed (" + installed + ")");
            }
            handedOver++;
        }
        return handedOver;
    }

    private boolean isDevNull(final int fd)
    {
        try
        {
            return "/dev/null".equals(Files.readSymbolicLink(fdPath(appPid, fd)).toString());
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    private static long[] identity(final int pid, final int fd)
    {
        try
        {
            final Map<String, Object> attributes = Files.readAttributes(fdPath(pid, fd), "unix:dev,ino");
            return new long[]{(Long)attributes.get("dev"), (Long)attributes.get("ino")};
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            return null;
        }
    }

    private static Path fdPath(final int pid, final int fd)
    {
        return Path.of("/proc/" + pid + "/fd/" + fd);
    }
}
