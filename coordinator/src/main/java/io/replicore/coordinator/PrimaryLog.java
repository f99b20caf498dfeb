package io.replicore.coordinator;

import io.replicore.coordinator.replay.LogRecord;
import io.replicore.coordinator.replay.LogSink;
import io.replicore.coordinator.replay.ReplicaStop;
import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaSlot;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * The primary's log: every record goes to the channel of every live backup before the call is answered. A full
 * channel is waited out; a backup that stopped (diverged, failed, dead) is dropped, never waited for.
 * <p>
 * Channel sequences are positions in the replicated log, which a new primary continues: after a failover its
 * first record to each backup repeats the last one it applied ({@link #repeat}), so that a backup the old primary
 * had not reached yet gets it, and one that had can tell it is the same record.
 * <p>
 * Fencing: the epoch word is read before every append; once another replica is named primary nothing more is
 * appended and the caller must stop.
 * <p>
 * The primary's lanes append concurrently: one append at a time, and the order of appends is the log's order.
 */
final class PrimaryLog implements LogSink
{
    private final ChannelWriter[] writers;
    private final ReplicaSlot[] backups;
    private final boolean[] dropped;
    private final ReplicaSlot ownSlot;
    private final ControlBlock control;
    private final long ownEpochWord;
    private final IdleStrategy idle = new BackoffIdleStrategy(100, 10, 1_000, 100_000);
    private volatile long lastSequence;
    /** Why the primary stopped, from its STOP record: what every later append reports too; null while it serves. */
    private ReplicaStop stopped;

    /**
     * @param lastSequence the position of the last record in the log so far: 0 for the first primary, the
     * position it replayed to for a new one.
     */
    PrimaryLog(final Mailbox mailbox, final int primaryId, final long lastSequence)
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
                writers[i] = mailbox.newWriter(primaryId, id, Math.max(1, lastSequence));
                backups[i] = mailbox.slot(id);
                // One that has not registered yet (EMPTY) will read its channel from the start.
                dropped[i] = backups[i].state().isEnded();
                i++;
            }
        }
        ownSlot = mailbox.slot(primaryId);
        control = mailbox.control();
        ownEpochWord = control.epochWord();
        this.lastSequence = lastSequence;
    }

    /**
     * Send the record at position {@link #lastSequence} again, as the first record of every channel: a new
     * primary's catch-up for the backups that the old primary died before reaching.
     */
    synchronized void repeat(final int type, final DirectBuffer buffer, final int offset, final int length) throws ReplicaStop
    {
        lastSequence--;
        append(type, buffer, offset, length);
    }

    @Override
    public synchronized void append(final int type, final DirectBuffer buffer, final int offset, final int length)
        throws ReplicaStop
    {
        checkStillPrimary();
        if (stopped != null)
        {
            // Another lane logged why the replica stops: nothing may follow it, and that reason is the replica's.
            throw new ReplicaStop(stopped.nr(), stopped.getMessage(), lastSequence, ReplicaStop.Kind.FAILED);
        }
        if (type == LogRecord.TYPE_STOP)
        {
            stopped = new ReplicaStop(buffer.getInt(offset + LogRecord.STOP_CALL_NUMBER_OFFSET),
                buffer.getStringWithoutLengthUtf8(offset + LogRecord.STOP_MESSAGE_OFFSET,
                buffer.getInt(offset + LogRecord.STOP_MESSAGE_LENGTH_OFFSET)));
        }
        for (int i = 0; i < writers.length; i++)
        {
            if (dropped[i])
            {
                continue;
            }
            idle.reset();
            while (writers[i].tryWrite(type, buffer, offset, length) == ChannelWriter.BACK_PRESSURED)
            {
                if (backups[i].state().isEnded())
                {
                    dropped[i] = true;
                    break;
                }
                idle.idle();
            }
        }
        ownSlot.logSequence(++lastSequence);
    }

    @Override
    public long lastSequence()
    {
        return lastSequence;
    }

    @Override
    public int epoch()
    {
        return ControlBlock.epochOf(ownEpochWord);
    }

    @Override
    public void checkStillPrimary() throws ReplicaStop
    {
        final long word = control.epochWord();
        if (word != ownEpochWord)
        {
            throw new ReplicaStop(-1, "replaced by replica " + ControlBlock.primaryOf(word) + ", primary of epoch " +
                ControlBlock.epochOf(word) + "; emits nothing more", lastSequence,
                ReplicaStop.Kind.FENCED);
        }
    }
}
