package io.replicore.mailbox;

/**
 * Watches the heartbeat counters of every slot and remembers, on the watcher's own clock, when each last moved.
 * Counters rather than the beaters' timestamps are compared, so it works across kernels whose clocks differ.
 */
public final class HeartbeatMonitor
{
    private final Mailbox mailbox;
    private final long[] lastBeat;
    private final long[] lastChangeNs;

    public HeartbeatMonitor(final Mailbox mailbox, final long nowNs)
    {
        this.mailbox = mailbox;
        final int count = mailbox.replicaCount();
        lastBeat = new long[count];
        lastChangeNs = new long[count];
        for (int i = 0; i < count; i++)
        {
            lastBeat[i] = mailbox.slot(i).heartbeat();
            lastChangeNs[i] = nowNs;
        }
    }

    /**
     * Sample every counter.
     *
     * @return how many counters moved since the last poll.
     */
    public int poll(final long nowNs)
    {
        int moved = 0;
        for (int i = 0; i < lastBeat.length; i++)
        {
            final long beat = mailbox.slot(i).heartbeat();
            if (beat != lastBeat[i])
            {
                lastBeat[i] = beat;
                lastChangeNs[i] = nowNs;
                moved++;
            }
        }
        return moved;
    }

    /**
     * @return nanoseconds since replica {@code replicaId}'s counter last moved, as of the last poll.
     */
    public long silenceNs(final int replicaId, final long nowNs)
    {
        return nowNs - lastChangeNs[replicaId];
    }

    public boolean isBeating(final int replicaId, final long nowNs, final long timeoutNs)
    {
        return silenceNs(replicaId, nowNs) < timeoutNs;
    }
}
