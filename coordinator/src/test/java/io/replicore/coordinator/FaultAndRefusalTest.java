package io.replicore.coordinator;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * What happens when replicas differ, or a program asks for what cannot be replicated: it is said, and the
 * replica concerned stops; nothing diverges silently.
 */
class FaultAndRefusalTest
{
    private static final byte[] INPUT = new byte[200_000];

    static
    {
        ThreadLocalRandom.current().nextBytes(INPUT);
    }

    @Test
    void corruptedReplayedInputIsCaughtAtTheOutputAndTheBackupStops() throws Exception
    {
        // cat copies input to output: the damaged byte reaches a write, whose signature then differs.
        final ReplicatedRun run = ReplicatedRun.run(2, List.of("--fault-corrupt-input", "1:2"), INPUT, "cat");

        assertArrayEquals(INPUT, run.stdout.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
            "the user still gets the primary's correct output, once");
        assertEquals(0, run.exitCode, "the service itself succeeded");
        assertTrue(run.stderr.contains("replica 1 diverged: at log record"), run.stderr);
        assertTrue(run.events(1).contains("bytes of write to descriptor 1 differ from the primary's output"),
            run.events(1));
    }

    @Test
    void withThreeReplicasTheTwoThatAgreeDecideAndTheOddOneIsStopped() throws Exception
    {
        final ReplicatedRun clean = ReplicatedRun.run(3, List.of(), INPUT, "sha256sum").assertClean();
        final ReplicatedRun run = ReplicatedRun.run(3, List.of("--fault-corrupt-input", "2:3"), INPUT, "sha256sum");

        assertEquals(clean.stdout, run.stdout);
        assertEquals(0, run.exitCode, run.stderr);
        assertTrue(run.backupReplayedToTheEnd(1), "replica 1 agreed with the primary and finished:\n" + run.events(1));
        assertFalse(run.backupReplayedToTheEnd(2));
        assertTrue(run.events(2).contains("replicas 0 and 1 agree, so this replica is the odd one"), run.events(2));
        assertTrue(run.stderr.contains("replica 2 diverged"), run.stderr);
    }

    @Test
    void aCallThatCannotBeReplicatedStopsEveryReplicaNamingIt() throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(2, testProgram("nd_unsupported").toString());
        assertEquals(125, run.exitCode);
        assertTrue(run.stderr.contains("io_uring_setup (system call 425) cannot be replicated"), run.stderr);
        assertTrue(run.events(1).contains("the primary stopped: io_uring_setup"), run.events(1));
        assertEquals("", run.stdout);
    }

    @Test
    void aProgramThatIsNotThereIsReportedByTheLauncher() throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(2, "/nonexistent/program");
        assertEquals(125, run.exitCode);
        assertTrue(run.stderr.contains("/nonexistent/program"), run.stderr);
    }
}
