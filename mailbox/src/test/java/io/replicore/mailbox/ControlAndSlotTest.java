package io.replicore.mailbox;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ControlAndSlotTest
{
    private final ShmFiles files = new ShmFiles();

    @AfterEach
    void removeFiles() throws Exception
    {
        files.close();
    }

    @Test
    void onlyOneBackupWinsTheNextEpoch()
    {
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(files.newPath()).replicaCount(3)
            .channelCapacity(4096)))
        {
            final ControlBlock control = mailbox.control();
            final long start = control.epochWord();
            assertTrue(control.compareAndSetEpoch(start, 0));
            final long first = control.epochWord();
            assertEquals(1, control.epoch());
            assertEquals(0, control.primaryId());

            assertTrue(control.compareAndSetEpoch(first, 1), "replica 1 takes epoch 2");
            assertFalse(control.compareAndSetEpoch(first, 2), "replica 2 saw the same old word and loses");
            assertEquals(2, control.epoch());
            assertEquals(1, control.primaryId());
        }
    }

    @Test
    void commandsCarryIncreasingSequencesAndResultsMatchThem()
    {
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(files.newPath()).channelCapacity(4096)))
        {
            final ControlBlock control = mailbox.control();
            final int first = control.postCommand(3, 1);
            final int second = control.postCommand(4, 0);
            assertEquals(first + 1, second);
            final long word = control.commandWord();
            assertEquals(second, ControlBlock.commandSequenceOf(word));
            assertEquals(4, ControlBlock.commandOf(word));
            assertEquals(0, ControlBlock.commandArgumentOf(word));
            control.commandResult(second, -2);
            assertEquals(second, (int)(control.commandResult() >>> 32));
            assertEquals(-2, (int)control.commandResult());
        }
    }

    @Test
    void deadVerdictReplacesOnlyLiveStatesAndKeepsTheReason()
    {
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(files.newPath()).channelCapacity(4096)))
        {
            final ReplicaSlot slot = mailbox.slot(1);
            slot.register(99, 1, 0);
            slot.state(ReplicaState.BACKUP);
            assertTrue(slot.markDead("missed 5 heartbeats"));
            assertEquals(ReplicaState.DEAD, slot.state());
            assertEquals("missed 5 heartbeats", slot.lastErrorMessage());

            final ReplicaSlot stopped = mailbox.slot(0);
            stopped.state(ReplicaState.STOPPED);
            assertFalse(stopped.markDead("late verdict"));
            assertEquals(ReplicaState.STOPPED, stopped.state());
        }
    }

    @Test
    void longErrorMessagesAreCutToTheSlot()
    {
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(files.newPath()).channelCapacity(4096)))
        {
            mailbox.slot(0).lastError(8, "x".repeat(1000));
            assertEquals(ReplicaSlot.LAST_ERROR_MESSAGE_LENGTH, mailbox.slot(0).lastErrorMessage().length());
            assertEquals(8, mailbox.slot(0).lastErrorCode());
            assertEquals(ReplicaState.EMPTY, mailbox.slot(1).state(), "the next slot is untouched");
        }
    }

    @Test
    void monitorSeesWhichCountersMove()
    {
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(files.newPath()).channelCapacity(4096)))
        {
            final HeartbeatMonitor monitor = new HeartbeatMonitor(mailbox, 0);
            mailbox.slot(1).beat(1);
            assertEquals(1, monitor.poll(1_000));
            assertTrue(monitor.isBeating(1, 1_500, 1_000));
            assertFalse(monitor.isBeating(0, 1_500, 1_000));
        }
    }
}
