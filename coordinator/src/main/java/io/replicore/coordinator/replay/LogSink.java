package io.replicore.coordinator.replay;

import org.agrona.DirectBuffer;

/**
 * Where a primary appends records: the channel to every live backup. Appends are made under the sink's monitor, so
 * a lane that hands the backups something for exactly the next record holds the monitor across both.
 */
public interface LogSink
{
    /**
     * Append one record to every live backup's log, waiting out back-pressure.
     *
     * @throws ReplicaStop of kind {@link ReplicaStop.Kind#FENCED} if this replica is no longer the primary: it
     * must emit nothing more.
     */
    void append(int type, DirectBuffer buffer, int offset, int length) throws ReplicaStop;

    /**
     * @throws ReplicaStop of kind {@link ReplicaStop.Kind#FENCED} if another replica has been named primary;
     * called before every action that reaches outside the replica.
     */
    void checkStillPrimary() throws ReplicaStop;

    /**
     * @return the position of the last record appended.
     */
    long lastSequence();

    /**
     * @return the epoch in which this replica is the primary.
     */
    int epoch();
}
