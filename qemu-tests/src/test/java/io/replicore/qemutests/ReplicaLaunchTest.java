package io.replicore.qemutests;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A replica kernel started beside a running one, with no hypervisor (kernel-patches 0003): the machine of 2 NUMA
 * nodes and 4 CPUs boots Replicore's kernel with a crash-kernel reservation; its job loads the replica as a crash
 * kernel would be loaded (kexec -p), then writes CPU 3 to /sys/kernel/replicore/launch. CPU 3 goes offline and
 * starts the replica instead of parking. Each step has its own verdict: the replica boots on its own serial port
 * (ttyS1) with one CPU; it beats in the mailbox and the first kernel reports it up; the first kernel still runs;
 * the replica panics on purpose, its panic stops only its CPU, and the first kernel reports it; CPU 3 is onlined
 * again and serves the first kernel.
 */
@Tag("kernel")
class ReplicaLaunchTest
{
    private static final long STEP_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(120);
    private static final int PANIC_AFTER_S = 20;

    @Test
    void aReplicaKernelStartsOnAnOfflinedCpuAndTheCpuComesBackAfterItsPanic()
    {
        final KernelRigContext ctx = new KernelRigContext().extraCommandLine("crashkernel=256M");
        try (KernelRig rig = KernelRig.open(ctx))
        {
            final Path replicaInitrd = ReplicaInitramfs.build(ctx);
            final KernelMachine machine = rig.machine(0);
            machine.start("grep -i 'crash kernel' /proc/iomem | sed 's/^/iomem: /'\n" +
                ctx.replicaLoadCommand(replicaInitrd, ctx.replicaCommandLine(1) + " replica.panic_after=" +
                PANIC_AFTER_S) +
                "echo \"loaded: $(cat /sys/kernel/kexec_crash_loaded)\"\n" +
                "exec 3< /dev/replicore-mailbox\n" +
                "dd bs=8 count=1 <&3 >/dev/null 2>&1\n" +
                "echo 3 > /sys/kernel/replicore/launch || { echo 'launch failed'; exit 1; }\n" +
                "echo \"launched: online $(cat /sys/devices/system/cpu/online), launch CPU " +
                "$(cat /sys/kernel/replicore/launch)\"\n" +
                "while n=$(dd bs=8 count=1 <&3 2>/dev/null | od -An -tu8) && [ -n \"$n\" ]; do\n" +
                "    p=$(tr '\\n' ',' < /sys/class/misc/replicore-mailbox/partitions)\n" +
                "    echo \"event$n partitions $p\"\n" +
                "    case $p in *'1 panicked'*|*'1 stopped'*|*'1 silent'*) break ;; esac\n" +
                "done\n" +
                "echo 1 > /sys/devices/system/cpu/cpu3/online && " +
                "echo \"cpu3 back: online $(cat /sys/devices/system/cpu/online)\" || echo 'cpu3 did not come back'\n" +
                "echo \"launch after: $(cat /sys/kernel/replicore/launch)\"\n" +
                "taskset -c 3 sh -c 'echo \"ran on cpu3: $(awk \"/^processor/ {n++} END {print n}\" /proc/cpuinfo)" +
                " processors\"'\n");
            System.err.println("kernel test: booted in " + machine.awaitBoot() + " ms (" +
                rig.accelerator().accelerator() + ")");

            machine.awaitOutput("loaded: 1", STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 1 ok: the replica is loaded in the crash reservation (kexec -p)");

            final long launched = machine.awaitConsole("replicore: starting the replica kernel on CPU 3",
                STEP_TIMEOUT_MS);
            machine.awaitOutput("launched: online 0-2", STEP_TIMEOUT_MS);
            final long booted = machine.awaitSecondConsole("replicore-replica: up: 1 CPU", STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 2 ok: the replica booted on CPU 3, on its own serial port, in " +
                TimeUnit.NANOSECONDS.toMillis(booted - launched) + " ms:\n" +
                machine.secondConsole().lines().filter(l -> l.contains("replicore")).reduce((a, b) -> a + "\n" + b)
                    .orElse(""));

            final long up = machine.awaitConsole("replicore: partition 1 kernel up", STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 3 ok: the first kernel sees the replica's heartbeat " +
                TimeUnit.NANOSECONDS.toMillis(up - launched) + " ms after the launch");

            machine.awaitSecondConsole("Kernel panic - not syncing: sysrq triggered crash", STEP_TIMEOUT_MS);
            machine.awaitSecondConsole("replicore: replica kernel emergency restart: stopping this CPU", 30_000);
            machine.awaitConsole("replicore: partition 1 kernel panicked", 30_000);
            assertTrue(machine.isAlive(), "the machine survives its replica's panic" + machine.diagnostics());
            System.err.println("kernel test: step 4 ok: the replica's panic stopped only its CPU; the first " +
                "kernel reported it");

            machine.awaitOutput("cpu3 back: online 0-3", STEP_TIMEOUT_MS);
            machine.awaitConsole("replicore: CPU 3 is back from its replica kernel", 30_000);
            machine.awaitOutput("ran on cpu3: 4 processors", STEP_TIMEOUT_MS);
            assertTrue(machine.jobOutput().contains("launch after: none"), machine.diagnostics());
            assertEquals(0, machine.awaitJob(STEP_TIMEOUT_MS), machine.diagnostics());
            System.err.println("kernel test: step 5 ok: CPU 3 came back to the first kernel and runs its tasks");
        }
    }
}
