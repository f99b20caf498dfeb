package io.replicore.qemutests;

import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static io.replicore.qemutests.KernelTestText.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Two machines of Replicore's kernel, partitions 0 and 1 of one mailbox range (the same host file behind each
 * one's DIMM, as two kernels of one server share reserved memory), each step with its own verdict:
 * <ol>
 * <li>both kernels are up and each sees the other's kernel heartbeat;</li>
 * <li>a record written through /dev/replicore-mailbox in one kernel is read in the other, both ways, by the
 * project's Java mailbox code, and the round trip between the kernels is measured (GuestMailboxCheck's);</li>
 * <li>a hung kernel (QEMU's vCPUs stopped) is reported silent by the other kernel's watcher, to its console and to
 * user space waiting in read() on the device, and reported up again when it resumes;</li>
 * <li>a panic (sysrq) of partition 0's kernel marks its replica slot DEAD with the panic's reason, and the other
 * kernel reports it to user space; the host reads the slot with the Java mailbox code.</li>
 * </ol>
 * Latencies are measured on the host's clock from the monitor command to the console line (polled every 20 ms).
 */
@Tag("kernel")
class CrashStopNoticeTest
{
    private static final long STEP_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(60);
    private static final String WAITER_LINE = "replicore-waiter: event";
    private static final String WOKE_LINE = "replicore-waiter: read returned";
    private static final long HEARTBEAT_TIMEOUT_MS = 1000;
    private static final int ROUND_TRIPS = 1000;

    /**
     * User space in the surviving kernel: one open file of the device, a blocking read of its event count at a
     * time; as soon as it returns, a line on the console through /dev/kmsg (the shell's echo, no new process: a
     * process started under TCG from the 9p root takes a large part of a second), then what the kernel knows of the
     * partitions, on the console and in the output.
     */
    private static final String WAITER =
        "exec 3< /dev/replicore-mailbox\n" +
        "echo 'waiter: ready'\n" +
        "while dd bs=8 count=1 <&3 2>/dev/null > /tmp/event; do\n" +
        "    echo '" + WOKE_LINE + "' > /dev/kmsg\n" +
        "    p=$(tr '\\n' ',' < /sys/class/misc/replicore-mailbox/partitions)\n" +
        "    echo \"" + WAITER_LINE + "$(od -An -tu8 /tmp/event) partitions $p\" | tee /dev/kmsg\n" +
        "done\n" +
        "echo 'waiter: read failed'\n";

    @Test
    void aPanickedOrHungKernelIsReportedToTheOtherKernelsUserSpace()
    {
        // Two kernels of 2 nodes with a CPU each: two 4-CPU machines under TCG on 2 host cores would starve the
        // watchers' 10 ms timers. The heartbeat timeout leaves room for a loaded host.
        try (KernelRig rig = KernelRig.open(new KernelRigContext().machineCount(2).cpusPerNode(1)
            .memoryPerNodeMiB(384).extraCommandLine("replicore.heartbeat_timeout_ms=" + HEARTBEAT_TIMEOUT_MS)))
        {
            final KernelMachine first = rig.machine(0);
            final KernelMachine second = rig.machine(1);
            for (final KernelMachine machine : rig.machines())
            {
                machine.start(GuestJava.command(GuestMailboxCheck.class.getName(), String.valueOf(machine.id()), "3",
                    GuestDeviceMailbox.DEVICE, String.valueOf(ROUND_TRIPS)) + "\n" +
                    (machine == second ? WAITER : "sleep 3600\n"));
            }
            for (final KernelMachine machine : rig.machines())
            {
                System.err.println("kernel test: " + machine.hostname() + " booted in " + machine.awaitBoot() +
                    " ms (" + rig.accelerator().accelerator() + ")");
            }

            // 1. Both kernels up, each beating and seeing the other's beat.
            first.awaitConsole("replicore: partition 1 kernel up", STEP_TIMEOUT_MS);
            second.awaitConsole("replicore: partition 0 kernel up", STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 1 ok: both kernels up, each sees the other's heartbeat");

            // 2. Records both ways through the device, with the Java mailbox code.
            for (final KernelMachine machine : rig.machines())
            {
                machine.awaitOutput("check: ok", 240_000);
                assertTrue(machine.jobOutput().contains("received: " +
                    GuestMailboxCheck.record(1 - machine.id(), machine.id(), 3)), machine.diagnostics());
            }
            first.awaitOutput("round trips: ", STEP_TIMEOUT_MS);
            second.awaitOutput("answered: ", STEP_TIMEOUT_MS);
            final String roundTrips = first.jobOutput().lines().filter(l -> l.startsWith("round trips: ")).findFirst()
                .orElseThrow();
            assertFalse(roundTrips.contains("FAILED"), first.diagnostics());
            System.err.println("kernel test: step 2 ok: records written in each kernel were read in the other; " +
                "mailbox " + roundTrips + " (two machines, each on a host core of its own, " +
                rig.accelerator().accelerator() + ")");

            // 3. A hung kernel: silent, then up again.
            second.awaitOutput("waiter: ready", STEP_TIMEOUT_MS);
            final String silentLine = "replicore: partition 0 kernel silent";
            final int silentBefore = count(second.console(), silentLine);
            final int wokeBeforeSilence = count(second.console(), WOKE_LINE);
            final int toldBefore = count(second.jobOutput(), "partitions 0 silent");
            final long stopped = System.nanoTime();
            first.monitor().command("stop");
            final long silent = awaitCount(second, second::console, "console",
                silentLine, silentBefore + 1, STEP_TIMEOUT_MS);
            final long wokeOnSilence = awaitCount(second, second::console, "console",
                WOKE_LINE, wokeBeforeSilence + 1, STEP_TIMEOUT_MS);
            final long toldSilent = awaitCount(second, second::jobOutput, "job's output",
                "partitions 0 silent", toldBefore + 1, STEP_TIMEOUT_MS);
            final int upBefore = count(second.console(), "replicore: partition 0 kernel up");
            first.monitor().command("cont");
            awaitCount(second, second::console, "console",
                "replicore: partition 0 kernel up", upBefore + 1, STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 3 ok: partition 0 stopped -> partition 1's kernel reported it " +
                "silent after " + ms(stopped, silent) + " ms, its user space's read returned after " +
                ms(stopped, wokeOnSilence) + " ms and it had read the partitions after " + ms(stopped, toldSilent) +
                " ms (heartbeat timeout " + HEARTBEAT_TIMEOUT_MS + " ms); up again after cont" +
                (silentBefore > 0 ? " (it had been reported silent " + silentBefore + " times before, the host " +
                "being loaded)" : ""));

            // 4. A panic: the notice in the mailbox, reported to the other kernel's user space.
            final int wokeBeforePanic = count(second.console(), WOKE_LINE);
            final long injected = System.nanoTime();
            first.monitor().command("sendkey alt-sysrq-c");
            first.awaitConsole(FaultInjector.SYSRQ_PANIC, STEP_TIMEOUT_MS);
            final long panicked = second.awaitConsole("replicore: partition 0 kernel panicked", STEP_TIMEOUT_MS);
            final long slotDead = second.awaitConsole(
                "replicore: replica slot 0 dead: partition 0 kernel panic: sysrq triggered crash", STEP_TIMEOUT_MS);
            final long woke = awaitCount(second, second::console, "console",
                WOKE_LINE, wokeBeforePanic + 1, STEP_TIMEOUT_MS);
            final long told = second.awaitOutput("partitions 0 panicked", STEP_TIMEOUT_MS);
            first.awaitExit(STEP_TIMEOUT_MS);
            try (Mailbox box = rig.openMailbox())
            {
                final ReplicaSlot slot = box.slot(0);
                assertEquals(ReplicaState.DEAD, slot.state(), "slot 0 after its kernel's panic");
                assertEquals(ReplicaState.DEAD.code(), slot.lastErrorCode());
                assertEquals("partition 0 kernel panic: sysrq triggered crash", slot.lastErrorMessage());
                assertTrue(box.slot(1).state().isLive(), "slot 1 is untouched: " + box.slot(1).state());
            }
            assertTrue(second.isAlive(), "the surviving kernel still runs" + second.diagnostics());
            System.err.println("kernel test: step 4 ok: sysrq-c to partition 0 -> its slot DEAD with the panic's " +
                "reason; partition 1's kernel reported the panic after " + ms(injected, panicked) + " ms, the dead " +
                "slot after " + ms(injected, slotDead) + " ms; its user space's read returned after " + ms(injected, woke) +
                " ms and it had read the partitions after " + ms(injected, told) + " ms");
        }
    }
}
