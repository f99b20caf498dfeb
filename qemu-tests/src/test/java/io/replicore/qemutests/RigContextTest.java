package io.replicore.qemutests;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The rig's settings are checked before anything starts, each with an error naming the setting and the fix.
 * (No QEMU runs here: part of the default suite.)
 */
class RigContextTest
{
    @TempDir
    Path dir;

    private static String error(final RigContext ctx)
    {
        return assertThrows(IllegalArgumentException.class, ctx::conclude).getMessage();
    }

    @Test
    void aMissingKernelImageIsNamedWithThePackageThatBringsIt()
    {
        final String message = error(new RigContext().kernelImage(dir.resolve("vmlinuz-9.9.9")));
        assertTrue(message.contains("kernel image " + dir.resolve("vmlinuz-9.9.9") + " is missing"), message);
        assertTrue(message.contains("linux-image-amd64"), message);
    }

    @Test
    void aKernelImageWithoutModulesIsRefused() throws Exception
    {
        final Path image = Files.writeString(dir.resolve("vmlinuz-9.9.9-test"), "x");
        final String message = error(new RigContext().kernelImage(image));
        assertTrue(message.contains("/lib/modules/9.9.9-test/modules.dep"), message);
    }

    @Test
    void aDynamicallyLinkedBusyboxIsRefused()
    {
        final String message = error(new RigContext().busybox(Path.of("/bin/ls")));
        assertTrue(message.contains("dynamically linked") && message.contains("busybox-static"), message);
    }

    @Test
    void aQemuNotOnThePathIsNamed()
    {
        final String message = error(new RigContext().qemu("qemu-system-nonesuch"));
        assertTrue(message.contains("qemu-system-nonesuch") && message.contains("qemu-system-x86"), message);
    }

    @Test
    void replicaCountMemoryAndRunIdAreChecked()
    {
        assertTrue(error(new RigContext().replicaCount(1)).contains("replica count must be 2..8"));
        assertTrue(error(new RigContext().replicaCount(9)).contains("replica count must be 2..8"));
        assertTrue(error(new RigContext().memoryMiB(64)).contains("at least 128 MiB"));
        assertTrue(error(new RigContext().runId("Bad/Name")).contains("run id must be"));
        assertTrue(error(new RigContext().channelCapacity(5000)).contains("power of two"));
    }

    @Test
    void defaultsNameTheRunsNamespacesAndMailboxAfterOneRunId()
    {
        final RigContext ctx = new RigContext().runId("rc-test-7").conclude();
        assertEquals("rc-test-7-net", ctx.netNamespace());
        assertEquals("rc-test-7-client", ctx.clientNamespace());
        assertEquals(Path.of("/dev/shm/rc-test-7-mailbox"), ctx.mailboxPath());
        assertTrue(ctx.kernelImage().getFileName().toString().startsWith("vmlinuz-"));
        assertEquals(ctx.kernelImage().getFileName().toString().substring("vmlinuz-".length()),
            ctx.modulesDir().getFileName().toString());
    }
}
