package io.replicore.coordinator.replay;

/**
 * Why a replica stops before its application finished: a call it cannot replay, a divergence, a damaged log, a
 * primary that found itself replaced (fenced) or that handed over on request. Carries the message that goes to the
 * replica's slot, its event log and the operator.
 */
public final class ReplicaStop extends Exception
{
    private static final long serialVersionUID = 1L;

    /**
     * What kind of end it is, which decides the replica's final state.
     */
    public enum Kind
    {
        FAILED, DIVERGED, FENCED, HANDED_OVER
    }

    private final int nr;
    private final long sequence;
    private final Kind kind;

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
        this(nr, message, sequence, divergence ? Kind.DIVERGED : Kind.FAILED);
    }

    public ReplicaStop(final int nr, final String message, final long sequence, final Kind kind)
    {
        super(message);
        this.nr = nr;
        this.sequence = sequence;
        this.kind = kind;
    }

    public Kind kind()
    {
        return kind;
    }

    public long sequence()
    {
        return sequence;
    }

    public boolean isDivergence()
    {
        return kind == Kind.DIVERGED;
    }

    /**
     * @return the system call involved, or -1.
     */
    public int nr()
    {
        return nr;
    }
}
