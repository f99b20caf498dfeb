package io.replicore.coordinator;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A child's end reaches its parent at a point every replica reproduces: each replica holds a child's exit_group
 * until its parent is stopped in a call or asleep in a wait, where the primary logs it (CHILD_END), so the parent's
 * SIGCHLD handler runs and its waitpid finds the zombie at the same point everywhere. Each program prints what it saw
 * when; a backup that saw it elsewhere prints other bytes, which the output check reports.
 */
class ChildEndReplicationTest
{
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aParentPollingItsChildrenSeesEachEndAtTheSameTurnInEveryReplica(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "poll");
        assertTrue(run.stdout.endsWith("reaped=6\n"), run.stdout);
        assertEquals(6, run.stdout.split("reaped child", -1).length - 1, run.stdout);
    }

    /**
     * Each child writes to a pipe without a reader: SIGPIPE, which it does not handle, ends it at that write, and the
     * end is held there like an exit_group until a point of the parent.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aChildEndedBySigpipeReachesItsParentAtTheSameTurnInEveryReplica(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "sigpipe");
        assertTrue(run.stdout.endsWith("reaped=6\n"), run.stdout);
        assertEquals(6, run.stdout.split("signal 13,", -1).length - 1, run.stdout);
    }

    /**
     * The parent kills each child with SIGTERM, which the child does not handle: the signal reaches the child at one
     * of its calls, and its end is held there until a point of the parent.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aChildKilledByItsParentReachesItsParentAtTheSameTurnInEveryReplica(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "killed");
        assertTrue(run.stdout.endsWith("reaped=6\n"), run.stdout);
        assertEquals(6, run.stdout.split("signal 15,", -1).length - 1, run.stdout);
    }

    /**
     * The kernel hands SIGCHLD to the thread that forked, if it does not block it: the end waits for a point of that
     * thread, not of the parent's other thread, which makes calls all along.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void anEndWhoseSignalGoesToTheForkingThreadIsTakenAtThatThreadsCall(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "threads");
        assertTrue(run.stdout.endsWith("handler elsewhere=0\nreaped=6\n"), run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aParentInSigsuspendWakesForTheSameEndsInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "suspend");
        assertTrue(run.stdout.endsWith("reaped=6\n"), run.stdout);
    }

    /**
     * The parent reads the pipe until the child's end closes it: the read waits in slices, and the held end is
     * let run there (without that, the end would wait for a call the parent makes only once the pipe has ended).
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aCommandSubstitutionsPipeEndsWithItsChildInEveryReplica(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "pipe");
        assertEquals("substituted", run.value("substitution"));
        assertEquals("0", run.value("child_status"));
        assertEquals("1", run.value("signals"));
    }

    /**
     * A grandchild whose parent ended goes to the replica's init, which the launcher runs outside the application:
     * its end is let run at once, and the application's first process reaps only its own child, then sees the
     * grandchild's end close the pipe it held.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void anOrphansEndGoesToTheReplicasInitInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "orphan");
        assertEquals("reaped child, status 0\nreaped=1\ngrandchild ended\n", run.stdout);
    }

    /**
     * posix_spawn sleeps in its clone until the child has exec'd or ended: a child that cannot exec ends while its
     * parent sleeps there, which is a point of the parent.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aSpawnedChildThatCannotExecEndsWhileItsParentSleepsInTheClone(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "spawn");
        assertEquals("/bin/true: status 0\n/nonexistent/program: No such file or directory\nsignals=2\n",
            run.stdout);
    }

    /**
     * A parent that computes without a call meets no point: after a second the end is let run anyway, named in the
     * event log, and every backup lets its own run at the same record.
     */
    @ParameterizedTest(name = "{0} replicas")
    @CsvSource({"2", "3"})
    void anEndWhoseParentMakesNoCallIsLetRunAfterASecond(final int replicas) throws Exception
    {
        final ReplicatedRun run = ended(replicas, "parallel", "busy");
        assertEquals("signals=1\nchild_status=0\n", run.stdout);
        assertTrue(run.events(0).contains("ended at no point of its parent"), run.events(0));
    }

    /**
     * dash waits for its children with WNOHANG or without as SIGCHLD has come or not: the same waits in every
     * replica only if the ends come at the same points.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aShellPipelineOfSeveralProcessesGivesTheSameResultInEveryReplica(final int replicas, final String mode)
        throws Exception
    {
        // sort -R draws its random key from getrandom, which the primary replicates.
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of("--scheduling", mode), null, "/bin/sh", "-c",
            "seq 1 100000 | sort -R | sha256sum; x=$(echo substituted); echo \"$x\"").assertClean();
        assertTrue(run.stdout.matches("[0-9a-f]{64}  -\\nsubstituted\\n"), run.stdout);
    }

    /**
     * The child's end reaches its parent asleep in nanosleep under a SIGCHLD handler: the sleep fails with EINTR and
     * leaves the time left where the parent asked for it, in every replica, as the kernel's would.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void anEndThatInterruptsASleepLeavesTheTimeLeftInEveryReplica(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = ended(replicas, mode, "sleep");
        assertEquals("nanosleep returned -1 (EINTR), signals=1, over 27 s left\n", run.stdout);
    }

    private static ReplicatedRun ended(final int replicas, final String mode, final String how) throws Exception
    {
        return ReplicatedRun.run(replicas, List.of("--scheduling", mode), null, testProgram("nd_sigchld").toString(),
            how).assertClean();
    }
}
