package io.replicore.coordinator.replay;

import org.agrona.DirectBuffer;

/**
 * Where a primary appends records: the channel to every live backup.
 */
public interface LogSink
{
    /**
     * Append one record to every live backup's log, waiting out back-pressure.
     */
    void append(int type, DirectBuffer buffer, int offset, int length);
}
