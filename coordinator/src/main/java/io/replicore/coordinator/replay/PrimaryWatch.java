package io.replicore.coordinator.replay;

/**
 * How a backup learns that the primary it follows is gone, asked only while the primary's log has nothing more.
 */
@FunctionalInterface
public interface PrimaryWatch
{
    /**
     * @return why the primary is taken for gone, or null while it is alive.
     */
    String lostReason(long nowNs);
}
