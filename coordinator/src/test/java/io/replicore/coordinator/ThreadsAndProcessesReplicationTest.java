package io.replicore.coordinator;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Programs of several threads and processes, replicated in parallel mode: each thread's calls are answered in
 * the primary's log order, and threads and processes are created one at a time in that order so that their ids
 * inside each replica's pid namespace agree.
 */
class ThreadsAndProcessesReplicationTest
{
    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void everyThreadGetsThePrimarysClockAndRandomBytes(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, testProgram("nd_threads").toString()).assertClean();
        assertEquals(4, run.lines().size(), run.stdout);
        for (int thread = 0; thread < 4; thread++)
        {
            assertEquals(16, run.value("thread" + thread).length(), run.stdout);
        }
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void aForkedChildRunsInEveryReplicaAndItsParentReapsIt(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, testProgram("nd_fork").toString()).assertClean();
        assertEquals("hello", run.value("child"));
        assertEquals("0", run.value("child_status"));
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void aShellPipelineOfSeveralProcessesGivesTheSameResultInEveryReplica(final int replicas) throws Exception
    {
        // sort -R draws its random key from getrandom, which the primary replicates.
        final ReplicatedRun run = ReplicatedRun.run(replicas, "/bin/sh", "-c",
            "seq 1 100000 | sort -R | sha256sum").assertClean();
        assertTrue(run.stdout.matches("[0-9a-f]{64}  -\\n"), run.stdout);
    }

    @Test
    void aDataRaceThatMakesReplicasDifferIsReportedAsADivergence() throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(2, testProgram("nd_race").toString());
        assertEquals(0, run.exitCode, run.stderr);
        assertTrue(run.stdout.startsWith("counter="), run.stdout);
        assertFalse(run.backupReplayedToTheEnd(1));
        assertTrue(run.events(1).contains("differ from the primary's output"), run.events(1));
        assertTrue(run.stderr.contains("replica 1 diverged"), run.stderr);
    }
}
