package io.replicore.qemutests;

import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static io.replicore.qemutests.KernelTestText.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A program replicated across the kernels of one machine (kernel-patches 0001 to 0006, no hypervisor between the
 * kernels): the first kernel (partition 0) runs replicas 0 and 2 of a ticker, each under its own coordinator, and
 * starts a replica kernel on its offlined CPU 3 (partition 1) whose initramfs holds the coordinator, which runs
 * replica 1 there. All three meet in /dev/replicore-mailbox. Each step has its own verdict:
 * <ol>
 * <li>replica 0 is primary in the first kernel and prints ticks; replicas 1 (in the replica kernel) and 2 follow
 * its log as backups;</li>
 * <li>a planned failover, asked for in the first kernel ({@code replicore failover}), hands the ticker over to the
 * lowest-id live backup, replica 1: the replica kernel now owns the program's output, its ticks on its own serial
 * port, and replica 2 follows it;</li>
 * <li>the replica kernel panics (replica.panic_on, while its coordinator runs): its panic notifier marks replica 1's
 * slot DEAD with the panic's reason, and replica 2 in the first kernel takes over from that mark, long before its
 * heartbeat timeout, and goes on ticking where replica 1 stopped;</li>
 * <li>every tick from 1 on was printed once and in order across the three (a tick written by a primary that died
 * before its record reached the log may come again once, architecture 6a).</li>
 * </ol>
 * The other way round, the replica kernel on both CPUs of node 1 (kernel-patches 0008, 0009): replica 0 is primary
 * in the first kernel and replica 1 its backup in the replica kernel; the first kernel panics. Its panic stops only
 * its own CPUs and marks replica 0's slot DEAD; replica 1 takes over in the replica kernel from that mark and ticks on,
 * every tick once and in order. This is the machine losing the partition that owns the program's output, and the
 * program going on in another kernel of the same machine.
 * <p>
 * The heartbeat timeout is {@link #HEARTBEAT_TIMEOUT_MS}: the replica kernel's coordinator starts tens of seconds
 * after the first kernel's under TCG, and the takeovers must come from the kernel's notice, not from silence.
 */
@Tag("kernel")
class ReplicatedProgramOnReplicaKernelsTest
{
    private static final Path COORDINATOR = Path.of(System.getProperty("replicore.rig.coordinatorTarget",
        "../coordinator/target")).toAbsolutePath().normalize();
    private static final Path TICKER = COORDINATOR.resolve("test-native/ft_ticker");
    private static final int TICKS = 4000;
    private static final int TICK_MS = 250;
    private static final long HEARTBEAT_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(600);
    /** A takeover this much later than the panic would not be the notice's doing. */
    private static final long TAKEOVER_BOUND_MS = TimeUnit.SECONDS.toMillis(30);
    private static final long STEP_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(300);
    /** How long the replica kernel's primary ticks before its panic. */
    private static final int PANIC_AFTER_S = 4;
    private static final String DEVICE = GuestDeviceMailbox.DEVICE;
    private static final String FAILOVER_REQUEST = "failover-request";
    private static final String PANICKED_LINE = "replicore: partition 1 kernel panicked";
    private static final String PANIC_REQUEST = "panic-request";

    @Test
    void aTickerSwitchedOverToTheReplicaKernelGoesOnInTheFirstKernelWhenTheReplicaKernelPanics() throws Exception
    {
        final KernelRigContext ctx = new KernelRigContext().replicaCount(3).extraCommandLine("crashkernel=256M");
        try (KernelRig rig = KernelRig.open(ctx))
        {
            final Path initrd = ReplicaInitramfs.buildWithCoordinator(ctx, COORDINATOR, List.of(TICKER));
            final KernelMachine machine = rig.bootFirstMachine(job(ctx, initrd));

            try (Mailbox box = rig.openMailbox())
            {
                // 1. Replica 0 primary in the first kernel, replicas 1 and 2 its backups.
                machine.awaitSecondConsole("replicore-replica: up: 1 CPU", STEP_TIMEOUT_MS);
                await(() -> box.slot(1).state() == ReplicaState.BACKUP && box.slot(2).state() == ReplicaState.BACKUP &&
                    box.slot(1).logSequence() > 0, "replicas 1 and 2 following replica 0's log", machine);
                final int beforeFailover = lastTick(ticks(machine, 0));
                assertTrue(beforeFailover > 0, () -> "replica 0 printed no tick" + diagnostics(machine));
                System.err.println("kernel test: step 1 ok: replica 0 (first kernel) primary at tick " +
                    beforeFailover + "; replica 1 (replica kernel, log sequence " + box.slot(1).logSequence() +
                    ") and replica 2 (first kernel, " + box.slot(2).logSequence() + ") follow it");

                // 2. A planned failover hands the ticker to replica 1, in the replica kernel.
                Files.writeString(machine.share().resolve(FAILOVER_REQUEST), "");
                machine.awaitOutput("failover exited ", STEP_TIMEOUT_MS);
                assertTrue(machine.jobOutput().contains("failover exited 0"), () -> diagnostics(machine));
                assertEquals(1, box.control().primaryId(), () -> "primary after the failover" + diagnostics(machine));
                final int handedOverAt = lastTick(ticks(machine, 0));
                await(() -> lastTick(consoleTicks(machine)) >= handedOverAt + 2, "replica 1 ticking", machine);
                final long secondPrimaryTick = System.nanoTime();
                System.err.println("kernel test: step 2 ok: replica 0 handed over after tick " + handedOverAt +
                    " to replica 1, which ticks on the replica kernel's console (epoch " + box.control().epoch() +
                    "); replica 2 follows it");

                // 3. The replica kernel panics: replica 2 takes over from the kernel's notice.
                final long panicked = machine.awaitConsole(PANICKED_LINE, STEP_TIMEOUT_MS);
                final int lastOfReplica1 = lastTick(consoleTicks(machine));
                await(() -> box.control().primaryId() == 2, "replica 2 primary", machine);
                final long tookOver = System.nanoTime();
                final String dead = box.slot(1).lastErrorMessage();
                assertEquals(ReplicaState.DEAD, box.slot(1).state(), () -> diagnostics(machine));
                assertTrue(dead.contains("partition 1 kernel panic"), "replica 1's slot: " + dead);
                assertTrue(ms(panicked, tookOver) < TAKEOVER_BOUND_MS, () -> "replica 2 took over " +
                    ms(panicked, tookOver) + " ms after the panic" + diagnostics(machine));
                // The epoch names replica 2 before its takeover (sockets, the log's end) is done and logged.
                await(() -> events(machine, 2).contains("took over as primary"), "replica 2's takeover logged",
                    machine);
                final String takeover = lineOf(events(machine, 2), "took over as primary");
                assertTrue(takeover.contains("replica 1 is dead (partition 1 kernel panic"), takeover);
                System.err.println("kernel test: step 3 ok: replica 1's kernel panicked after its tick " +
                    lastOfReplica1 + " (" + ms(secondPrimaryTick, panicked) + " ms after its second tick as " +
                    "primary); replica 1's slot: " + dead + "; replica 2 primary " + ms(panicked, tookOver) +
                    " ms after the first kernel's report (heartbeat timeout " + HEARTBEAT_TIMEOUT_MS + " ms): " +
                    takeover);

                // 4. Every tick once and in order across the three primaries.
                await(() -> lastTick(ticks(machine, 2)) >= lastOfReplica1 + 3, "replica 2 ticking", machine);
                final List<Integer> all = new ArrayList<>(ticks(machine, 0));
                all.addAll(consoleTicks(machine));
                all.addAll(ticks(machine, 2));
                assertInOrder(all, machine);
                System.err.println("kernel test: step 4 ok: ticks 1 to " + lastTick(all) + " in order across " +
                    "replica 0 (to " + handedOverAt + "), replica 1 in the replica kernel (to " + lastOfReplica1 +
                    ") and replica 2 (from " + ticks(machine, 2).get(0) + ")");
            }
        }
    }

    @Test
    void aTickerInTheFirstKernelGoesOnInAReplicaKernelOnTwoCpusWhenTheFirstKernelPanics() throws Exception
    {
        final KernelRigContext ctx = new KernelRigContext().replicaCount(2).extraCommandLine("crashkernel=256M");
        try (KernelRig rig = KernelRig.open(ctx))
        {
            // Built as an operator builds it: the archive starts replica 1 of the ticker by itself.
            final Path initrd = ReplicaInitramfs.buildToRun(ctx, COORDINATOR, 1, HEARTBEAT_TIMEOUT_MS,
                TICKER.toString(), String.valueOf(TICKS), String.valueOf(TICK_MS));
            final String java = GuestJava.FIXED_ENVIRONMENT + " " + GuestJava.coordinatorCommand(COORDINATOR) + " ";
            final KernelMachine machine = rig.bootFirstMachine(ctx.replicaLoadCommand(initrd, "2-3", "") +
                ctx.replicaLaunchCommand("2-3", 1) + firstKernelsReplica(java, 0) +
                "until [ -e /rig/" + PANIC_REQUEST + " ]; do sleep 0.5; done\n" +
                "echo 1 > /proc/sys/kernel/sysrq\n" +
                "echo c > /proc/sysrq-trigger\n");

            try (Mailbox box = rig.openMailbox())
            {
                // 1. Replica 0 primary in the first kernel, replica 1 its backup in the replica kernel on 2 CPUs.
                machine.awaitSecondConsole("replicore-replica: up: 2 CPU (APIC id 2,3)", STEP_TIMEOUT_MS);
                await(() -> box.slot(1).state() == ReplicaState.BACKUP && lastTick(ticks(machine, 0)) >= 10,
                    "replica 1 following replica 0's log, replica 0 ticking", machine);
                final int beforePanic = lastTick(ticks(machine, 0));
                System.err.println("kernel test: step 1 ok: replica 0 (first kernel) primary at tick " + beforePanic +
                    "; replica 1 (replica kernel on CPUs 2-3, log sequence " + box.slot(1).logSequence() +
                    ") follows it");

                // 2. The first kernel panics: replica 1 takes over in the replica kernel from the kernel's notice.
                Files.writeString(machine.share().resolve(PANIC_REQUEST), "");
                final long panicked = machine.awaitSecondConsole("replicore: partition 0 kernel panicked",
                    STEP_TIMEOUT_MS);
                await(() -> box.control().primaryId() == 1, "replica 1 primary", machine);
                final long tookOver = System.nanoTime();
                final int lastOfReplica0 = lastTick(ticks(machine, 0));
                final String dead = box.slot(0).lastErrorMessage();
                assertEquals(ReplicaState.DEAD, box.slot(0).state(), () -> diagnostics(machine));
                assertTrue(dead.contains("partition 0 kernel panic: sysrq triggered crash"), "replica 0's slot: " +
                    dead);
                assertTrue(ms(panicked, tookOver) < TAKEOVER_BOUND_MS, () -> "replica 1 took over " +
                    ms(panicked, tookOver) + " ms after the panic" + diagnostics(machine));
                // The console takes the event's line in pieces: the whole of it, reason included.
                machine.awaitSecondConsole("(replica 0 is dead (partition 0 kernel panic: sysrq triggered crash))",
                    STEP_TIMEOUT_MS);
                final String takeover = lineOf(machine.secondConsole(), "took over as primary");
                assertTrue(machine.console().contains("replicore: emergency restart while the replica kernel of " +
                    "partition 1 runs on CPUs 2-3: stopping this kernel's CPUs, not the machine"),
                    () -> diagnostics(machine));
                System.err.println("kernel test: step 2 ok: the first kernel panicked after replica 0's tick " +
                    lastOfReplica0 + "; replica 0's slot: " + dead + "; replica 1 primary " + ms(panicked, tookOver) +
                    " ms after the replica kernel's report (heartbeat timeout " + HEARTBEAT_TIMEOUT_MS + " ms): " +
                    takeover);

                // 3. Every tick once and in order across the two kernels.
                await(() -> lastTick(consoleTicks(machine)) >= lastOfReplica0 + 10, "replica 1 ticking", machine);
                final List<Integer> all = new ArrayList<>(ticks(machine, 0));
                all.addAll(consoleTicks(machine));
                assertInOrder(all, machine);
                assertTrue(machine.isAlive(), () -> "the machine outlives its first kernel" + diagnostics(machine));
                System.err.println("kernel test: step 3 ok: ticks 1 to " + lastTick(all) + " in order across " +
                    "replica 0 in the first kernel (to " + lastOfReplica0 + ") and replica 1 in the replica kernel " +
                    "(from " + consoleTicks(machine).get(0) + ")");
            }
        }
    }

    /**
     * The first kernel's job: it loads and starts the replica kernel, whose init runs replica 1's coordinator and
     * panics 4 s after that replica's first tick; then it runs replicas 0 and 2 (their ticks and events in the
     * share), and asks for the planned failover when the host says.
     */
    private static String job(final KernelRigContext ctx, final Path initrd)
    {
        final String java = GuestJava.FIXED_ENVIRONMENT + " " + GuestJava.coordinatorCommand(COORDINATOR) + " ";
        final StringBuilder job = new StringBuilder()
            .append(ctx.replicaLoadCommand(initrd, "3", "replica.java=" + replicaKernelsReplica() +
                " replica.panic_on=tick replica.panic_after=" + PANIC_AFTER_S))
            .append(ctx.replicaLaunchCommand("3", 1));
        for (final int id : new int[] {0, 2})
        {
            job.append(firstKernelsReplica(java, id));
        }
        return job.append("until [ -e /rig/").append(FAILOVER_REQUEST).append(" ]; do sleep 0.5; done\n")
            .append(java).append("failover --mailbox ").append(DEVICE).append(" --timeout 60000\n")
            .append("echo \"failover exited $?\"\n")
            .append("wait\n").toString();
    }

    /** replica.java= of the replica kernel: replica 1 of the ticker, its events and ticks on its console. */
    private static String replicaKernelsReplica()
    {
        final List<String> replica1 = new ArrayList<>(List.of(GuestJava.COORDINATOR_MAIN));
        replica1.addAll(GuestJava.replicaArgs(1, DEVICE, "/dev/console", HEARTBEAT_TIMEOUT_MS));
        replica1.addAll(List.of("--", TICKER.toString(), String.valueOf(TICKS), String.valueOf(TICK_MS)));
        return String.join(",", replica1);
    }

    /** The job's line starting replica {@code id} of the ticker in the first kernel, its ticks and events in the share. */
    private static String firstKernelsReplica(final String java, final int id)
    {
        return java + String.join(" ", GuestJava.replicaArgs(id, DEVICE, "/rig/events-" + id + ".log",
            HEARTBEAT_TIMEOUT_MS)) + " -- " + TICKER + " " + TICKS + " " + TICK_MS + " > /rig/ticks-" + id +
            ".out 2>&1 &\n";
    }

    private static List<Integer> ticks(final KernelMachine machine, final int replica)
    {
        return ticksIn(QemuGuest.read(machine.share().resolve("ticks-" + replica + ".out")));
    }

    /** Replica 1's ticks, on the replica kernel's console (ttyS1). */
    private static List<Integer> consoleTicks(final KernelMachine machine)
    {
        return ticksIn(machine.secondConsole());
    }

    private static List<Integer> ticksIn(final String text)
    {
        return text.lines().filter(l -> l.matches("tick \\d+")).map(l -> Integer.parseInt(l.substring(5))).toList();
    }

    private static int lastTick(final List<Integer> ticks)
    {
        return ticks.isEmpty() ? 0 : ticks.get(ticks.size() - 1);
    }

    /** 1, 2, 3, ...: each tick once, but for one repeated where a primary died (or handed over) after writing it. */
    private static void assertInOrder(final List<Integer> ticks, final KernelMachine machine)
    {
        int expected = 1;
        for (final int tick : ticks)
        {
            if (tick == expected - 1)
            {
                continue;
            }
            final int want = expected;
            assertEquals(want, tick, () -> "tick " + tick + " where " + want + " was due, in " + ticks +
                diagnostics(machine));
            expected++;
        }
    }

    private static String events(final KernelMachine machine, final int replica)
    {
        return QemuGuest.read(machine.share().resolve("events-" + replica + ".log"));
    }

    private static void await(final BooleanSupplier condition, final String what, final KernelMachine machine)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STEP_TIMEOUT_MS);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() > deadline)
            {
                fail(what + ": not within " + STEP_TIMEOUT_MS + " ms" + diagnostics(machine));
            }
            Thread.sleep(100);
        }
    }

    private static String diagnostics(final KernelMachine machine)
    {
        return machine.diagnostics() + "\n--- replica 0's events:\n" + events(machine, 0) +
            "\n--- replica 2's events:\n" + events(machine, 2) + "\n--- ttyS1 tail:\n" +
            QemuGuest.tail(machine.secondConsole(), 40);
    }
}
