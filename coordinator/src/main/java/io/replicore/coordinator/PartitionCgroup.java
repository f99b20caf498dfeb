package io.replicore.coordinator;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * A replica's partition as a control group, so that a fault can be injected into the whole partition at once, as a
 * failing partition would behave: frozen by the cgroup freezer (no signal reaches the processes, nothing they do is
 * interrupted) or killed by {@code cgroup.kill}. The replica's coordinator joins it as it starts, and its
 * application, started by it, is born in it.
 * <pre>
 *   cgroup v2:  MOUNT/replicore-RUNID/replica-N   cgroup.freeze (1/0, done when cgroup.events says frozen),
 *                                                 cgroup.kill
 *   cgroup v1:  FREEZER/replicore-RUNID/replica-N freezer.state (FROZEN/THAWED)
 * </pre>
 * v2 is used when its hierarchy is mounted and writable, else v1's freezer hierarchy; with neither (no privilege, no
 * cgroup file system) a replica has no partition cgroup and faults fall back to signals to its two processes.
 */
public final class PartitionCgroup
{
    private static final long SETTLE_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(5);
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    private final Path dir;
    private final boolean unified;

    private PartitionCgroup(final Path dir, final boolean unified)
    {
        this.dir = dir;
        this.unified = unified;
    }

    /**
     * @return replica {@code replicaId}'s partition cgroup directory under the hierarchy mounted at {@code mount}.
     */
    private static Path partitionDirectory(final Path mount, final long runId, final int replicaId)
    {
        return runDirectory(mount, runId).resolve("replica-" + replicaId);
    }

    private static Path runDirectory(final Path mount, final long runId)
    {
        return mount.resolve("replicore-" + Long.toHexString(runId));
    }

    /**
     * Make replica {@code replicaId}'s partition cgroup and move process {@code pid} into it.
     *
     * @return the cgroup, or null if no hierarchy takes it (the reason is in {@code why[0]}).
     */
    public static PartitionCgroup join(final long runId, final int replicaId, final long pid, final String[] why)
    {
        final Mounts mounts = Mounts.read();
        String failure = "no cgroup v2 hierarchy and no cgroup v1 freezer hierarchy is mounted";
        for (final Path mount : mounts.hierarchies())
        {
            final Path dir = partitionDirectory(mount, runId, replicaId);
            try
            {
                Files.createDirectories(dir);
                Files.writeString(dir.resolve("cgroup.procs"), String.valueOf(pid));
                return new PartitionCgroup(dir, mount == mounts.unified);
            }
            catch (final IOException | UnsupportedOperationException | SecurityException ex)
            {
                failure = "cannot make " + dir + ": " + ex;
            }
        }
        why[0] = failure;
        return null;
    }

    /**
     * @return replica {@code replicaId}'s partition cgroup if {@code pid} is in it, else null.
     */
    public static PartitionCgroup of(final long runId, final int replicaId, final long pid)
    {
        final Mounts mounts = Mounts.read();
        for (final Path mount : mounts.hierarchies())
        {
            final Path dir = partitionDirectory(mount, runId, replicaId);
            try
            {
                if (Files.readAllLines(dir.resolve("cgroup.procs")).contains(String.valueOf(pid)))
                {
                    return new PartitionCgroup(dir, mount == mounts.unified);
                }
            }
            catch (final IOException ex)
            {
                // not in this hierarchy
            }
        }
        return null;
    }

    public Path directory()
    {
        return dir;
    }

    /**
     * Freeze every process of the partition and wait until the kernel says they are.
     */
    public void freeze() throws IOException
    {
        change(unified ? "cgroup.freeze" : "freezer.state", unified ? "1" : "FROZEN");
    }

    public void thaw() throws IOException
    {
        change(unified ? "cgroup.freeze" : "freezer.state", unified ? "0" : "THAWED");
    }

    /**
     * @return true if the partition was killed at once (cgroup v2's cgroup.kill); false if this hierarchy cannot.
     */
    public boolean kill() throws IOException
    {
        final Path kill = dir.resolve("cgroup.kill");
        if (!unified || !Files.exists(kill))
        {
            return false;
        }
        Files.writeString(kill, "1");
        return true;
    }

    private void change(final String file, final String value) throws IOException
    {
        Files.writeString(dir.resolve(file), value);
        final boolean freezing = "1".equals(value) || "FROZEN".equals(value);
        final long deadline = System.nanoTime() + SETTLE_TIMEOUT_NS;
        while (isFrozen() != freezing)
        {
            if (System.nanoTime() - deadline > 0)
            {
                throw new IOException(dir + " did not become " + (freezing ? "frozen" : "thawed") + " within " +
                    TimeUnit.NANOSECONDS.toSeconds(SETTLE_TIMEOUT_NS) + " s");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    /**
     * @return true once every process of the partition is frozen.
     */
    public boolean isFrozen() throws IOException
    {
        if (!unified)
        {
            return "FROZEN".equals(Files.readString(dir.resolve("freezer.state")).trim());
        }
        return Files.readAllLines(dir.resolve("cgroup.events")).contains("frozen 1");
    }

    /**
     * Remove the run's partition cgroups; one whose processes are not all gone yet is left.
     *
     * @return true if none is left.
     */
    public static boolean removeAll(final long runId, final int replicas)
    {
        boolean removed = true;
        for (final Path mount : Mounts.read().hierarchies())
        {
            for (int id = 0; id < replicas; id++)
            {
                removed &= removeQuietly(partitionDirectory(mount, runId, id));
            }
            removed &= removeQuietly(runDirectory(mount, runId));
        }
        return removed;
    }

    private static boolean removeQuietly(final Path dir)
    {
        try
        {
            Files.deleteIfExists(dir);
            return true;
        }
        catch (final IOException ex)
        {
            return false; // busy: a cgroup directory can be removed only when no process is left in it
        }
    }

    /**
     * Where the cgroup v2 hierarchy and the v1 freezer hierarchy are mounted, from /proc/self/mountinfo.
     */
    private record Mounts(Path unified, Path freezer)
    {
        /**
         * @return the hierarchies that can hold a partition cgroup, v2 first.
         */
        List<Path> hierarchies()
        {
            return Stream.of(unified, freezer).filter(Objects::nonNull).toList();
        }

        static Mounts read()
        {
            Path unified = null;
            Path freezer = null;
            try
            {
                for (final String line : Files.readAllLines(MOUNTINFO, StandardCharsets.UTF_8))
                {
                    // ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
                    final String[] halves = line.split(" - ", 2);
                    final String[] fields = halves[0].split(" ");
                    final String[] tail = halves.length == 2 ? halves[1].split(" ") : new String[0];
                    if (fields.length < 5 || tail.length < 3)
                    {
                        continue;
                    }
                    final Path mountPoint = Path.of(fields[4]);
                    if ("cgroup2".equals(tail[0]) && unified == null)
                    {
                        unified = mountPoint;
                    }
                    else if ("cgroup".equals(tail[0]) && freezer == null &&
                        List.of(tail[2].split(",")).contains("freezer"))
                    {
                        freezer = mountPoint;
                    }
                }
            }
            catch (final IOException ex)
            {
                // no /proc: no cgroups either
            }
            return new Mounts(unified, freezer);
        }
    }
}
