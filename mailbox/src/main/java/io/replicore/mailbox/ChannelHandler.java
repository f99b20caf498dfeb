package io.replicore.mailbox;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.ControlledMessageHandler;

/**
 * Receives records that passed the sequence and checksum checks.
 */
@FunctionalInterface
public interface ChannelHandler
{
    /**
     * @return {@link ControlledMessageHandler.Action#ABORT} to leave this record in the channel for later,
     * otherwise it is consumed as Agrona's actions say.
     */
    ControlledMessageHandler.Action onRecord(
        int type, long sequence, DirectBuffer buffer, int offset, int length);
}
