package io.replicore.mailbox;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

class MailboxValidationTest
{
    private static final int CAPACITY = 64 * 1024;
    private final ShmFiles files = new ShmFiles();

    @AfterEach
    void removeFiles() throws Exception
    {
        files.close();
    }

    private MailboxContext context(final String path)
    {
        return new MailboxContext().path(path).replicaCount(3).channelCapacity(CAPACITY)
            .livenessProbeNs(100_000_000L);
    }

    private String createdAndClosed()
    {
        final String path = files.newPath();
        Mailbox.create(context(path)).close();
        return path;
    }

    private static void poke(final String path, final long offset, final byte[] bytes) throws Exception
    {
        try (RandomAccessFile file = new RandomAccessFile(path, "rw"))
        {
            file.seek(offset);
            file.write(bytes);
        }
    }

    private static MailboxException openFails(final MailboxContext ctx)
    {
        return assertThrows(MailboxException.class, () -> Mailbox.open(ctx).close());
    }

    @Test
    void createdRegionIsPrivateToItsOwnerAndOpensWithTheSameShape() throws Exception
    {
        final String path = files.newPath();
        try (Mailbox created = Mailbox.create(context(path)))
        {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(Path.of(path))));
            assertEquals(MailboxLayout.totalLength(3, CAPACITY), Files.size(Path.of(path)));
            try (Mailbox opened = Mailbox.open(new MailboxContext().path(path)))
            {
                assertEquals(3, opened.replicaCount());
                assertEquals(CAPACITY, opened.channelCapacity());
                assertEquals(created.runId(), opened.runId());
                assertEquals(ControlBlock.NO_PRIMARY, opened.control().primaryId());
                assertEquals(ReplicaState.EMPTY, opened.slot(2).state());
                assertEquals(2, opened.slot(2).replicaId());
            }
        }
    }

    @Test
    void openingAMissingFileSaysHowToCreateIt()
    {
        final MailboxException ex = openFails(new MailboxContext().path("/dev/shm/replicore-test-missing"));
        assertTrue(ex.getMessage().contains("does not exist"), ex.getMessage());
        assertTrue(ex.getMessage().contains("replicore run"), ex.getMessage());
    }

    @Test
    void wrongMagicIsRejectedAndTheFileIsLeftAsItWas() throws Exception
    {
        final String path = createdAndClosed();
        poke(path, MailboxLayout.MAGIC_OFFSET, "NOTMINE!".getBytes());
        final byte[] before = Files.readAllBytes(Path.of(path));

        assertTrue(openFails(context(path)).getMessage().contains("not a Replicore mailbox"));
        final MailboxException ex = assertThrows(MailboxException.class, () -> Mailbox.create(context(path)));
        assertTrue(ex.getMessage().contains("cannot be reused"), ex.getMessage());
        assertArrayEquals(before, Files.readAllBytes(Path.of(path)), "nothing is silently re-initialised");
    }

    @Test
    void otherLayoutVersionIsRejected() throws Exception
    {
        final String path = createdAndClosed();
        poke(path, MailboxLayout.LAYOUT_VERSION_OFFSET, new byte[]{99, 0, 0, 0});
        final MailboxException ex = openFails(context(path));
        assertTrue(ex.getMessage().contains("layout version 99"), ex.getMessage());
        assertTrue(ex.getMessage().contains(path), "the message names the file");
    }

    @Test
    void damagedHeaderFailsItsChecksum() throws Exception
    {
        final String path = createdAndClosed();
        poke(path, MailboxLayout.CREATED_TIME_OFFSET, new byte[]{1});
        assertTrue(openFails(context(path)).getMessage().contains("corrupt header"));
    }

    @Test
    void truncatedFileIsRejected() throws Exception
    {
        final String path = createdAndClosed();
        try (RandomAccessFile file = new RandomAccessFile(path, "rw"))
        {
            file.setLength(file.length() / 2);
        }
        assertTrue(openFails(context(path)).getMessage().contains("truncated"));

        try (RandomAccessFile file = new RandomAccessFile(path, "rw"))
        {
            file.setLength(100);
        }
        assertTrue(openFails(context(path)).getMessage().contains("less than a mailbox header"));
    }

    @Test
    void replicaCountAndCapacityMustMatchWhenGiven()
    {
        final String path = createdAndClosed();
        assertTrue(openFails(context(path).replicaCount(2)).getMessage().contains("created for 3 replicas, not 2"));
        assertTrue(openFails(context(path).channelCapacity(CAPACITY * 2)).getMessage().contains("channels of"));
    }

    @Test
    void replicaOfAnotherRunIsTurnedAway()
    {
        final String path = createdAndClosed();
        final MailboxException ex = openFails(context(path).expectedRunId(42));
        assertTrue(ex.getMessage().contains("belongs to run"), ex.getMessage());
    }

    @Test
    void allZeroRegionIsNotOpenedButIsFormattedOnCreate() throws Exception
    {
        final String path = files.newPath();
        try (RandomAccessFile file = new RandomAccessFile(path, "rw"))
        {
            file.setLength(MailboxLayout.totalLength(3, CAPACITY));
        }
        assertTrue(openFails(context(path)).getMessage().contains("not formatted"));
        Mailbox.create(context(path)).close();
        Mailbox.open(context(path)).close();
    }

    @Test
    void staleRegionIsReportedAndReplacedOnlyWithReset()
    {
        final String path = files.newPath();
        final long oldRunId;
        try (Mailbox old = Mailbox.create(context(path)))
        {
            old.slot(0).register(12345, 0, System.currentTimeMillis());
            old.slot(0).state(ReplicaState.PRIMARY);
            old.slot(0).beat(System.nanoTime());
            oldRunId = old.runId();
        }
        final MailboxException ex = assertThrows(MailboxException.class, () -> Mailbox.create(context(path)));
        assertTrue(ex.getMessage().contains("left by a previous run"), ex.getMessage());
        assertTrue(ex.getMessage().contains("--reset"), ex.getMessage());

        try (Mailbox fresh = Mailbox.create(context(path).reset(true)))
        {
            assertNotEquals(oldRunId, fresh.runId());
            assertEquals(ReplicaState.EMPTY, fresh.slot(0).state());
        }
    }

    @Test
    void regionInUseIsNeverReplacedEvenWithReset() throws Exception
    {
        final String path = files.newPath();
        final AtomicBoolean running = new AtomicBoolean(true);
        try (Mailbox live = Mailbox.create(context(path)))
        {
            live.slot(1).register(4242, 1, System.currentTimeMillis());
            final Thread beater = new Thread(() ->
            {
                while (running.get())
                {
                    live.slot(1).beat(System.nanoTime());
                    java.util.concurrent.locks.LockSupport.parkNanos(5_000_000L);
                }
            });
            beater.start();
            try
            {
                final MailboxException ex = assertThrows(
                    MailboxException.class, () -> Mailbox.create(context(path).reset(true)));
                assertTrue(ex.getMessage().contains("in use by a running service"), ex.getMessage());
                assertTrue(ex.getMessage().contains("replica 1 (pid 4242)"), ex.getMessage());
            }
            finally
            {
                running.set(false);
                beater.join();
            }
        }
    }

    @Test
    void staleRegionOfAnotherShapeIsStillReportedAsStale()
    {
        final String path = files.newPath();
        Mailbox.create(context(path).replicaCount(2)).close();
        final MailboxException ex = assertThrows(MailboxException.class, () -> Mailbox.create(context(path)));
        assertTrue(ex.getMessage().contains("left by a previous run"), ex.getMessage());
        try (Mailbox bigger = Mailbox.create(context(path).reset(true)))
        {
            assertEquals(3, bigger.replicaCount());
        }
    }

    @Test
    void characterDeviceIsMappedWithTheSameCodeGivenItsLength()
    {
        // /dev/zero is a character device whose size reads as 0 and whose shared mapping is real memory:
        // it takes the same path as a reserved-memory device of the patched kernel.
        final MailboxContext ctx = context("/dev/zero").regionLength(MailboxLayout.totalLength(3, CAPACITY));
        try (Mailbox mailbox = Mailbox.create(ctx))
        {
            assertEquals(3, mailbox.replicaCount());
            final ChannelWriter writer = mailbox.newWriter(0, 2);
            final org.agrona.concurrent.UnsafeBuffer payload = new org.agrona.concurrent.UnsafeBuffer(new byte[8]);
            assertEquals(1, writer.tryWrite(7, payload, 0, 8));
            assertEquals(1, mailbox.newReader(0, 2).poll((t, s, b, o, l) ->
                org.agrona.concurrent.ControlledMessageHandler.Action.CONTINUE, 10));
        }
        final MailboxException ex = assertThrows(MailboxException.class, () -> Mailbox.open(context("/dev/zero")));
        assertTrue(ex.getMessage().contains("not formatted"), ex.getMessage());
    }

    @Test
    void aDirectoryIsNotAMailbox()
    {
        assertTrue(openFails(context("/dev/shm")).getMessage().contains("is a directory"));
    }

    @Test
    void contextRejectsImpossibleSettings()
    {
        assertThrows(IllegalArgumentException.class, () -> new MailboxContext().conclude());
        assertThrows(IllegalArgumentException.class, () -> new MailboxContext().path("/x").replicaCount(1).conclude());
        assertThrows(IllegalArgumentException.class, () -> new MailboxContext().path("/x").replicaCount(9).conclude());
        assertThrows(IllegalArgumentException.class,
            () -> new MailboxContext().path("/x").channelCapacity(5000).conclude());
        assertThrows(IllegalArgumentException.class,
            () -> new MailboxContext().path("/x").channelCapacity(1024).conclude());
    }
}
