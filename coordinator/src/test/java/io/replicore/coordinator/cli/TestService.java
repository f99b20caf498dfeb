package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * A mailbox in /dev/shm filled by hand the way running coordinators would fill it, so that the admin commands
 * can be tried on every state without starting a service. Closing unmaps and removes it.
 */
final class TestService implements AutoCloseable
{
    final String path = Path.of("/dev/shm", "replicore-cli-test-" + UUID.randomUUID()).toString();
    final Mailbox mailbox;
    final ControlBlock control;

    TestService(final int replicas)
    {
        mailbox = Mailbox.create(new MailboxContext().path(path).replicaCount(replicas).channelCapacity(64 * 1024));
        control = mailbox.control();
        control.compareAndSetEpoch(control.epochWord(), 0);
        control.serviceState(ControlBlock.SERVICE_RUNNING);
    }

    /**
     * Register replica {@code id} as its coordinator would, in {@code state}.
     */
    ReplicaSlot replica(final int id, final ReplicaState state, final int pid, final int appPid)
    {
        final ReplicaSlot slot = mailbox.slot(id);
        slot.register(pid, id, System.currentTimeMillis());
        slot.appPid(appPid);
        slot.state(state);
        return slot;
    }

    @Override
    public void close() throws IOException
    {
        mailbox.close();
        Files.deleteIfExists(Path.of(path));
    }
}
