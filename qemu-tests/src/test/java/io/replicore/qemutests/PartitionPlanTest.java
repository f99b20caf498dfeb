package io.replicore.qemutests;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.replicore.qemutests.KernelTestText.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * boot-scripts/ drive a machine of 2 NUMA nodes x 2 CPUs the way an operator drives a server, with no mailbox DIMM:
 * the plain kernel runs replicore-plan, which gives node 1's CPUs and most of its memory to a replica kernel and
 * carves the mailbox from the top of node 1's RAM; the machine boots again with the plan's command line, where the
 * same script prints the same plan; replicore init-mailbox formats the mailbox through the device; replicore-replica
 * launches the replica on both CPUs, refuses to take them back while it runs, waits for its panic and takes them back.
 */
@Tag("kernel")
class PartitionPlanTest
{
    private static final long STEP_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(120);
    private static final int PANIC_AFTER_S = 15;

    @Test
    void theBootScriptsPlanTheMachineAndStartAReplicaKernelOnNodeOnesCpusAndMemory() throws IOException
    {
        final String plan;
        final String kernelLine;
        try (KernelRig rig = KernelRig.open(new KernelRigContext().mailbox(false)))
        {
            final KernelMachine machine = rig.machine(0);
            machine.start(BootScripts.plan() + " > /rig/plan || exit 1\n" +
                BootScripts.plan("--describe") + "\n" +
                ". /rig/plan && printf '%s\\n' \"$REPLICORE_KERNEL_CMDLINE\" > /rig/kernel-line\n");
            System.err.println("kernel test: plain kernel booted in " + machine.awaitBoot() + " ms");
            assertEquals(0, machine.awaitJob(STEP_TIMEOUT_MS), machine.diagnostics());
            plan = Files.readString(machine.share().resolve("plan"));
            kernelLine = Files.readString(machine.share().resolve("kernel-line")).strip();
            System.err.println("kernel test: step 1 ok: replicore-plan on the plain kernel:\n" + machine.jobOutput());
        }
        // Node 1 is 0x20000000-0x3ffdffff: the replica takes its CPUs and its memory from 512 MiB up; the
        // mailbox is the top of that RAM, 2 MiB aligned; 64 MiB stay with the first kernel.
        assertTrue(plan.contains("REPLICORE_REPLICA_CPUS=2-3\n"), plan);
        assertTrue(plan.contains("REPLICORE_REPLICA_MEMORY=432M@0x20000000\n"), plan);
        assertTrue(plan.contains("REPLICORE_MAILBOX=4M@0x3fa00000\n"), plan);
        assertTrue(kernelLine.contains("crashkernel=432M@0x20000000") && kernelLine.contains("memmap=4M$0x3fa00000"),
            kernelLine);

        final KernelRigContext ctx = new KernelRigContext().mailbox(false).extraCommandLine(kernelLine);
        try (KernelRig rig = KernelRig.open(ctx))
        {
            final Path replicaInitrd = ReplicaInitramfs.build(ctx);
            final KernelMachine machine = rig.machine(0);
            machine.start("cat > " + BootScripts.PLAN + " <<'PLAN'\n" + plan + "PLAN\n" +
                BootScripts.plan() + " | cmp -s - " + BootScripts.PLAN + " && echo 'plan: the same' || " +
                "{ echo 'plan: DIFFERENT'; " + BootScripts.plan() + "; }\n" +
                BootScripts.cli("init-mailbox", "--mailbox", GuestDeviceMailbox.DEVICE, "--replicas", "2") +
                " || exit 1\n" +
                BootScripts.replica("launch", "--kernel", ctx.rigContext().kernelImage().toString(),
                    "--initrd", replicaInitrd.toString(), "--append", "replica.panic_after=" + PANIC_AFTER_S) +
                " || exit 1\n" +
                BootScripts.replica("reclaim") + "; echo \"reclaim while up: exit $?\"\n" +
                BootScripts.replica("wait", "--until", "down") + " || exit 1\n" +
                BootScripts.replica("reclaim") + " || exit 1\n" +
                BootScripts.replica("status") + "\n" +
                "taskset -c 2 sh -c 'echo \"ran on cpu2: online $(cat /sys/devices/system/cpu/online)\"'\n");
            System.err.println("kernel test: planned kernel booted in " + machine.awaitBoot() + " ms");

            machine.awaitOutput("plan: ", STEP_TIMEOUT_MS);
            assertTrue(machine.jobOutput().contains("plan: the same"), machine.diagnostics());
            assertTrue(machine.console().contains("Reserving 432MB of memory at 512MB for crashkernel"),
                machine.diagnostics());
            System.err.println("kernel test: step 2 ok: booted with the plan, the kernel reserved node 1's memory " +
                "and replicore-plan prints the same plan");

            machine.awaitOutput("mailbox " + GuestDeviceMailbox.DEVICE + ": 2 replicas", STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 3 ok: replicore init-mailbox formatted the mailbox in node 1's " +
                "reserved RAM through /dev/replicore-mailbox");

            machine.awaitOutput("replicore-replica: partition 1 up", STEP_TIMEOUT_MS);
            machine.awaitSecondConsole("replicore-replica: up: 2 CPU (APIC id 2,3)", STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 4 ok: replicore-replica launched the replica on CPUs 2-3, on its own " +
                "serial port: " + lineOf(machine.jobOutput(), "partition 1 up"));

            machine.awaitOutput("reclaim while up: exit ", STEP_TIMEOUT_MS);
            assertTrue(machine.jobOutput().contains("reclaim while up: exit 1"), machine.diagnostics());
            System.err.println("kernel test: step 5 ok: replicore-replica refuses CPUs 2-3 while the replica is up");

            machine.awaitOutput("replicore-replica: partition 1 panicked", STEP_TIMEOUT_MS);
            machine.awaitOutput("ran on cpu2: online 0-3", STEP_TIMEOUT_MS);
            assertEquals(0, machine.awaitJob(STEP_TIMEOUT_MS), machine.diagnostics());
            assertTrue(machine.jobOutput().contains("replicore-replica: CPUs 2-3 are back with this kernel"),
                machine.diagnostics());
            System.err.println("kernel test: step 6 ok: after the replica's panic, CPUs 2-3 are back and CPU 2 runs " +
                "a task:\n" +
                machine.jobOutput());
        }
    }
}
