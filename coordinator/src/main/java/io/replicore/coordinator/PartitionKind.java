package io.replicore.coordinator;

/**
 * What a replica's partition shares with the others, which decides how the I/O is owned and how a dead primary is
 * seen.
 */
public enum PartitionKind
{
    /**
     * One kernel for every replica (a CPU set per replica): a backup holds duplicates of the primary's real sockets,
     * handed over a unix socket, and sees the primary's coordinator die through a pidfd at once.
     */
    PROCESS,

    /**
     * A kernel per replica (the QEMU rig, or replica kernels on one machine): nothing but the mailbox is shared.
     * The primary logs each connection's logical TCP state; a new primary rebuilds the connections with TCP_REPAIR
     * in its own kernel and takes the service address over. Peers are watched by heartbeat only: a pid in the
     * mailbox belongs to another kernel.
     */
    KERNEL;

    /**
     * @throws IllegalArgumentException naming the kinds if {@code name} is none of them.
     */
    public static PartitionKind of(final String name)
    {
        for (final PartitionKind kind : values())
        {
            if (kind.name().equalsIgnoreCase(name))
            {
                return kind;
            }
        }
        throw new IllegalArgumentException("--partition must be process or kernel, not '" + name + "'");
    }
}
