package io.replicore.coordinator.replay;

/**
 * What a primary checks between two calls and between the slices of a wait: that it is still the primary
 * (fencing), and whether it has been asked to hand over in a planned failover. A wait that has returned nothing
 * yet has changed nothing, so the primary may stop inside it: the call was never logged, and the successor's
 * application makes it again.
 */
@FunctionalInterface
public interface PrimaryChecks
{
    /**
     * @throws ReplicaStop of kind FENCED or HANDED_OVER when this replica must stop being the primary.
     */
    void check() throws ReplicaStop;
}
