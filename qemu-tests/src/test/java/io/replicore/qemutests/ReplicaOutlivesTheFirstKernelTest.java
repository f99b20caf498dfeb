package io.replicore.qemutests;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.replicore.qemutests.KernelTestText.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A replica kernel on all of node 1's CPUs outlives a panic of the kernel that started it (kernel-patches 0003,
 * 0008). The machine of 2 NUMA nodes x 2 CPUs boots with a crash-kernel reservation; its job plans a replica on CPUs
 * 2-3 (boot-scripts/replicore-plan: the replica's command line names their APIC ids), loads it with kexec -p and
 * writes "2-3 1" to /sys/kernel/replicore/launch. Each step has its own verdict:
 * <ol>
 * <li>CPU 3 parks, CPU 2 enters the replica, which brings CPU 3 up itself (INIT/SIPI to APIC id 3) and leaves the
 * first kernel's processors alone (APIC ids 0 and 1); it reports 2 CPUs, and no IPI shorthand broadcast; both
 * kernels address IPIs by physical APIC id (0009);</li>
 * <li>the first kernel refuses to online either CPU (EBUSY) while the replica is up, and says it holds 2-3;</li>
 * <li>the first kernel panics (sysrq-c). Its panic stops its own CPUs by mask, not by a broadcast that would reach
 * the replica's, nor by a logical id the replica's CPUs share (before 0009 the replica's second CPU stopped with
 * the first kernel's), and its emergency restart stops them instead of resetting the machine: the replica's kernel
 * reports partition 0 panicked, its user space, blocked in read() on the mailbox device, wakes and runs a task on
 * each of its 2 CPUs, and its Kernel Beat goes on, read by the host in the mailbox's file.</li>
 * </ol>
 */
@Tag("kernel")
class ReplicaOutlivesTheFirstKernelTest
{
    private static final long STEP_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(120);
    private static final int PARTITION = 1;
    private static final String PANIC_LINE = "Kernel panic - not syncing: sysrq triggered crash";

    @Test
    void aReplicaOnBothCpusOfNodeOneRunsOnWhenTheFirstKernelPanics() throws InterruptedException
    {
        final KernelRigContext ctx = new KernelRigContext().extraCommandLine("crashkernel=256M");
        try (KernelRig rig = KernelRig.open(ctx))
        {
            final Path replicaInitrd = ReplicaInitramfs.build(ctx);
            final KernelMachine machine = rig.bootFirstMachine(job(ctx, replicaInitrd));

            // 1. The replica on CPUs 2 and 3: CPU 2 starts it, the replica brings CPU 3 up, and no other.
            final long launched = machine.awaitConsole("replicore: starting the replica kernel of partition 1 on " +
                "CPU 2 (its CPUs: 2-3)", STEP_TIMEOUT_MS);
            machine.awaitOutput("launched: online 0-1, launch 2-3 1", STEP_TIMEOUT_MS);
            final long up = machine.awaitConsole("replicore: partition 1 kernel up", STEP_TIMEOUT_MS);
            machine.awaitSecondConsole("replicore-replica: up: 2 CPU (APIC id 2,3)", STEP_TIMEOUT_MS);
            final String replicaLog = machine.secondConsole();
            for (final int apicId : List.of(0, 1))
            {
                assertTrue(replicaLog.contains("APIC: Processor 0x" + apicId + " is another partition's (not in " +
                    "replicore.apic_ids): left alone"), replicaLog);
            }
            assertTrue(replicaLog.contains("IPI shorthand broadcast: disabled"), replicaLog);
            assertTrue(replicaLog.contains("smpboot: Allowing 2 CPUs, 0 hotplug CPUs"), replicaLog);
            // Flat logical mode would give both kernels' CPU n the same logical id (kernel-patches 0009).
            assertTrue(replicaLog.contains("Switched APIC routing to physical flat"), replicaLog);
            assertTrue(machine.console().contains("Switched APIC routing to physical flat"), machine.diagnostics());
            System.err.println("kernel test: step 1 ok: the replica runs on CPUs 2 and 3, seen up " +
                ms(launched, up) + " ms after the launch; its log:\n" + replicaLog.lines()
                .filter(l -> l.contains("APIC") || l.contains("smpboot") || l.contains("IPI") || l.contains("replicore"))
                .reduce((a, b) -> a + "\n" + b).orElse(""));

            // 2. Neither CPU comes back to the first kernel while the replica runs.
            machine.awaitOutput("cpu3 online:", STEP_TIMEOUT_MS);
            for (final int cpu : List.of(2, 3))
            {
                final String refusal = lineOf(machine.jobOutput(), "cpu" + cpu + " online:");
                assertTrue(refusal.contains("Device or resource busy"), refusal + machine.diagnostics());
                assertTrue(machine.console().contains("replicore: CPU " + cpu + " runs the replica kernel of " +
                    "partition 1 (up): onlining it would end the replica"), machine.diagnostics());
            }
            System.err.println("kernel test: step 2 ok: onlining CPU 2 or 3 while the replica is up: " +
                lineOf(machine.jobOutput(), "cpu2 online:") + "; " + lineOf(machine.jobOutput(), "cpu3 online:"));

            // 3. The first kernel panics; the replica runs on, on both CPUs.
            final long panicked = machine.awaitConsole(PANIC_LINE, STEP_TIMEOUT_MS);
            machine.awaitConsole("replicore: emergency restart while the replica kernel of partition 1 runs on " +
                "CPUs 2-3: stopping this kernel's CPUs, not the machine", 30_000);
            final long reported = machine.awaitSecondConsole("replicore: partition 0 kernel panicked", 30_000);
            final long woke = machine.awaitSecondConsole("replicore-replica: partition 0 down:", 30_000);
            machine.awaitSecondConsole("replicore-replica: a task ran on CPU 1", 30_000);
            assertTrue(machine.secondConsole().contains("replicore-replica: a task ran on CPU 0"),
                machine.secondConsole());
            final int beat = ctx.kernelWord(PARTITION, 0);
            Thread.sleep(1000);
            final int beatLater = ctx.kernelWord(PARTITION, 0);
            assertTrue(beatLater > beat, "the replica's Kernel Beat went on after the first kernel's panic: " + beat +
                " then " + beatLater);
            assertEquals(2, ctx.kernelWord(0, 4), "the first kernel's Kernel State: panicked (2)");
            assertTrue(machine.isAlive(), "the machine outlives its first kernel" + machine.diagnostics());
            for (final String trouble : List.of("Kernel panic", "WARNING", "Unexpected reschedule", "rcu: INFO"))
            {
                assertFalse(machine.secondConsole().contains(trouble), "'" + trouble + "' in the replica's log:\n" +
                    machine.secondConsole());
            }
            System.err.println("kernel test: step 3 ok: the first kernel panicked and stopped its CPUs only; the " +
                "replica reported it " + ms(panicked, reported) + " ms after the panic line, its user space woke " +
                ms(panicked, woke) + " ms after it and ran a task on each of its CPUs; its Kernel Beat went from " +
                beat + " to " + beatLater + " in the next second:\n" + machine.secondConsole().lines()
                .filter(l -> l.contains("partition 0") || l.contains("a task ran")).reduce((a, b) -> a + "\n" + b)
                .orElse(""));
        }
    }

    /** The first kernel's job: the replica on CPUs 2-3, both refused to this kernel, then its own panic. */
    private static String job(final KernelRigContext ctx, final Path replicaInitrd)
    {
        return ctx.replicaLoadCommand(replicaInitrd, "2-3", "replica.await_down=0") +
            ctx.replicaLaunchCommand("2-3", PARTITION) +
            "echo \"launched: online $(cat /sys/devices/system/cpu/online), launch " +
            "$(cat /sys/kernel/replicore/launch)\"\n" +
            "exec 3< /dev/replicore-mailbox\n" +
            "until grep -q '^1 up' /sys/class/misc/replicore-mailbox/partitions; do dd bs=8 count=1 <&3 > /dev/null " +
            "2>&1 || exit 1; done\n" +
            "for cpu in 2 3; do\n" +
            "    /bin/echo 1 > /sys/devices/system/cpu/cpu$cpu/online 2> /tmp/online.err && " +
            "echo \"cpu$cpu online: accepted\" || echo \"cpu$cpu online: $(cat /tmp/online.err)\"\n" +
            "done\n" +
            "echo 1 > /proc/sys/kernel/sysrq\n" +
            "echo c > /proc/sysrq-trigger\n";
    }
}
