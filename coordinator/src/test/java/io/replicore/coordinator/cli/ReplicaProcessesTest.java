package io.replicore.coordinator.cli;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The "is it ours" checks of {@code kill-replica}, read from /proc for real processes.
 */
class ReplicaProcessesTest
{
    private static final long RUN_ID = 0x1234abcdL;

    @Test
    void aFakeCoordinatorOfTheRightReplicaAndRunIsOursAndItsChildIsItsApplication() throws Exception
    {
        try (FakeCoordinator.Started replica = FakeCoordinator.start(1, RUN_ID))
        {
            assertNull(ReplicaProcesses.coordinatorMismatch(replica.coordinatorPid, 1, RUN_ID));
            assertNull(ReplicaProcesses.applicationMismatch(replica.appPid, replica.coordinatorPid));
            assertEquals(replica.coordinatorPid, ReplicaProcesses.parentPid(replica.appPid));
            assertTrue(ReplicaProcesses.isRunning(replica.coordinatorPid));
        }
    }

    @Test
    void anotherRunOrReplicaIsNotOurs() throws Exception
    {
        try (FakeCoordinator.Started replica = FakeCoordinator.start(1, RUN_ID))
        {
            assertEquals("it belongs to run 1234abcd, not to this mailbox's run 99",
                ReplicaProcesses.coordinatorMismatch(replica.coordinatorPid, 1, 0x99));
            assertEquals("it is the coordinator of replica 1, not of replica 0",
                ReplicaProcesses.coordinatorMismatch(replica.coordinatorPid, 0, RUN_ID));
        }
    }

    @Test
    void aJavaProcessThatIsNotACoordinatorIsNotOurs()
    {
        final int self = (int)ProcessHandle.current().pid();
        final String mismatch = ReplicaProcesses.coordinatorMismatch(self, 0, RUN_ID);
        assertNotNull(mismatch);
        assertTrue(mismatch.startsWith("it is a java process but not a Replicore replica coordinator"), mismatch);
    }

    @Test
    void aProcessThatIsGoneIsNotRunningAndHasNoCommandLine() throws Exception
    {
        final Process process = new ProcessBuilder("true").start();
        final int pid = (int)process.pid();
        process.waitFor();
        assertFalse(ReplicaProcesses.isRunning(pid));
        assertEquals(List.of(), ReplicaProcesses.commandLine(pid));
        assertEquals("it has no command line (it has exited or is a kernel thread)",
            ReplicaProcesses.coordinatorMismatch(pid, 0, RUN_ID));
    }

    @Test
    void theCommandLineKeepsArgumentsWithSpaces() throws Exception
    {
        // cat reads its standard input (this test's pipe) until it closes, before it would look for "a b".
        final Process process = new ProcessBuilder("cat", "-", "a b").start();
        try
        {
            // start() may return before the child has exec'd cat: until then /proc shows the JDK's spawn helper.
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            List<String> args = ReplicaProcesses.commandLine((int)process.pid());
            while (!args.equals(List.of("cat", "-", "a b")) && System.nanoTime() < deadline)
            {
                Thread.sleep(5);
                args = ReplicaProcesses.commandLine((int)process.pid());
            }
            assertEquals(List.of("cat", "-", "a b"), args);
        }
        finally
        {
            process.destroyForcibly();
            process.waitFor();
        }
    }
}
