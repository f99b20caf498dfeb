package io.replicore.qemutests;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The initramfs of a replica kernel started on an offlined CPU (kernel-patches 0003): the static busybox and the
 * {@code replica-init} script, nothing else. The replica has no PCI, so no 9p root: it speaks through its serial
 * port (ttyS1) and the mailbox.
 */
public final class ReplicaInitramfs
{
    private static final String INIT_RESOURCE = "replica-init";

    private ReplicaInitramfs()
    {
    }

    /** Build {@code workDir/replica-initramfs.cpio}; @return the archive. */
    public static Path build(final Path workDir, final Path busybox)
    {
        final Path root = workDir.resolve("replica-initramfs-root");
        final Path archive = workDir.resolve("replica-initramfs.cpio");
        try
        {
            for (final String dir : new String[] {"bin", "proc", "sys", "dev"})
            {
                Files.createDirectories(root.resolve(dir));
            }
            Files.copy(busybox, root.resolve("bin/busybox"), StandardCopyOption.REPLACE_EXISTING);
            try (InputStream init = ReplicaInitramfs.class.getResourceAsStream(INIT_RESOURCE))
            {
                if (init == null)
                {
                    throw new IllegalStateException("resource " + INIT_RESOURCE + " is missing from the build");
                }
                Files.copy(init, root.resolve("init"), StandardCopyOption.REPLACE_EXISTING);
            }
            Files.setPosixFilePermissions(root.resolve("init"), PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot lay out the replica's initramfs in " + root, ex);
        }
        Exec.run(60_000, "sh", "-c", "cd \"$1\" && find . | cpio -o -H newc --quiet > \"$2\"", "sh",
            root.toString(), archive.toString()).orThrow();
        return archive;
    }
}
