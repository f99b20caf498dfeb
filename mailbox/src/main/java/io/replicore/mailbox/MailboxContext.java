package io.replicore.mailbox;

import org.agrona.BitUtil;

import java.util.concurrent.TimeUnit;

/**
 * Everything needed to create or open a mailbox, validated by {@link #conclude()}.
 */
public final class MailboxContext
{
    public static final int DEFAULT_REPLICA_COUNT = 2;
    public static final int DEFAULT_CHANNEL_CAPACITY = 1 << 20;
    public static final long DEFAULT_LIVENESS_PROBE_NS = TimeUnit.MILLISECONDS.toNanos(300);

    private String path;
    private int replicaCount;
    private int channelCapacity;
    private long regionLength;
    private long livenessProbeNs = DEFAULT_LIVENESS_PROBE_NS;
    private long expectedRunId;
    private boolean reset;
    private boolean concluded;

    /**
     * Validate the settings; called by {@link Mailbox#create} and {@link Mailbox#open}.
     *
     * @throws IllegalArgumentException naming the setting that is wrong.
     */
    public MailboxContext conclude()
    {
        if (path == null || path.isEmpty())
        {
            throw new IllegalArgumentException("mailbox path is required");
        }
        if (replicaCount != 0 && (replicaCount < 2 || replicaCount > MailboxLayout.MAX_REPLICAS))
        {
            throw new IllegalArgumentException(
                "replica count must be 2.." + MailboxLayout.MAX_REPLICAS + ": " + replicaCount);
        }
        if (channelCapacity != 0 && (!BitUtil.isPowerOfTwo(channelCapacity) ||
            channelCapacity < MailboxLayout.MIN_CHANNEL_CAPACITY ||
            channelCapacity > MailboxLayout.MAX_CHANNEL_CAPACITY))
        {
            throw new IllegalArgumentException("channel capacity must be a power of two from " +
                MailboxLayout.MIN_CHANNEL_CAPACITY + " to " + MailboxLayout.MAX_CHANNEL_CAPACITY + ": " +
                channelCapacity);
        }
        if (MailboxLayout.totalLength(replicaCountOrDefault(), channelCapacityOrDefault()) > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("a mailbox of " + replicaCount + " replicas with channels of " +
                channelCapacity + " bytes would exceed 2 GiB");
        }
        if (regionLength < 0)
        {
            throw new IllegalArgumentException("region length must not be negative: " + regionLength);
        }
        if (livenessProbeNs <= 0)
        {
            throw new IllegalArgumentException("liveness probe must be positive: " + livenessProbeNs);
        }
        concluded = true;
        return this;
    }

    public boolean isConcluded()
    {
        return concluded;
    }

    /**
     * @param path a file in /dev/shm, a PCI BAR resource file, a character device exposing reserved memory, or a
     * PCI device's name ({@code pci:1af4:1110}, an ivshmem device in a QEMU guest; see {@link PciMailboxLocator}),
     * enabled and resolved to its BAR 2 resource file when the mailbox is created or opened.
     */
    public MailboxContext path(final String path)
    {
        this.path = path;
        return this;
    }

    public String path()
    {
        return path;
    }

    /**
     * @param replicaCount replicas the region serves. Creating: 0 means {@link #DEFAULT_REPLICA_COUNT}.
     * Opening: 0 accepts what the region says, anything else must match it.
     */
    public MailboxContext replicaCount(final int replicaCount)
    {
        this.replicaCount = replicaCount;
        return this;
    }

    public int replicaCount()
    {
        return replicaCount;
    }

    /**
     * @param channelCapacity bytes of records each ordered pair's ring holds: a power of two. Creating: 0 means
     * {@link #DEFAULT_CHANNEL_CAPACITY}. Opening: 0 accepts what the region says, anything else must match it.
     */
    public MailboxContext channelCapacity(final int channelCapacity)
    {
        this.channelCapacity = channelCapacity;
        return this;
    }

    public int channelCapacity()
    {
        return channelCapacity;
    }

    int replicaCountOrDefault()
    {
        return replicaCount == 0 ? DEFAULT_REPLICA_COUNT : replicaCount;
    }

    int channelCapacityOrDefault()
    {
        return channelCapacity == 0 ? DEFAULT_CHANNEL_CAPACITY : channelCapacity;
    }

    /**
     * @param regionLength size of a region whose file reports none (a character device); 0 means the file's size.
     */
    public MailboxContext regionLength(final long regionLength)
    {
        this.regionLength = regionLength;
        return this;
    }

    public long regionLength()
    {
        return regionLength;
    }

    /**
     * @param livenessProbeNs how long to watch the heartbeats of an existing region before calling it stale.
     */
    public MailboxContext livenessProbeNs(final long livenessProbeNs)
    {
        this.livenessProbeNs = livenessProbeNs;
        return this;
    }

    public long livenessProbeNs()
    {
        return livenessProbeNs;
    }

    /**
     * @param expectedRunId when opening, the run id the region must carry (0 accepts any), so a replica started
     * for one run never joins a region a later run re-created at the same path.
     */
    public MailboxContext expectedRunId(final long expectedRunId)
    {
        this.expectedRunId = expectedRunId;
        return this;
    }

    public long expectedRunId()
    {
        return expectedRunId;
    }

    /**
     * @param reset when creating, replace a region left by a previous run that is no longer in use. A region
     * whose replicas still beat is never replaced.
     */
    public MailboxContext reset(final boolean reset)
    {
        this.reset = reset;
        return this;
    }

    public boolean reset()
    {
        return reset;
    }
}
