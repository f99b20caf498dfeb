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
    /** Anything else (pipe, socket, terminal, device, /proc or /sys, inherited stdio, a file written outside the
     * state directory): the primary alone touches it and logs what it read or signs what it wrote. */
    EXTERNAL
}
