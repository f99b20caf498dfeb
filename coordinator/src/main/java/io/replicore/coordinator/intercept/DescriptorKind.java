package io.replicore.coordinator.intercept;

/**
 * What a descriptor of the application refers to, as far as replication is concerned.
 */
public enum DescriptorKind
{
    /** A regular file inside the replica's private copy of the state directory: each replica reads and writes its own. */
    PRIVATE_FILE,
    /** A regular file outside the state directory opened read-only: the same bytes in every replica. */
    SHARED_READ_ONLY_FILE,
    /**
     * A UNIX socket both of whose ends are inside the replica (a socketpair end): every replica sends on its own,
     * so that descriptors passed over it reach the receiving process in every replica; what a process receives is
     * logged, and each backup receives the same bytes and descriptors from its own socket.
     */
    INTERNAL_SOCKET,
    /** Anything else (pipe, socket, terminal, device, /proc or /sys, inherited stdio, a file written outside the
     * state directory): the primary alone touches it and logs what it read or signs what it wrote. */
    EXTERNAL;

    /**
     * @return true if every replica reads it and asks about it on its own: the same bytes and answers everywhere.
     */
    public boolean isReadByEveryReplica()
    {
        return this == PRIVATE_FILE || this == SHARED_READ_ONLY_FILE;
    }

    /**
     * @return true if every replica writes to it itself: its own state copy, or its own end of an internal socket.
     */
    public boolean isWrittenByEveryReplica()
    {
        return this == PRIVATE_FILE || this == INTERNAL_SOCKET;
    }
}
