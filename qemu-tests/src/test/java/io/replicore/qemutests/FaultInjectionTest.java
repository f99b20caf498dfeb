package io.replicore.qemutests;

import io.replicore.mailbox.Mailbox;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Each fault of a whole replica kernel, injected from the host into replica 0 while both kernels beat their slots
 * of the mailbox: the fault does what it says (QEMU gone; a kernel panic on the console, after which the guest
 * resets and its QEMU ends),
 * and replica 1 keeps running, sees replica 0's heartbeat stop through the mailbox, and goes on beating.
 */
@Tag("qemu")
class FaultInjectionTest
{
    private static final long SILENCE_MS = 500;

    @Test
    void killingAKernelsQemuEndsItAndTheOtherKernelSeesItsHeartbeatStop() throws Exception
    {
        try (Rig rig = bootBeating())
        {
            final long pid = rig.vm(0).pid();
            final FaultInjector.Injected fault = FaultInjector.kill(rig.vm(0));

            assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "QEMU " + pid + " lives");
            assertFalse(rig.vm(0).isAlive());
            survivorSeesSilence(rig, fault);
        }
    }

    @Test
    void sysrqCrashFromTheMonitorPanicsTheKernelWhileTheOtherKernelRuns() throws Exception
    {
        try (Rig rig = bootBeating())
        {
            final FaultInjector.Injected fault = FaultInjector.panic(rig.vm(0));

            assertTrue(rig.vm(0).console().contains("sysrq: Trigger a crash"), rig.vm(0).consoleTail(30));
            assertTrue(fault.evidence().contains(FaultInjector.SYSRQ_PANIC), fault.evidence());
            panickedGuestStaysDown(rig.vm(0));
            survivorSeesSilence(rig, fault);
        }
    }

    @Test
    void anUncorrectedMachineCheckPanicsTheKernelWhileTheOtherKernelRuns() throws Exception
    {
        try (Rig rig = bootBeating())
        {
            final FaultInjector.Injected fault = FaultInjector.machineCheck(rig.vm(0));

            final String console = rig.vm(0).console();
            assertTrue(console.contains("Machine Check Exception"), rig.vm(0).consoleTail(30));
            assertTrue(console.contains("Processor Context Corrupt"), rig.vm(0).consoleTail(30));
            assertTrue(fault.evidence().contains(FaultInjector.MCE_PANIC), fault.evidence());
            panickedGuestStaysDown(rig.vm(0));
            survivorSeesSilence(rig, fault);
        }
    }

    /** Two kernels, each running GuestHeartbeat, until each has seen the other beat. */
    private static Rig bootBeating()
    {
        final Rig rig = Rig.open(new RigContext().network(false));
        try
        {
            for (final ReplicaVm vm : rig.vms())
            {
                vm.start(GuestJava.command(GuestHeartbeat.class.getName(), String.valueOf(vm.id()),
                    String.valueOf(SILENCE_MS), "300") + "\n");
            }
            for (final ReplicaVm vm : rig.vms())
            {
                vm.awaitBoot();
            }
            for (final ReplicaVm vm : rig.vms())
            {
                vm.awaitOutput(GuestHeartbeat.BEATING, 120_000);
            }
            return rig;
        }
        catch (final RuntimeException | Error ex)
        {
            rig.close();
            throw ex;
        }
    }

    /** panic=-1 and -no-reboot: the kernel reset itself after the panic and QEMU ended; the job never finished. */
    private static void panickedGuestStaysDown(final ReplicaVm vm)
    {
        assertFalse(vm.isAlive(), "QEMU of a panicked guest should have ended" + vm.diagnostics());
        assertNull(vm.jobStatus(), "the job of a panicked kernel cannot have finished");
        assertFalse(vm.console().contains("powering off"), vm.consoleTail(10));
    }

    /**
     * Replica 1's job reports replica 0 silent; replica 1's QEMU still runs and its heartbeat still moves (read by
     * the host from the mailbox), replica 0's does not.
     */
    private static void survivorSeesSilence(final Rig rig, final FaultInjector.Injected fault) throws Exception
    {
        final ReplicaVm survivor = rig.vm(1);
        final long seen = survivor.awaitOutput("replica-0" + GuestHeartbeat.SILENT, 60_000);
        System.err.println("rig: " + fault.fault() + " of replica-0 confirmed in " + fault.confirmMs() +
            " ms; replica-1 reported its heartbeat silent (> " + SILENCE_MS + " ms) " +
            TimeUnit.NANOSECONDS.toMillis(seen - fault.injectedNs()) + " ms after the injection");

        assertTrue(survivor.isAlive(), survivor.diagnostics());
        assertEquals("running", survivor.monitor().status());
        try (Mailbox box = rig.openMailbox())
        {
            final long dead = box.slot(0).heartbeat();
            final long alive = box.slot(1).heartbeat();
            Thread.sleep(1_000);
            assertEquals(dead, box.slot(0).heartbeat(), "replica 0's heartbeat moved after its fault");
            assertTrue(box.slot(1).heartbeat() > alive, "replica 1 stopped beating" + survivor.diagnostics());
        }
    }
}
