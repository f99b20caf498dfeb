package io.replicore.mailbox;

/**
 * The state word of a replica slot. The numeric codes are part of the mailbox layout.
 */
public enum ReplicaState
{
    /** The slot has never been used in this run. */
    EMPTY(0),
    /** The coordinator is starting its application. */
    STARTING(1),
    PRIMARY(2),
    BACKUP(3),
    /** A former primary that found the epoch changed and stopped emitting output. */
    FENCED(4),
    /** Stopped because its calls or outputs differed from the others'. */
    DIVERGED(5),
    /** Declared dead by a peer (crash, missed heartbeats) or by its own kernel's panic notifier. */
    DEAD(6),
    /** The application exited and the replica finished its log. */
    STOPPED(7),
    /** Stopped on an error it reported in its slot, such as a call it cannot replay. */
    FAILED(8);

    private static final ReplicaState[] BY_CODE = values();

    private final int code;

    ReplicaState(final int code)
    {
        this.code = code;
    }

    public int code()
    {
        return code;
    }

    /**
     * @return true for the states in which a replica is expected to beat.
     */
    public boolean isLive()
    {
        return this == STARTING || this == PRIMARY || this == BACKUP;
    }

    /**
     * @return true once the replica has finished, for whatever reason: it will not beat or write again.
     */
    public boolean isEnded()
    {
        return this != EMPTY && !isLive();
    }

    public static ReplicaState of(final int code)
    {
        if (code < 0 || code >= BY_CODE.length)
        {
            throw new IllegalArgumentException("unknown replica state code " + code);
        }
        return BY_CODE[code];
    }
}
