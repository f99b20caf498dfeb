package io.replicore.coordinator;

import io.replicore.coordinator.replay.LogSink;
import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaSlot;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * The primary's log: every record goes to the channel of every live backup before the call is answered. A full
 * channel is waited out; a backup that stopped (diverged, failed, dead) is dropped, never waited for.
 */
final class PrimaryLog implements LogSink
{
    private final ChannelWriter[] writers;
    private final ReplicaSlot[] backups;
    private final boolean[] dropped;
    private final ReplicaSlot ownSlot;
    private final IdleStrategy idle = new BackoffIdleStrategy(100, 10, 1_000, 100_000);
    private long lastSequence;

    PrimaryLog(final Mailbox mailbox, final int primaryId)
    {
        final int count = mailbox.replicaCount() - 1;
        writers = new ChannelWriter[count];
        backups = new ReplicaSlot[count];
        dropped = new boolean[count];
        int i = 0;
        for (int id = 0; id < mailbox.replicaCount(); id++)
        {
            if (id != primaryId)
            {
                writers[i] = mailbox.newWriter(primaryId, id);
                backups[i] = mailbox.slot(id);
                i++;
            }
        }
        ownSlot = mailbox.slot(primaryId);
    }

    @Override
    public void append(final int type, final DirectBuffer buffer, final int offset, final int length)
    {
        for (int i = 0; i < writers.length; i++)
        {
            if (dropped[i])
            {
                continue;
            }
            idle.reset();
            long sequence;
            while ((sequence = writers[i].tryWrite(type, buffer, offset, length)) == ChannelWriter.BACK_PRESSURED)
            {
                if (backups[i].state().isEnded())
                {
                    dropped[i] = true;
                    break;
                }
                idle.idle();
            }
            if (sequence > 0)
            {
                lastSequence = sequence;
            }
        }
        ownSlot.logSequence(lastSequence);
    }
}
