package io.replicore.qemutests;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * QEMU that cannot boot what it is given says why: the failure names the VM and carries QEMU's own message and
 * the console's tail, and the rig still tears everything down.
 */
@Tag("qemu")
class RigFailuresTest
{
    @TempDir
    Path dir;

    @Test
    void aKernelImageQemuCannotLoadFailsTheBootWithQemusReason() throws Exception
    {
        final RigContext real = new RigContext();
        real.conclude();
        final Path notAKernel = Files.writeString(dir.resolve("vmlinuz-not-a-kernel"), "this is not a kernel\n");
        final RigContext ctx = new RigContext().network(false).accelerator(Accelerator.Choice.TCG)
            .kernelImage(notAKernel).modulesDir(real.modulesDir());
        final Path mailbox;
        try (Rig rig = Rig.open(ctx))
        {
            mailbox = rig.mailboxPath();
            assertTrue(Files.exists(mailbox));
            final ReplicaVm vm = rig.vm(0).start("true\n");
            final IllegalStateException ex = assertThrows(IllegalStateException.class, vm::awaitBoot);
            assertTrue(ex.getMessage().contains("replica-0: QEMU exited (1)"), ex.getMessage());
            assertTrue(ex.getMessage().toLowerCase().contains("kernel"), ex.getMessage());
            assertTrue(ex.getMessage().contains("console tail"), ex.getMessage());
        }
        assertFalse(Files.exists(mailbox), "the mailbox file outlived the rig");
    }
}
