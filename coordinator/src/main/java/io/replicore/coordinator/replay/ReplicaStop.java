package io.replicore.coordinator.replay;

/**
 * Why a replica stops before its application finished: a call it cannot replay, a divergence, a damaged log.
 * Carries the message that goes to the replica's slot, its event log and the operator.
 */
public final class ReplicaStop extends Exception
{
    private static final long serialVersionUID = 1L;

    private final int nr;
    private final long sequence;
    private final boolean divergence;

    public ReplicaStop(final int nr, final String message)
    {
        this(nr, message, 0, false);
    }

    /**
     * @param sequence the log record at which it happened, or 0.
     * @param divergence true if this replica's calls or outputs differ from the primary's.
     */
    public ReplicaStop(final int nr, final String message, final long sequence, final boolean divergence)
    {
        super(message);
        this.nr = nr;
        this.sequence = sequence;
        this.divergence = divergence;
    }

    public long sequence()
    {
        return sequence;
    }

    public boolean isDivergence()
    {
        return divergence;
    }

    /**
     * @return the system call involved, or -1.
     */
    public int nr()
    {
        return nr;
    }
}
