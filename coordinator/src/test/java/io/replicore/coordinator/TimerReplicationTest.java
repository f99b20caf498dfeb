package io.replicore.coordinator;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A timer that ends in a signal (alarm, setitimer, timer_create) is the coordinator's: the primary posts its signal
 * when it expires, and it is delivered at a logged point, as the operator's signals are, so it lands at the same call
 * in every replica. A sleep is such a point too, and a kill of a process group reaches each member at a point of its
 * own. nd_timer prints where it saw each signal; a backup that saw it elsewhere prints other bytes, which the output
 * check reports. (FailoverTest has an interval timer go on firing from the backup that takes over.)
 */
class TimerReplicationTest
{
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void anAlarmLandsAtTheSameCallInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = timer(replicas, mode, "alarm");
        assertTrue(run.stdout.matches("alarm\\(1\\) returned 0\nalarm after \\d+ calls\nalarm\\(0\\) returned 0\n"),
            run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void anIntervalTimerTicksAtTheSameCallsInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = timer(replicas, mode, "itimer");
        assertTrue(run.stdout.matches("ticks=5 after \\d+ calls\narmed=1 interval_us=20000\n"), run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aPosixTimersSignalsWakeSigsuspendInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = timer(replicas, mode, "posix");
        assertEquals("signals=3 armed=1 interval_ns=10000000\ndeleted: timer_gettime=-1\n", run.stdout);
    }

    /**
     * A SA_SIGINFO handler tells POSIX timers apart by their siginfo: SI_TIMER, the timer's id and the sigev_value it
     * was made with, as the kernel gives them, whether the signal wakes sigsuspend or comes at a call; every backup
     * sends the same siginfo from the log.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aPosixTimersSignalCarriesItsTimersSiginfoInEveryReplica(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = timer(replicas, mode, "siginfo");
        assertEquals("signal 0: SI_TIMER timer 0 value 111 overrun 0\nsignal 1: SI_TIMER timer 1 value 222 overrun 0\n" +
            "signal 2: SI_TIMER timer 2 value 0 overrun 0\n", run.stdout);
    }

    /**
     * nanosleep is a point where a signal is delivered: the alarm ends a 30 s sleep after one, as the kernel's timer
     * would, instead of waiting for the sleep's end, and the sleep leaves the time left in every replica.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void anAlarmEndsASleepWithEintrInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = timer(replicas, mode, "sleep");
        assertEquals("nanosleep returned -1 (EINTR), handler ran 1 time(s), over 27 s left\n", run.stdout);
    }

    /**
     * kill(0, SIGTERM): each child takes it at one of its calls and its end is held there until a point of the
     * parent; the parent, which blocks it, keeps it pending.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aKillOfTheProcessGroupEndsEachChildInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = timer(replicas, mode, "group");
        assertEquals("group 1\nchild 0: signal 15\nchild 1: signal 15\nchild 2: signal 15\n", run.stdout);
    }

    /**
     * A kill of the process group reaches a member whose parent has ended, which the replica's init took.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aKillOfTheProcessGroupReachesAnOrphanInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = timer(replicas, mode, "orphan");
        assertEquals("the grandchild is an orphan now\norphan took SIGTERM\nthe orphan ended\n", run.stdout);
    }

    /**
     * coreutils' timeout: a POSIX timer's SIGALRM wakes it in sigsuspend, it kills its command and then its whole
     * process group; the command, asleep, ends at once, and timeout reports 124.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void timeoutEndsItsSleepingCommandInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of("--scheduling", mode), null, "/bin/sh", "-c",
            "timeout 1 sleep 30; echo status=$?").assertClean();
        assertEquals("status=124\n", run.stdout);
    }

    private static ReplicatedRun timer(final int replicas, final String mode, final String how) throws Exception
    {
        return ReplicatedRun.run(replicas, List.of("--scheduling", mode), null, testProgram("nd_timer").toString(),
            how).assertClean();
    }
}
