package io.replicore.coordinator;

import io.replicore.coordinator.cli.ReplicoreCli;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Splitting a partition between the application and its coordinator: the application's CPUs must lie within the
 * partition, checked by the replica's context and, before anything starts, by {@code replicore run}.
 */
class AppCpusTest
{
    private static ReplicaContext context(final String cpus, final String appCpus)
    {
        return new ReplicaContext().mailboxPath("/dev/shm/unused").replicaId(0).command(List.of("true"))
            .launcher(Path.of("/bin/true")).cpus(cpus).appCpus(appCpus);
    }

    @Test
    void applicationCpusWithinThePartitionAreAccepted()
    {
        context("0-3", "1,3").conclude();
        context("0-1", "0-1").conclude();
        context("2", null).conclude();
    }

    @Test
    void applicationCpusOutsideThePartitionAreRefusedNamingThem()
    {
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> context("0-1", "1-3").conclude());
        assertTrue(ex.getMessage().contains("2-3 lie outside"), ex.getMessage());
    }

    @Test
    void applicationCpusNeedAPartition()
    {
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> context(null, "1").conclude());
        assertTrue(ex.getMessage().contains("need a partition"), ex.getMessage());
    }

    @Test
    void theCoordinatorKeepsWhatTheApplicationLeaves()
    {
        assertEquals("0,2", CpuSet.parse("0-3").minus(CpuSet.parse("1,3")).toString());
        assertTrue(CpuSet.parse("1").minus(CpuSet.parse("0-1")).isEmpty());
    }

    @Test
    void runRefusesBadApplicationCpusBeforeStartingAnything()
    {
        assertRunRefuses("--app-cpus needs --cpus", "--app-cpus", "0;1");
        assertRunRefuses("--app-cpus gives 1 CPU lists for 2 replicas", "--cpus", "0-1;0-1", "--app-cpus", "1");
        assertRunRefuses("--app-cpus of replica 1: application CPUs 2 are not all in the partition's CPUs 0-1",
            "--cpus", "0-1;0-1", "--app-cpus", "1;2");
    }

    private static void assertRunRefuses(final String message, final String... options)
    {
        final StringWriter err = new StringWriter();
        final CommandLine cli = ReplicoreCli.commandLine();
        cli.setErr(new PrintWriter(err));
        final List<String> args = new ArrayList<>(List.of("run", "--mailbox", "/dev/shm/replicore-unused"));
        args.addAll(List.of(options));
        args.addAll(List.of("--", "true"));

        final int exit = cli.execute(args.toArray(String[]::new));

        assertEquals(2, exit, err.toString());
        assertTrue(err.toString().contains(message), err.toString());
    }
}
