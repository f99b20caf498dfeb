package io.replicore.coordinator;

import io.replicore.coordinator.replay.LogRecord;
import io.replicore.coordinator.replay.ReplicaStop;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The primary's log after a lane has logged why the replica stops: a record another lane appends next is refused
 * with that same reason, so that whichever lane reports first, the replica names the call it could not replay.
 */
class PrimaryLogTest
{
    @Test
    void anAppendAfterAStopRecordIsRefusedWithTheStopsReason() throws Exception
    {
        final Path path = Path.of("/dev/shm/replicore-test-" + UUID.randomUUID());
        try (Mailbox mailbox = Mailbox.create(new MailboxContext().path(path.toString()).replicaCount(2)
            .channelCapacity(64 * 1024)))
        {
            final PrimaryLog log = new PrimaryLog(mailbox, 0, 0);
            final UnsafeBuffer record = new UnsafeBuffer(new byte[256]);
            record.putInt(LogRecord.STOP_CALL_NUMBER_OFFSET, 130);
            final int length = record.putStringWithoutLengthUtf8(LogRecord.STOP_MESSAGE_OFFSET,
                "rt_sigsuspend (system call 130) cannot be replicated by this version");
            record.putInt(LogRecord.STOP_MESSAGE_LENGTH_OFFSET, length);
            log.append(LogRecord.TYPE_STOP, record, 0, LogRecord.STOP_MESSAGE_OFFSET + length);

            LogRecord.putCall(record, 0, 1, LogRecord.ACTION_CONTINUE, 0, 0);
            final ReplicaStop refused = assertThrows(ReplicaStop.class,
                () -> log.append(LogRecord.TYPE_CALL, record, 0, LogRecord.CALL_HEADER_LENGTH));
            assertEquals("rt_sigsuspend (system call 130) cannot be replicated by this version", refused.getMessage());
            assertEquals(130, refused.nr());
            assertEquals(1, log.lastSequence(), "nothing was appended after the STOP record");
        }
        finally
        {
            Files.deleteIfExists(path);
        }
    }
}
