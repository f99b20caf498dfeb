package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code replicore signal} against a mailbox whose replicas are played by this test: a signal the operator may not
 * send is a usage error, a service with no primary refuses, and a request nobody answers times out saying why.
 * Delivery itself is proven end to end in {@code SignalReplicationTest}.
 */
class SignalCommandTest
{
    private TestService service;

    @BeforeEach
    void fillMailbox()
    {
        service = new TestService(2);
        service.replica(0, ReplicaState.PRIMARY, 4000, 4001);
        service.replica(1, ReplicaState.BACKUP, 4010, 4011);
    }

    @AfterEach
    void removeMailbox() throws Exception
    {
        service.close();
    }

    @Test
    void namesAndNumbersOfTheSignalsAnOperatorMaySend()
    {
        assertEquals(1, SignalCommand.parse("HUP"));
        assertEquals(1, SignalCommand.parse("sighup"));
        assertEquals(15, SignalCommand.parse("15"));
        assertEquals(-1, SignalCommand.parse("STOP"), "stopping a replica's process is not a signal to replicate");
        assertEquals(-1, SignalCommand.parse("11"), "SIGSEGV is a fault's");
        assertEquals(-1, SignalCommand.parse("BOGUS"));
    }

    @Test
    void anUnknownSignalIsAUsageErrorAndPostsNothing()
    {
        final CliRun run = CliRun.execute("signal", "STOP", "--mailbox", service.path);

        assertEquals(2, run.exitCode, run.toString());
        assertTrue(run.err.contains("unknown or refused signal 'STOP'"), run.err);
        assertEquals(0, ControlBlock.commandSequenceOf(service.control.commandWord()), "nothing was posted");
    }

    @Test
    void refusesWith3WhenThereIsNoPrimary()
    {
        service.replica(0, ReplicaState.DEAD, 4000, 4001);

        final CliRun run = CliRun.execute("signal", "HUP", "--mailbox", service.path);

        assertEquals(3, run.exitCode, run.toString());
        assertEquals("signal: there is no primary to deliver it", run.err.trim());
    }

    @Test
    void timesOutWith4WhenThePrimaryDoesNotDeliverIt()
    {
        final CliRun run = CliRun.execute("signal", "TERM", "--mailbox", service.path, "--timeout", "50");

        assertEquals(4, run.exitCode, run.toString());
        assertTrue(run.err.startsWith("signal: not delivered within 50 ms"), run.err);
        final long word = service.control.commandWord();
        assertEquals(ControlBlock.COMMAND_SIGNAL, ControlBlock.commandOf(word));
        assertEquals(15, ControlBlock.commandArgumentOf(word), "TERM, to the first process");
    }
}
