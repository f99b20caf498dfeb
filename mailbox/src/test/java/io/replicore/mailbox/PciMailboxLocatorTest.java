package io.replicore.mailbox;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The PCI name of a mailbox, against a folder laid out like /sys/bus/pci/devices (the real device is exercised by
 * the QEMU rig's tests, qemu-tests), and a region larger than its mailbox, as a BAR or an ivshmem backing file is.
 */
class PciMailboxLocatorTest
{
    private static final int CAPACITY = 64 * 1024;
    private static final long BAR_LENGTH = 4L << 20;

    @TempDir
    Path devices;

    private final ShmFiles files = new ShmFiles();

    @AfterEach
    void removeFiles() throws Exception
    {
        files.close();
    }

    private Path device(final String address, final String vendor, final String device) throws Exception
    {
        final Path dir = Files.createDirectories(devices.resolve(address));
        Files.writeString(dir.resolve("vendor"), vendor + "\n");
        Files.writeString(dir.resolve("device"), device + "\n");
        Files.writeString(dir.resolve("enable"), "0\n");
        return dir;
    }

    /** A formatted mailbox in a file the size of a BAR, larger than the mailbox itself. */
    private String mailboxInLargerRegion() throws Exception
    {
        final String path = files.newPath();
        Mailbox.create(new MailboxContext().path(path).replicaCount(2).channelCapacity(CAPACITY)).close();
        try (RandomAccessFile file = new RandomAccessFile(path, "rw"))
        {
            file.setLength(BAR_LENGTH);
        }
        return path;
    }

    @Test
    void findsTheIvshmemDeviceAmongOthersEnablesItAndGivesItsBarTwo() throws Exception
    {
        device("0000:00:01.0", "0x8086", "0x7000");
        final Path ivshmem = device("0000:00:05.0", "0x1af4", "0x1110");
        Files.createFile(ivshmem.resolve("resource2"));

        final Path bar = new PciMailboxLocator(devices).locate(PciMailboxLocator.IVSHMEM);

        assertEquals(ivshmem.resolve("resource2"), bar);
        assertEquals("1", Files.readString(ivshmem.resolve("enable")).trim());
    }

    @Test
    void anAddressPicksOneOfTwoIvshmemDevices() throws Exception
    {
        Files.createFile(device("0000:00:04.0", "0x1af4", "0x1110").resolve("resource2"));
        final Path second = device("0000:00:06.0", "0x1af4", "0x1110");
        Files.createFile(second.resolve("resource2"));

        assertEquals(second.resolve("resource2"),
            new PciMailboxLocator(devices).locate("pci:1AF4:1110@0000:00:06.0"));
    }

    @Test
    void anAbsentDeviceIsAnErrorListingTheDevicesThere() throws Exception
    {
        device("0000:00:01.0", "0x8086", "0x7000");

        final MailboxException ex = assertThrows(MailboxException.class,
            () -> new PciMailboxLocator(devices).locate(PciMailboxLocator.IVSHMEM));

        assertTrue(ex.getMessage().contains("no PCI device 1af4:1110"), ex.getMessage());
        assertTrue(ex.getMessage().contains("0000:00:01.0 0x8086:0x7000"), ex.getMessage());
        assertTrue(ex.getMessage().contains("ivshmem-plain"), ex.getMessage());
    }

    @Test
    void aDeviceWithoutBarTwoIsAnError() throws Exception
    {
        device("0000:00:05.0", "0x1af4", "0x1110");

        final MailboxException ex = assertThrows(MailboxException.class,
            () -> new PciMailboxLocator(devices).locate(PciMailboxLocator.IVSHMEM));

        assertTrue(ex.getMessage().contains("has no BAR 2"), ex.getMessage());
    }

    @Test
    void aMalformedNameIsAnError()
    {
        for (final String name : new String[] {"pci:1af4", "pci:1af4:11100", "pci:xyzw:1110", "pci:"})
        {
            final MailboxException ex = assertThrows(MailboxException.class,
                () -> new PciMailboxLocator(devices).locate(name), name);
            assertTrue(ex.getMessage().contains("is not a PCI name"), ex.getMessage());
        }
    }

    @Test
    void aPlainPathIsLeftAlone()
    {
        assertEquals("/dev/shm/web", PciMailboxLocator.resolve("/dev/shm/web"));
        assertFalse(PciMailboxLocator.isPciName("/dev/shm/pci:1af4:1110"));
    }

    @Test
    void aResourceFileFoundThroughTheLocatorOpensAsTheMailbox() throws Exception
    {
        final String region = mailboxInLargerRegion();
        final Path ivshmem = device("0000:00:05.0", "0x1af4", "0x1110");
        Files.createSymbolicLink(ivshmem.resolve("resource2"), Path.of(region));

        final Path bar = new PciMailboxLocator(devices).locate(PciMailboxLocator.IVSHMEM);
        try (Mailbox opened = Mailbox.open(new MailboxContext().path(bar.toString())))
        {
            assertEquals(2, opened.replicaCount());
            assertEquals(MailboxLayout.totalLength(2, CAPACITY), opened.totalLength());
        }
    }

    @Test
    void aRegionLargerThanItsMailboxOpensMappingOnlyTheMailboxAndIsNotRecreatedOver() throws Exception
    {
        final String region = mailboxInLargerRegion();

        try (Mailbox opened = Mailbox.open(new MailboxContext().path(region).replicaCount(2)))
        {
            assertEquals(MailboxLayout.totalLength(2, CAPACITY), opened.totalLength());
            assertTrue(opened.totalLength() < BAR_LENGTH);
            opened.control().serviceState(ControlBlock.SERVICE_RUNNING);
        }
        assertEquals(BAR_LENGTH, Files.size(Path.of(region)));
        final MailboxException ex = assertThrows(MailboxException.class,
            () -> Mailbox.create(new MailboxContext().path(region).replicaCount(2).channelCapacity(CAPACITY)
                .livenessProbeNs(50_000_000L)).close());
        assertTrue(ex.getMessage().contains("was left by a previous run"), ex.getMessage());
    }
}
