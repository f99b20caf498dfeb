package io.replicore.coordinator.cli;

import io.replicore.coordinator.PartitionCgroup;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code replicore kill-replica} on real processes: a fake coordinator (a JVM whose command line is a replica
 * coordinator's) with its child standing for the application, and unrelated processes that must never be hit.
 */
class KillReplicaCommandTest
{
    private TestService service;
    private Process unrelated;

    @BeforeEach
    void fillMailbox() throws Exception
    {
        service = new TestService(3);
        service.replica(0, ReplicaState.PRIMARY, 4000, 4001);
        unrelated = new ProcessBuilder("sleep", "60").start();
    }

    @AfterEach
    void cleanUp() throws Exception
    {
        unrelated.destroyForcibly();
        unrelated.waitFor();
        service.close();
    }

    @Test
    void freezeStopsBothProcessesThawResumesThemAndKillEndsThem() throws Exception
    {
        try (FakeCoordinator.Started replica = FakeCoordinator.start(1, service.mailbox.runId()))
        {
            service.replica(1, ReplicaState.BACKUP, replica.coordinatorPid, replica.appPid);
            final String pids = "(coordinator " + replica.coordinatorPid + ", application " + replica.appPid + ")";

            final CliRun freeze = CliRun.execute("kill-replica", "1", "--mailbox", service.path, "--freeze");
            assertEquals(0, freeze.exitCode, freeze.toString());
            assertEquals("kill-replica: replica 1 " + pids + " frozen with SIGSTOP", freeze.out.trim());
            awaitState(replica.coordinatorPid, state -> state == 'T');
            awaitState(replica.appPid, state -> state == 'T');

            final CliRun thaw = CliRun.execute("kill-replica", "1", "--mailbox", service.path, "--thaw");
            assertEquals(0, thaw.exitCode, thaw.toString());
            assertEquals("kill-replica: replica 1 " + pids + " thawed with SIGCONT", thaw.out.trim());
            awaitState(replica.coordinatorPid, state -> state != 'T');
            awaitState(replica.appPid, state -> state != 'T');

            final CliRun kill = CliRun.execute("kill-replica", "1", "--mailbox", service.path, "--json");
            assertEquals(0, kill.exitCode, kill.toString());
            assertEquals("done", Json.field(kill.out, "result"));
            assertEquals("SIGKILL", Json.field(kill.out, "signal"));
            assertEquals(String.valueOf(replica.coordinatorPid), Json.field(kill.out, "coordinatorPid"));
            assertEquals(String.valueOf(replica.appPid), Json.field(kill.out, "applicationPid"));
            assertTrue(replica.coordinator.waitFor(10, TimeUnit.SECONDS));
            assertEquals(137, replica.coordinator.exitValue(), "SIGKILL");
            awaitState(replica.appPid, state -> state == 0 || state == 'Z');
        }
    }

    @Test
    void aReplicaInItsPartitionCgroupIsFrozenByTheFreezerAndKilledWhole() throws Exception
    {
        try (FakeCoordinator.Started replica = FakeCoordinator.startInPartition(1, service.mailbox.runId()))
        {
            final PartitionCgroup partition = PartitionCgroup.of(service.mailbox.runId(), 1, replica.coordinatorPid);
            assumeTrue(partition != null, "no writable cgroup hierarchy on this machine: signals stand in");
            service.replica(1, ReplicaState.BACKUP, replica.coordinatorPid, replica.appPid);
            final String pids = "(coordinator " + replica.coordinatorPid + ", application " + replica.appPid + ")";

            final CliRun freeze = CliRun.execute("kill-replica", "1", "--mailbox", service.path, "--freeze");
            assertEquals(0, freeze.exitCode, freeze.toString());
            assertEquals("kill-replica: replica 1 " + pids + " frozen by the cgroup freezer of " +
                partition.directory(), freeze.out.trim());
            assertTrue(partition.isFrozen(), "the partition is frozen");
            // A frozen process is not stopped by a signal: the freezer holds it wherever it was.
            assertNotEquals('T', ReplicaProcesses.processState(replica.appPid));

            final CliRun thaw = CliRun.execute("kill-replica", "1", "--mailbox", service.path, "--thaw");
            assertEquals(0, thaw.exitCode, thaw.toString());
            assertFalse(partition.isFrozen(), "the partition is thawed");

            final CliRun kill = CliRun.execute("kill-replica", "1", "--mailbox", service.path, "--json");
            assertEquals(0, kill.exitCode, kill.toString());
            assertEquals("SIGKILL", Json.field(kill.out, "signal"));
            assertEquals(partition.directory().toString(), Json.field(kill.out, "cgroup"));
            assertTrue(replica.coordinator.waitFor(10, TimeUnit.SECONDS));
            assertEquals(137, replica.coordinator.exitValue(), "SIGKILL");
            awaitState(replica.appPid, state -> state == 0 || state == 'Z');
        }
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!PartitionCgroup.removeAll(service.mailbox.runId(), 3))
        {
            assertTrue(System.nanoTime() < deadline, "the partition cgroups could not be removed");
            Thread.sleep(10);
        }
    }

    @Test
    void aFrozenReplicaDeclaredDeadCanStillBeThawedButNotKilledAgain() throws Exception
    {
        try (FakeCoordinator.Started replica = FakeCoordinator.start(2, service.mailbox.runId()))
        {
            service.replica(2, ReplicaState.BACKUP, replica.coordinatorPid, replica.appPid);
            assertEquals(0, CliRun.execute("kill-replica", "2", "--mailbox", service.path, "--freeze").exitCode);
            service.mailbox.slot(2).markDead("missed heartbeats");

            final CliRun kill = CliRun.execute("kill-replica", "2", "--mailbox", service.path);
            assertEquals(3, kill.exitCode, kill.toString());
            assertEquals("kill-replica: replica 2 is already dead", kill.err.trim());
            assertEquals('T', ReplicaProcesses.processState(replica.coordinatorPid), "not signalled");

            final CliRun thaw = CliRun.execute("kill-replica", "2", "--mailbox", service.path, "--thaw");
            assertEquals(0, thaw.exitCode, thaw.toString());
            awaitState(replica.coordinatorPid, state -> state != 'T');
            awaitState(replica.appPid, state -> state != 'T');
        }
    }

    @Test
    void aRecordedCoordinatorPidThatIsNotACoordinatorIsRefusedWith3AndLeftAlone()
    {
        service.replica(1, ReplicaState.BACKUP, (int)unrelated.pid(), 0);

        final CliRun run = CliRun.execute("kill-replica", "1", "--mailbox", service.path, "--freeze");

        assertEquals(3, run.exitCode, run.toString());
        assertEquals("kill-replica: replica 1: pid " + unrelated.pid() + " recorded as its coordinator is not ours, " +
            "so nothing was signalled: it runs 'sleep 60', not java", run.err.trim());
        assertNotEquals('T', ReplicaProcesses.processState((int)unrelated.pid()));
        assertTrue(unrelated.isAlive());
    }

    @Test
    void aCoordinatorOfAnotherReplicaIsRefusedWith3() throws Exception
    {
        try (FakeCoordinator.Started other = FakeCoordinator.start(2, service.mailbox.runId()))
        {
            service.replica(1, ReplicaState.BACKUP, other.coordinatorPid, other.appPid);

            final CliRun run = CliRun.execute("kill-replica", "1", "--mailbox", service.path);

            assertEquals(3, run.exitCode, run.toString());
            assertTrue(run.err.contains("is not ours, so nothing was signalled: it is the coordinator of replica 2, " +
                "not of replica 1"), run.err);
            assertTrue(other.coordinator.isAlive());
        }
    }

    @Test
    void anApplicationPidThatIsNotTheCoordinatorsChildIsRefusedWith3AndNothingIsSignalled() throws Exception
    {
        try (FakeCoordinator.Started replica = FakeCoordinator.start(1, service.mailbox.runId()))
        {
            service.replica(1, ReplicaState.BACKUP, replica.coordinatorPid, (int)unrelated.pid());

            final CliRun run = CliRun.execute("kill-replica", "1", "--mailbox", service.path);

            assertEquals(3, run.exitCode, run.toString());
            assertTrue(run.err.contains("pid " + unrelated.pid() + " recorded as its application is not ours, so " +
                "nothing was signalled: its parent is pid " + ProcessHandle.current().pid() + ", and the " +
                "coordinator " + replica.coordinatorPid + " is not among its 3 nearest ancestors"), run.err);
            assertTrue(unrelated.isAlive());
            assertTrue(replica.coordinator.isAlive());
        }
    }

    @Test
    void aReplicaThatHasEndedIsRefusedWith3()
    {
        service.replica(1, ReplicaState.DIVERGED, (int)unrelated.pid(), 0);

        final CliRun run = CliRun.execute("kill-replica", "1", "--mailbox", service.path, "--json");

        assertEquals(3, run.exitCode, run.toString());
        assertEquals("refused", Json.field(run.out, "result"));
        assertEquals("kill-replica: replica 1 is already diverged", Json.field(run.out, "message"));
    }

    @Test
    void aReplicaOutOfRangeExits2()
    {
        final CliRun run = CliRun.execute("kill-replica", "3", "--mailbox", service.path);

        assertEquals(2, run.exitCode, run.toString());
        assertEquals("kill-replica: replica 3 does not exist: the mailbox has replicas 0 to 2", run.err.trim());
    }

    @Test
    void freezeAndThawTogetherAreBadArguments()
    {
        final CliRun run = CliRun.execute("kill-replica", "0", "--mailbox", service.path, "--freeze", "--thaw");

        assertEquals(2, run.exitCode, run.toString());
        assertTrue(run.err.contains("--freeze and --thaw exclude each other"), run.err);
    }

    private static void awaitState(final int pid, final IntPredicate expected) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        char state;
        while (!expected.test(state = ReplicaProcesses.processState(pid)))
        {
            assertTrue(System.nanoTime() < deadline, "pid " + pid + " stays in state '" + state + "'");
            Thread.sleep(5);
        }
    }
}
