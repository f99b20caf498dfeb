package io.replicore.coordinator;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.HeartbeatMonitor;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;

import java.util.concurrent.locks.LockSupport;

/**
 * Who follows a lost primary: the live backup with the lowest id names itself primary of the next epoch with one
 * compare-and-swap of the epoch word, so two replicas can never both win; every other backup follows the winner.
 * A candidate whose heartbeat stops while the others wait is passed over.
 */
final class Succession
{
    private static final long WAIT_NS = 100_000;

    private Succession()
    {
    }

    /**
     * Called by a backup that has replayed everything the lost primary logged.
     *
     * @return the new primary's id: {@code selfId} if this replica won the epoch.
     */
    static int decide(
        final Mailbox mailbox, final int lostPrimaryId, final int selfId, final long heartbeatTimeoutNs,
        final String reason)
    {
        final ControlBlock control = mailbox.control();
        final ReplicaSlot lost = mailbox.slot(lostPrimaryId);
        // A primary that ended on its own (fenced, handed over, failed) says so itself; a silent one is declared dead.
        if (lost.compareAndSetState(ReplicaState.PRIMARY, ReplicaState.DEAD))
        {
            lost.lastError(ReplicaState.DEAD.code(), reason);
        }
        final HeartbeatMonitor heartbeats = new HeartbeatMonitor(mailbox, System.nanoTime());
        while (true)
        {
            final long word = control.epochWord();
            if (ControlBlock.primaryOf(word) != lostPrimaryId)
            {
                return ControlBlock.primaryOf(word);
            }
            final long nowNs = System.nanoTime();
            heartbeats.poll(nowNs);
            if (candidate(mailbox, heartbeats, nowNs, heartbeatTimeoutNs) == selfId)
            {
                if (control.compareAndSetEpoch(word, selfId))
                {
                    return selfId;
                }
                continue;
            }
            LockSupport.parkNanos(WAIT_NS);
        }
    }

    /**
     * @return the lowest id among backups that are live and beating, or -1.
     */
    private static int candidate(
        final Mailbox mailbox, final HeartbeatMonitor heartbeats, final long nowNs, final long timeoutNs)
    {
        for (int id = 0; id < mailbox.replicaCount(); id++)
        {
            if (mailbox.slot(id).state() == ReplicaState.BACKUP && heartbeats.isBeating(id, nowNs, timeoutNs))
            {
                return id;
            }
        }
        return -1;
    }
}
