package io.replicore.mailbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Names a mailbox by its PCI device instead of a file: {@code pci:VENDOR:DEVICE} (the first such device) or
 * {@code pci:VENDOR:DEVICE@ADDRESS} (e.g. {@code pci:1af4:1110@0000:00:05.0}). In a QEMU guest the mailbox is an
 * ivshmem-plain device, {@code pci:1af4:1110}, whose shared memory is BAR 2: the locator finds the device under
 * /sys/bus/pci/devices, enables it (memory decoding is off until {@code enable} is written) and gives the path of
 * its {@code resource2} file, which {@link MemoryMapping} maps like any other (mmap only: read and write fail on
 * it).
 */
public final class PciMailboxLocator
{
    /** The prefix that marks a PCI name in {@link MailboxContext#path(String)}. */
    public static final String PREFIX = "pci:";
    /** ivshmem's vendor and device id (Red Hat, Inc. / Inter-VM shared memory). */
    public static final String IVSHMEM = PREFIX + "1af4:1110";
    /** The shared memory of ivshmem-plain and ivshmem-doorbell. */
    public static final int IVSHMEM_BAR = 2;

    private static final Path SYSFS_DEVICES = Path.of("/sys/bus/pci/devices");

    private final Path devicesDir;

    public PciMailboxLocator()
    {
        this(SYSFS_DEVICES);
    }

    /**
     * @param devicesDir the folder of PCI devices (/sys/bus/pci/devices; another for tests).
     */
    public PciMailboxLocator(final Path devicesDir)
    {
        this.devicesDir = devicesDir;
    }

    public static boolean isPciName(final String path)
    {
        return path != null && path.startsWith(PREFIX);
    }

    /**
     * @return {@code path} itself unless it is a PCI name, else the enabled device's BAR 2 resource file.
     * @throws MailboxException when the name is malformed, no such device exists or it cannot be enabled.
     */
    public static String resolve(final String path)
    {
        return isPciName(path) ? new PciMailboxLocator().locate(path).toString() : path;
    }

    /**
     * Find the device a PCI name stands for, enable it and return its BAR 2 resource file.
     */
    public Path locate(final String name)
    {
        final String spec = name.substring(PREFIX.length()).toLowerCase(Locale.ROOT);
        final int at = spec.indexOf('@');
        final String ids = at < 0 ? spec : spec.substring(0, at);
        final String address = at < 0 ? null : spec.substring(at + 1);
        final String[] parts = ids.split(":");
        if (parts.length != 2 || !isHexId(parts[0]) || !isHexId(parts[1]))
        {
            throw new MailboxException(name, "is not a PCI name",
                "write pci:VENDOR:DEVICE with four hex digits each, e.g. " + IVSHMEM +
                ", optionally followed by @DOMAIN:BUS:SLOT.FUNCTION");
        }
        final String vendor = "0x" + parts[0];
        final String device = "0x" + parts[1];

        final List<String> seen = new ArrayList<>();
        for (final Path dir : devices(name))
        {
            final String dirName = dir.getFileName().toString();
            if (address != null && !dirName.equals(address))
            {
                continue;
            }
            final String v = readId(dir.resolve("vendor"));
            final String d = readId(dir.resolve("device"));
            seen.add(dirName + " " + v + ":" + d);
            if (vendor.equals(v) && device.equals(d))
            {
                return enabledBar(name, dir);
            }
        }
        throw new MailboxException(name, "no PCI device " + parts[0] + ":" + parts[1] +
            (address == null ? "" : " at " + address) + " under " + devicesDir + " (found: " +
            (seen.isEmpty() ? "none" : String.join(", ", seen)) + ")",
            "give the machine the mailbox device (QEMU: -object memory-backend-file,share=on,... " +
            "-device ivshmem-plain,memdev=...) or pass the mailbox's file path instead");
    }

    private Path enabledBar(final String name, final Path dir)
    {
        final Path bar = dir.resolve("resource" + IVSHMEM_BAR);
        if (!Files.exists(bar))
        {
            throw new MailboxException(name, "device " + dir.getFileName() + " has no BAR " + IVSHMEM_BAR +
                " (" + bar + " is missing)", "use an ivshmem-plain device backed by a memory-backend-file");
        }
        final Path enable = dir.resolve("enable");
        try
        {
            if (!"1".equals(Files.readString(enable, StandardCharsets.US_ASCII).trim()))
            {
                Files.writeString(enable, "1", StandardCharsets.US_ASCII);
            }
        }
        catch (final IOException ex)
        {
            throw new MailboxException(name, "device " + dir.getFileName() + " cannot be enabled (" + enable +
                ": " + ex.getMessage() + ")", "run as root, who may write the device's enable file");
        }
        return bar;
    }

    private List<Path> devices(final String name)
    {
        try (Stream<Path> list = Files.list(devicesDir))
        {
            return list.sorted().toList();
        }
        catch (final IOException ex)
        {
            throw new MailboxException(name, "cannot list PCI devices in " + devicesDir + ": " + ex.getMessage(),
                "mount sysfs at /sys");
        }
    }

    private static String readId(final Path file)
    {
        try
        {
            return Files.readString(file, StandardCharsets.US_ASCII).trim().toLowerCase(Locale.ROOT);
        }
        catch (final IOException ex)
        {
            return "?";
        }
    }

    private static boolean isHexId(final String s)
    {
        return s.length() == 4 && s.chars().allMatch(c -> Character.digit(c, 16) >= 0);
    }
}
