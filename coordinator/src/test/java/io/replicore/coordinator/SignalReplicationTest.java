package io.replicore.coordinator;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code replicore signal HUP} delivers the signal at one logical point in every replica: the primary sends it to
 * a thread stopped in an intercepted call (or asleep in pause) and logs where, and every backup sends it to its
 * own thread at the same point. nd_signal prints where its handler ran; a backup whose handler ran elsewhere
 * would print other bytes, which the output check reports.
 */
class SignalReplicationTest
{
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aSignalLandsAtTheSameCallInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = signalled(replicas, mode, "loop");
        assertTrue(run.stdout.matches("ready\nhandler ran\nhup after \\d+ calls\n"), run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aSignalEndsPauseInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = signalled(replicas, mode, "pause");
        assertEquals("ready\nhandler ran\npause returned: Interrupted system call, 1 hup\n", run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aSignalEndsAnEpollWaitWithEintrEvenUnderSaRestart(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = signalled(replicas, mode, "wait");
        assertEquals("ready\nhandler ran\nepoll_wait returned -1: Interrupted system call, 1 hup\n", run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel"})
    void aBlockedSignalIsTakenWhereTheProgramUnblocksIt(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = signalled(replicas, mode, "blocked");
        assertTrue(run.stdout.matches("ready\nunblocking after \\d+ calls, 0 hup so far\nhandler ran\n" +
            "unblocked, 1 hup\n"), run.stdout);
    }

    /**
     * Run nd_signal in {@code mode}, send it HUP once it is ready, and check that every backup replayed it to the
     * end, handler included.
     */
    private static ReplicatedRun signalled(final int replicas, final String scheduling, final String mode)
        throws Exception
    {
        final ReplicatedRun.Running running = ReplicatedRun.start(replicas, List.of("--scheduling", scheduling), null,
            testProgram("nd_signal").toString(), mode);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.readString(running.stdoutFile()).contains("ready"))
        {
            assertTrue(running.process().isAlive() && System.nanoTime() < deadline, "nd_signal did not get ready");
            Thread.sleep(20);
        }
        assertEquals(0, ReplicatedRun.cli("signal", "HUP", "--mailbox", running.mailbox()));
        return running.finish().assertClean();
    }
}
