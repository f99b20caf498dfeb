package io.replicore.qemutests;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The accelerator: KVM is probed with a real boot and, where guests hang under it (this project's machines:
 * /dev/kvm opens, the guest never reaches init), the rig falls back to TCG, says so, and its VMs really run under
 * the chosen one (QEMU's own {@code info kvm}). On a host where KVM works, run with
 * {@code -Dreplicore.rig.expectAccelerator=KVM}.
 */
@Tag("qemu")
class AcceleratorTest
{
    private static final Accelerator EXPECTED =
        Accelerator.valueOf(System.getProperty("replicore.rig.expectAccelerator", "TCG"));

    @Test
    void theKvmProbeFallsBackToTcgHereAndTheVmsRunUnderTheReportedAccelerator() throws Exception
    {
        try (Rig rig = Rig.open(new RigContext().network(false)))
        {
            final Accelerator.Verdict verdict = rig.accelerator();
            assertEquals(EXPECTED, verdict.accelerator(), verdict.toString());
            if (verdict.accelerator() == Accelerator.TCG && Files.exists(java.nio.file.Path.of("/dev/kvm")))
            {
                assertTrue(verdict.reason().startsWith("KVM probe"), verdict.reason());
                final String probeConsole = Files.exists(verdict.probeConsole()) ?
                    Files.readString(verdict.probeConsole()) : "";
                assertFalse(probeConsole.contains("probe reached init"), probeConsole);
            }

            final ReplicaVm vm = rig.vm(0).start("sleep 600\n");
            vm.awaitBoot();
            final String kvm = vm.monitor().command("info kvm");
            assertEquals(verdict.accelerator() == Accelerator.KVM ? "kvm support: enabled" : "kvm support: disabled",
                kvm);
            assertTrue(Files.readString(vm.share().resolveSibling("qemu-command"))
                .contains(String.join(" ", verdict.accelerator().qemuArgs())));
        }
    }

    @Test
    void anAcceleratorChosenExplicitlyIsUsedWithoutAProbe()
    {
        try (Rig rig = Rig.open(new RigContext().network(false).accelerator(Accelerator.Choice.TCG)))
        {
            assertEquals(Accelerator.TCG, rig.accelerator().accelerator());
            assertEquals("chosen", rig.accelerator().reason());
            assertNull(rig.accelerator().probeConsole());
            assertFalse(Files.exists(rig.context().workDir().resolve("kvm-probe-console.log")));
        }
    }
}
