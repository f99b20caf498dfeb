package io.replicore.qemutests;

import io.replicore.mailbox.HeartbeatMonitor;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.PciMailboxLocator;
import io.replicore.mailbox.ReplicaSlot;

import java.util.concurrent.TimeUnit;

/**
 * Runs in a replica kernel for the fault tests: beats this replica's slot of the ivshmem mailbox every 10 ms, as a
 * coordinator does, and watches the peers' heartbeats with the mailbox's {@link HeartbeatMonitor}. Prints
 * {@code beating} once every peer has been seen beating, and {@code replica-N silent} when a peer's heartbeat has
 * not moved for SILENCE_MS: what a backup's failure detector sees when another kernel dies. Ends by itself after
 * SECONDS.
 * <pre>
 *   GuestHeartbeat ID [SILENCE_MS [SECONDS]]
 * </pre>
 */
public final class GuestHeartbeat
{
    public static final String BEATING = "beating";
    public static final String SILENT = " silent";

    private GuestHeartbeat()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final int id = Integer.parseInt(args[0]);
        final long silenceNs = TimeUnit.MILLISECONDS.toNanos(args.length > 1 ? Long.parseLong(args[1]) : 500);
        final long endNs = System.nanoTime() +
            TimeUnit.SECONDS.toNanos(args.length > 2 ? Long.parseLong(args[2]) : 600);
        try (Mailbox box = Mailbox.open(new MailboxContext().path(PciMailboxLocator.IVSHMEM)))
        {
            final ReplicaSlot slot = box.slot(id);
            slot.register((int)ProcessHandle.current().pid(), id, System.currentTimeMillis());
            final int n = box.replicaCount();
            final long[] firstBeat = new long[n];
            final boolean[] reported = new boolean[n];
            boolean allBeating = false;
            final HeartbeatMonitor monitor = new HeartbeatMonitor(box, System.nanoTime());
            while (System.nanoTime() < endNs)
            {
                final long now = System.nanoTime();
                slot.beat(now);
                monitor.poll(now);
                boolean all = true;
                for (int peer = 0; peer < n; peer++)
                {
                    if (peer == id)
                    {
                        continue;
                    }
                    if (firstBeat[peer] == 0)
                    {
                        firstBeat[peer] = box.slot(peer).heartbeat();
                    }
                    final boolean seenBeating = box.slot(peer).heartbeat() > firstBeat[peer];
                    all &= seenBeating;
                    if (allBeating && !reported[peer] && monitor.silenceNs(peer, now) > silenceNs)
                    {
                        reported[peer] = true;
                        System.out.println("replica-" + peer + SILENT + " for " +
                            TimeUnit.NANOSECONDS.toMillis(monitor.silenceNs(peer, now)) + " ms (heartbeat " +
                            box.slot(peer).heartbeat() + ")");
                    }
                }
                if (all && !allBeating)
                {
                    allBeating = true;
                    System.out.println(BEATING);
                }
                Thread.sleep(10);
            }
        }
    }
}
