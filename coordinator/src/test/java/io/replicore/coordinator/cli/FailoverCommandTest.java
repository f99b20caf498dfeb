package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code replicore failover} against a mailbox whose replicas are played by this test: it refuses when nobody can
 * take over, reports a hand-over once the epoch word names the new primary, and says what it found when none
 * came.
 */
class FailoverCommandTest
{
    private TestService service;

    @BeforeEach
    void fillMailbox()
    {
        service = new TestService(3);
        service.replica(0, ReplicaState.PRIMARY, 4000, 4001);
    }

    @AfterEach
    void removeMailbox() throws Exception
    {
        service.close();
    }

    @Test
    void refusesWith3WhenNoBackupIsLive()
    {
        service.replica(1, ReplicaState.DIVERGED, 4010, 4011);
        service.replica(2, ReplicaState.DEAD, 4020, 4021);

        final CliRun run = CliRun.execute("failover", "--mailbox", service.path);

        assertEquals(3, run.exitCode, run.toString());
        assertEquals("failover: there is no live backup to hand over to (replica 0 primary, replica 1 diverged, " +
            "replica 2 dead)", run.err.trim());
        assertEquals(0, ControlBlock.commandSequenceOf(service.control.commandWord()), "nothing was posted");
    }

    @Test
    void refusesWith3WhenThePrimaryHasEnded()
    {
        service.replica(0, ReplicaState.FAILED, 4000, 4001);
        service.replica(1, ReplicaState.BACKUP, 4010, 4011);

        final CliRun run = CliRun.execute("failover", "--mailbox", service.path, "--json");

        assertEquals(3, run.exitCode, run.toString());
        assertEquals("refused", Json.field(run.out, "result"));
        assertEquals("failover: there is no primary to hand over (replica 0, named by epoch 1, is failed)",
            Json.field(run.out, "message"));
    }

    @Test
    void reportsTheHandOverOnceTheNewPrimaryHoldsTheNextEpoch() throws Exception
    {
        service.replica(1, ReplicaState.STARTING, 4010, 4011);
        service.replica(2, ReplicaState.BACKUP, 4020, 4021);
        final AtomicBoolean sawCommand = new AtomicBoolean();
        final Thread replicas = playTheHandOver(2, sawCommand);

        final CliRun run = CliRun.execute("failover", "--mailbox", service.path);
        replicas.join();

        assertEquals(0, run.exitCode, run.toString());
        assertTrue(sawCommand.get());
        final Matcher matcher = Pattern.compile("failover: replica 0 handed over to replica 2, epoch 2, took " +
            "(\\d+\\.\\d{3}) ms \\(the replicas recorded 7\\.500 ms\\)").matcher(run.out.trim());
        assertTrue(matcher.matches(), run.toString());
        assertTrue(Double.parseDouble(matcher.group(1)) >= 20, "it waited for the epoch word: " + matcher.group(1));
        assertEquals(2, service.control.primaryId());
    }

    @Test
    void jsonReportsTheHandOver() throws Exception
    {
        service.replica(1, ReplicaState.BACKUP, 4010, 4011);
        final Thread replicas = playTheHandOver(1, new AtomicBoolean());

        final CliRun run = CliRun.execute("failover", "--mailbox", service.path, "--json");
        replicas.join();

        assertEquals(0, run.exitCode, run.toString());
        assertTrue(Json.isOneObject(run.out.trim()), run.out);
        assertEquals("done", Json.field(run.out, "result"));
        assertEquals("0", Json.field(run.out, "from"));
        assertEquals("1", Json.field(run.out, "to"));
        assertEquals("2", Json.field(run.out, "epoch"));
        assertEquals("7.500", Json.field(run.out, "recordedMs"));
        assertEquals("1", Json.field(run.out, "failovers"));
    }

    @Test
    void timesOutWith4SayingWhatTheEpochAndReplicasAre()
    {
        service.replica(1, ReplicaState.BACKUP, 4010, 4011);

        final CliRun run = CliRun.execute("failover", "--mailbox", service.path, "--timeout", "100");

        assertEquals(4, run.exitCode, run.toString());
        assertEquals("failover: timed out after 100 ms waiting for a new primary; epoch 1 still names replica 0; " +
            "no replica answered the request (command 1); replica 0 primary, replica 1 backup, replica 2 empty",
            run.err.trim());
        final long command = service.control.commandWord();
        assertEquals(ControlBlock.COMMAND_FAILOVER, ControlBlock.commandOf(command), "the request was posted");
    }

    /**
     * The runtime's side of the contract: on the failover command the new primary takes the next epoch, then
     * records the failover.
     */
    private Thread playTheHandOver(final int newPrimary, final AtomicBoolean sawCommand)
    {
        final ControlBlock control = service.control;
        final Thread thread = new Thread(() ->
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (ControlBlock.commandOf(control.commandWord()) != ControlBlock.COMMAND_FAILOVER &&
                System.nanoTime() < deadline)
            {
                LockSupport.parkNanos(100_000);
            }
            sawCommand.set(ControlBlock.commandOf(control.commandWord()) == ControlBlock.COMMAND_FAILOVER);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            control.compareAndSetEpoch(control.epochWord(), newPrimary);
            service.mailbox.slot(newPrimary).state(ReplicaState.PRIMARY);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            control.recordFailover(7_500_000, System.currentTimeMillis());
        });
        thread.start();
        return thread;
    }
}
