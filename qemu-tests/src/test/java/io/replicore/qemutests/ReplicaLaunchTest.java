package io.replicore.qemutests;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.replicore.qemutests.KernelTestText.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Replica kernels started beside a running one, with no hypervisor (kernel-patches 0003): the machine of 2 NUMA
 * nodes and 4 CPUs boots Replicore's kernel with a crash-kernel reservation; its job loads a replica as a crash
 * kernel would be loaded (kexec -p) and writes "3 1" (CPU 3, partition 1) to /sys/kernel/replicore/launch. CPU 3
 * goes offline and starts the replica instead of parking. Four replicas run there one after the other, each step
 * with its own verdict:
 * <ol>
 * <li>the first boots on its own serial port (ttyS1) with one CPU and beats in the mailbox: the first kernel
 * reports it up. It keeps off the platform the first kernel owns: its ACPI reads the tables but runs no AML
 * (kernel-patches 0005), and the first kernel's serial port ttyS0 is never probed (0006);</li>
 * <li>onlining CPU 3 while it runs fails with EBUSY and the kernel's warning, and its heartbeat goes on (read by
 * the host in the mailbox's file);</li>
 * <li>the first kernel's direct map of the crash reservation is read-only (its own page tables, dumped through
 * debugfs, and its report);</li>
 * <li>it hangs (replica.hang_after): the first kernel reports it silent within a bound, its user space blocked in
 * read() on the device wakes, and the replica's Kernel State still says running (a hang, not a stop);</li>
 * <li>CPU 3 can be onlined then, comes back and runs a task, and the reservation is writable again;</li>
 * <li>a new replica is loaded with kexec -p, launched on CPU 3 and comes up; it panics on purpose, its panic
 * stops only its CPU, the first kernel reports it, and CPU 3 comes back again;</li>
 * <li>a replica that never beats (no partition) keeps its CPU for the launch timeout only;</li>
 * <li>a fourth replica, launched on the partition the second left panicked, on CPUs 2 and 3 (it brings CPU 3 up
 * itself), comes up too; it hangs, and its hang stops both its CPUs: its heartbeat stands still, the first kernel
 * reports it silent, and both CPUs come back.</li>
 * </ol>
 * Times are the host's, from the console lines (polled every 20 ms), except the kexec -p load, timed in the guest.
 */
@Tag("kernel")
class ReplicaLaunchTest
{
    private static final long STEP_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(120);
    /**
     * Both kernels' replicore.heartbeat_timeout_ms. A replica reported silent gives its CPU up, so a TCG vCPU starved
     * by a loaded host (gaps of 1.5 s were seen) must not pass for a hung replica while the test expects EBUSY.
     */
    private static final long HEARTBEAT_TIMEOUT_MS = 2000;
    /** What the hang-to-silent time may take beyond the heartbeat timeout (timer, console, the host's polling). */
    private static final long SILENT_SLACK_MS = 2000;
    /** Long enough for the EBUSY and read-only checks while the first replica runs. */
    private static final int HANG_AFTER_S = 10;
    /** The launch timeout for the replica that never beats (replicore.launch_timeout_ms, 30000 by default). */
    private static final int LAUNCH_TIMEOUT_MS = 8000;
    private static final int PANIC_AFTER_S = 3;
    /** The two-CPU replica hangs this long after its start: the test sees it up and with both CPUs first. */
    private static final int BOTH_HANG_AFTER_S = 5;
    private static final int PARTITION = 1;
    private static final String ONLINE = "/sys/devices/system/cpu/cpu3/online";
    private static final String WOKE_LINE = "replicore-waiter: read returned";
    private static final String UP_LINE = "replicore: partition 1 kernel up";
    private static final String LAUNCH_LINE = "replicore: starting the replica kernel of partition 1 on CPU 3";
    private static final String LAUNCH_BOTH_LINE = "replicore: starting the replica kernel of partition 1 on CPU 2 " +
        "(its CPUs: 2-3)";
    private static final String REPLICA_UP_LINE = "replicore-replica: up: 1 CPU";
    private static final String BACK_LINE = "replicore: CPU 3 is back from its replica kernel";
    private static final String PTDUMP_UP = "ptdump-replica-up.txt";
    private static final String PTDUMP_BACK = "ptdump-cpu-back.txt";

    @Test
    void replicasOnAnOfflinedCpuKeepItUntilTheyDieAndANewOneCanFollow() throws InterruptedException
    {
        final KernelRigContext ctx = new KernelRigContext()
            .extraCommandLine("crashkernel=256M replicore.heartbeat_timeout_ms=" + HEARTBEAT_TIMEOUT_MS);
        try (KernelRig rig = KernelRig.open(ctx))
        {
            final Path replicaInitrd = ReplicaInitramfs.build(ctx);
            final KernelMachine machine = rig.bootFirstMachine(job(ctx, replicaInitrd));

            // 1. The first replica: loaded, launched on CPU 3, boots there and beats.
            machine.awaitOutput("loaded hang: 1", STEP_TIMEOUT_MS);
            final long launched = machine.awaitConsole(LAUNCH_LINE, STEP_TIMEOUT_MS);
            machine.awaitOutput("launched hang: online 0-2, launch 3 1", STEP_TIMEOUT_MS);
            final long up = machine.awaitConsole(UP_LINE, STEP_TIMEOUT_MS);
            machine.awaitSecondConsole(REPLICA_UP_LINE, STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 1 ok: " + lineOf(machine.jobOutput(), "loaded hang") +
                "; the replica booted on CPU 3, on its own serial port; the first kernel saw its heartbeat " +
                ms(launched, up) + " ms after the launch (" + kernelMs(machine.console(), LAUNCH_LINE, 1, UP_LINE, 1) +
                " ms by its own clock):\n" + machine.secondConsole().lines()
                .filter(l -> l.contains("replicore")).reduce((a, b) -> a + "\n" + b).orElse(""));
            assertKeepsOffTheFirstKernelsPlatform(machine.secondConsole());

            // 2. Onlining its CPU is refused while it runs, and it runs on.
            final long refused = machine.awaitOutput("online refused:", STEP_TIMEOUT_MS);
            final int beatAtRefusal = ctx.kernelWord(PARTITION, 0);
            Thread.sleep(1000);
            final int beatLater = ctx.kernelWord(PARTITION, 0);
            final String refusal = lineOf(machine.jobOutput(), "online refused:");
            assertTrue(refusal.contains("Device or resource busy"), "EBUSY: " + refusal + machine.diagnostics());
            final String warning = lineOf(machine.console(), "replicore: CPU 3 runs the replica kernel of partition 1");
            assertTrue(warning.contains("(up): onlining it would end the replica"), warning);
            assertTrue(lineOf(machine.jobOutput(), "after refusal:").contains("online 0-2, partitions 0 self,1 up,"),
                machine.diagnostics());
            assertTrue(beatLater > beatAtRefusal, "the replica's Kernel Beat went on after the refusal: " +
                beatAtRefusal + " then " + beatLater);
            assertFalse(machine.console().contains("partition 1 kernel silent"), machine.diagnostics());
            System.err.println("kernel test: step 2 ok: onlining CPU 3 while the replica is up: " + refusal +
                "; the kernel said: " + warning.substring(warning.indexOf("replicore:")) + "; the replica's " +
                "Kernel Beat went from " + beatAtRefusal + " to " + beatLater + " in the next second (" +
                ms(launched, refused) + " ms after the launch)");

            // 3. The first kernel's direct map of the reservation is read-only.
            final long[] crash = crashRange(machine.jobOutput());
            machine.awaitConsole("replicore: partition 1 beats: this kernel's direct map", STEP_TIMEOUT_MS);
            final String sealed = lineOf(machine.console(), "replicore: partition 1 beats: this kernel's direct map");
            assertTrue(sealed.contains(String.format("[mem 0x%016x-0x%016x] is read-only", crash[0], crash[1])),
                "the kernel's report names the reservation of /proc/iomem: " + sealed);
            machine.awaitOutput("ptdump: replica up", STEP_TIMEOUT_MS);
            final List<String> mappedUp = directMap(machine.share().resolve(PTDUMP_UP), crash[0], crash[1]);
            assertTrue(mappedUp.stream().allMatch(l -> l.matches(".*\\bro\\b.*")),
                "every page of the reservation read-only while the replica runs:\n" + String.join("\n", mappedUp));
            System.err.println("kernel test: step 3 ok: the crash reservation " + String.format("%x-%x", crash[0],
                crash[1]) + " (/proc/iomem) is read-only in the first kernel's direct map while the replica runs " +
                "(its page tables, /sys/kernel/debug/page_tables/kernel):\n" + String.join("\n", mappedUp) +
                "\nthe kernel said: " + sealed.substring(sealed.indexOf("replicore:")));

            // 4. The replica hangs: reported silent, the waiter wakes, its Kernel State still says running.
            final int wokeBefore = count(machine.console(), WOKE_LINE);
            final long hung = machine.awaitSecondConsole("replicore: replica kernel hang (test fault", STEP_TIMEOUT_MS);
            final long silent = machine.awaitConsole("replicore: partition 1 kernel silent", STEP_TIMEOUT_MS);
            final long woke = awaitCount(machine, machine::console, "console",
                WOKE_LINE, wokeBefore + 1, STEP_TIMEOUT_MS);
            final long told = machine.awaitOutput("partition 1 silent:", STEP_TIMEOUT_MS);
            final int stateAfterHang = ctx.kernelWord(PARTITION, 4);
            assertEquals(1, stateAfterHang, "a hung replica's Kernel State stays running (1)");
            final String silentLine = lineOf(machine.console(), "replicore: partition 1 kernel silent");
            assertTrue(ms(hung, silent) <= HEARTBEAT_TIMEOUT_MS + SILENT_SLACK_MS, "silent after " +
                ms(hung, silent) + " ms, bound " + (HEARTBEAT_TIMEOUT_MS + SILENT_SLACK_MS) + " ms");
            System.err.println("kernel test: step 4 ok: the replica hung (its CPU stopped, interrupts off, Kernel " +
                "State left " + stateAfterHang + "): the first kernel reported it silent after " + ms(hung, silent) +
                " ms (bound " + (HEARTBEAT_TIMEOUT_MS + SILENT_SLACK_MS) + " ms: heartbeat timeout " +
                HEARTBEAT_TIMEOUT_MS + " ms + " + SILENT_SLACK_MS + "; the kernel said: " +
                silentLine.substring(silentLine.indexOf("no heartbeat")) + "), its user space's read() returned " +
                "after " + ms(hung, woke) + " ms and it had read the partitions after " + ms(hung, told) + " ms");

            // 5. Now CPU 3 can come back; the reservation is writable again.
            final long back = machine.awaitOutput("cpu3 back: online 0-3", STEP_TIMEOUT_MS);
            machine.awaitConsole("replicore: CPU 3: the replica kernel of partition 1 was reported silent: taking " +
                "its CPUs back", 30_000);
            machine.awaitConsole(BACK_LINE, 30_000);
            machine.awaitOutput("ran on cpu3: 4 processors", STEP_TIMEOUT_MS);
            assertTrue(machine.jobOutput().contains("launch after: none"), machine.diagnostics());
            machine.awaitOutput("ptdump: cpu back", STEP_TIMEOUT_MS);
            final List<String> mappedBack = directMap(machine.share().resolve(PTDUMP_BACK), crash[0], crash[1]);
            assertTrue(mappedBack.stream().allMatch(l -> l.matches(".*\\bRW\\b.*")),
                "every page of the reservation writable again:\n" + String.join("\n", mappedBack));
            System.err.println("kernel test: step 5 ok: CPU 3 onlined " + ms(hung, back) + " ms after the hang " +
                "came back to the first kernel and runs its tasks; the reservation is writable again:\n" +
                String.join("\n", mappedBack));

            // 6. A new replica: loaded, launched, up; it panics and stops only its CPU; CPU 3 comes back again.
            final int upBefore = count(machine.console(), UP_LINE);
            final int replicaUpBefore = count(machine.secondConsole(), REPLICA_UP_LINE);
            machine.awaitOutput("loaded panic: 1", STEP_TIMEOUT_MS);
            final long relaunched = awaitCount(machine, machine::console, "console", LAUNCH_LINE, 2, STEP_TIMEOUT_MS);
            final long rebooted = awaitCount(machine, machine::secondConsole, "second console (ttyS1)",
                REPLICA_UP_LINE, replicaUpBefore + 1, STEP_TIMEOUT_MS);
            final long upAgain = awaitCount(machine, machine::console, "console",
                UP_LINE, upBefore + 1, STEP_TIMEOUT_MS);
            final String load = lineOf(machine.jobOutput(), "loaded panic");
            System.err.println("kernel test: step 6a ok: a new replica, " + load + ", launched " +
                ms(back, relaunched) + " ms after CPU 3 came back (the test's checks and the load in between), " +
                "its init ran " + ms(relaunched, rebooted) + " ms and the first kernel saw it up " +
                ms(relaunched, upAgain) + " ms after its launch (by the first kernel's clock: launch to up " +
                kernelMs(machine.console(), LAUNCH_LINE, 2, UP_LINE, upBefore + 1) + " ms, CPU 3 back to the new " +
                "replica up " + kernelMs(machine.console(), BACK_LINE, 1, UP_LINE, upBefore + 1) + " ms)");
            machine.awaitSecondConsole("Kernel panic - not syncing: sysrq triggered crash", STEP_TIMEOUT_MS);
            machine.awaitSecondConsole("replicore: replica kernel emergency restart: stopping this kernel's CPUs", 30_000);
            machine.awaitConsole("replicore: partition 1 kernel panicked", 30_000);
            machine.awaitOutput("cpu3 back again: online 0-3", STEP_TIMEOUT_MS);
            assertTrue(machine.isAlive(), "the machine survives its replica's panic" + machine.diagnostics());
            System.err.println("kernel test: step 6b ok: the new replica's panic stopped only its CPU; the first " +
                "kernel reported it and took CPU 3 back");

            // 7. A replica that never beats: refused its CPU for the launch timeout, not longer.
            machine.awaitOutput("loaded mute: 1", STEP_TIMEOUT_MS);
            machine.awaitOutput("online at once:", STEP_TIMEOUT_MS);
            final String early = lineOf(machine.jobOutput(), "online at once:");
            assertTrue(early.contains("Device or resource busy"), early + machine.diagnostics());
            assertTrue(lineOf(machine.console(), "replicore: CPU 3 runs the replica kernel of partition 1 " +
                "(not beating yet)").contains("launch_timeout_ms (" + LAUNCH_TIMEOUT_MS + " ms)"), machine.console());
            machine.awaitOutput("cpu3 back from a mute replica: online 0-3", STEP_TIMEOUT_MS);
            final String gaveUp = lineOf(machine.console(), "replicore: CPU 3: the replica kernel of partition 1 " +
                "never beat in");
            assertTrue(gaveUp.contains("taking its CPUs back"), gaveUp + machine.diagnostics());
            System.err.println("kernel test: step 7 ok: a replica that never beats (replicore.partition=-1): " +
                early + "; after launch_timeout_ms=" + LAUNCH_TIMEOUT_MS +
                " the kernel said: " + gaveUp.substring(gaveUp.indexOf("replicore:")));

            // 8. A replica on the partition a predecessor left panicked beats all the same, on two CPUs; its hang
            // stops both.
            final int upBeforeLast = count(machine.console(), UP_LINE);
            machine.awaitOutput("loaded both: 1", STEP_TIMEOUT_MS);
            final long last = machine.awaitConsole(LAUNCH_BOTH_LINE, STEP_TIMEOUT_MS);
            final long lastUp = awaitCount(machine, machine::console, "console",
                UP_LINE, upBeforeLast + 1, STEP_TIMEOUT_MS);
            machine.awaitOutput("partition 1 up after panic:", STEP_TIMEOUT_MS);
            machine.awaitSecondConsole("replicore-replica: up: 2 CPU (APIC id 2,3)", STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 8a ok: a fourth replica, launched on CPUs 2-3 where the second " +
                "had panicked, was seen up " + ms(last, lastUp) + " ms after its launch (" +
                kernelMs(machine.console(), LAUNCH_BOTH_LINE, 1, UP_LINE, upBeforeLast + 1) + " ms by the first " +
                "kernel's clock)");
            final int silentBefore = count(machine.console(), "replicore: partition 1 kernel silent");
            final long hungBoth = awaitCount(machine, machine::secondConsole, "second console (ttyS1)",
                "replicore: replica kernel hang (test fault", 2, STEP_TIMEOUT_MS);
            final long silentBoth = awaitCount(machine, machine::console, "console",
                "replicore: partition 1 kernel silent", silentBefore + 1, STEP_TIMEOUT_MS);
            machine.awaitOutput("both back: online 0-3, launch none", STEP_TIMEOUT_MS);
            assertTrue(machine.console().contains("replicore: CPU 2 is back from its replica kernel"),
                machine.diagnostics());
            assertEquals(0, machine.awaitJob(STEP_TIMEOUT_MS), machine.diagnostics());
            assertFalse(machine.console().contains("WARNING:"), "no kernel warning" + machine.diagnostics());
            assertFalse(machine.secondConsole().contains("WARNING:"), "no warning in a replica's log:\n" +
                machine.secondConsole());
            System.err.println("kernel test: step 8b ok: its hang stopped both its CPUs; the first kernel reported " +
                "it silent " + ms(hungBoth, silentBoth) + " ms after the hang and took CPUs 2 and 3 back");
        }
    }

    /**
     * The replica's boot log: its CPU from the MADT, the PM timer for its TSC, and then no AML (no interpreter, no
     * ELCR, no GPE, no PnP devices); of the legacy serial ports only its own ttyS1; no VGA console on the first
     * kernel's screen (patch 0007), the dummy console instead.
     */
    private static void assertKeepsOffTheFirstKernelsPlatform(final String replicaLog)
    {
        assertTrue(replicaLog.contains("ACPI: Using ACPI for processor (LAPIC) configuration information"), replicaLog);
        assertTrue(replicaLog.contains("ACPI: PM-Timer IO Port: 0x608"), replicaLog);
        assertTrue(replicaLog.contains("ACPI: tables only (acpi=tables): the interpreter stays off"), replicaLog);
        assertTrue(replicaLog.contains("replicore: replica kernel: the screen is the first kernel's, this one uses " +
            "none"), replicaLog);
        assertTrue(replicaLog.contains("Console: colour dummy device"), replicaLog);
        for (final String touched : List.of("ACPI: Interpreter enabled", "setting ELCR", "GPEs", "PnP ACPI: found",
            "ttyS0 at I/O 0x3f8 (irq", "Console: colour VGA", "Console: colour *CGA", "Console: colour EGA"))
        {
            assertFalse(replicaLog.contains(touched), "'" + touched + "' in the replica's log:\n" + replicaLog);
        }
        assertTrue(replicaLog.contains("ttyS0 at I/O 0x3f8 left alone (not in 8250.legacy_ports)"), replicaLog);
        assertTrue(replicaLog.contains("ttyS1 at I/O 0x2f8"), replicaLog);
        System.err.println("kernel test: step 1 ok: the replica's ACPI ran no AML (" +
            lineOf(replicaLog, "tables only") + "), ttyS0 left alone (" + lineOf(replicaLog, "ttyS0 at") + "), " +
            "the screen left alone (" + lineOf(replicaLog, "Console: colour") + ")");
    }

    /** The first kernel's job: each replica in turn, and what it finds on the way. */
    private static String job(final KernelRigContext ctx, final Path replicaInitrd)
    {
        return BootScripts.planInto("3") +
            "cmdline=\"$REPLICORE_REPLICA_CMDLINE replicore.heartbeat_timeout_ms=" + HEARTBEAT_TIMEOUT_MS + "\"\n" +
            "image=" + GuestJava.quote(ctx.rigContext().kernelImage().toString()) + "\n" +
            "cpus=3\n" +
            "initrd=" + GuestJava.quote(replicaInitrd.toString()) + "\n" +
            "partitions() { tr '\\n' ',' < /sys/class/misc/replicore-mailbox/partitions; }\n" +
            // Load a replica with the fault option $2 (named $1), launch it on CPU 3 as partition 1, run $3 at once.
            "launch() {\n" +
            "    t0=$(date +%s%N)\n" +
            "    kexec -p \"$image\" --initrd=\"$initrd\" --append=\"$cmdline $2\" || { echo 'kexec -p failed'; exit 1; }\n" +
            "    t1=$(date +%s%N)\n" +
            "    echo \"loaded $1: $(cat /sys/kernel/kexec_crash_loaded) in $(( (t1 - t0) / 1000000 )) ms " +
            "(kexec -p, timed in the guest)\"\n" +
            "    echo \"$cpus " + PARTITION + "\" > /sys/kernel/replicore/launch || { echo 'launch failed'; exit 1; }\n" +
            "    ${3:+$3}\n" +
            "    echo \"launched $1: online $(cat /sys/devices/system/cpu/online), launch " +
            "$(cat /sys/kernel/replicore/launch)\"\n" +
            "}\n" +
            // Wait until partition 1 is reported $1, with one blocking read of the device per event.
            "await() {\n" +
            "    while :; do\n" +
            "        case $(partitions) in *'1 '$1,*) echo \"partition 1 $1$2: $(partitions)\"; return ;; esac\n" +
            "        dd bs=8 count=1 <&3 > /dev/null 2>&1 || { echo 'read failed'; exit 1; }\n" +
            "        echo '" + WOKE_LINE + "' > /dev/kmsg\n" +
            "    done\n" +
            "}\n" +
            "online() { /bin/echo 1 > " + ONLINE + " 2> /tmp/online.err; }\n" +
            "grep -i 'crash kernel' /proc/iomem | sed 's/^/iomem: /'\n" +
            "mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null\n" +
            "exec 3< /dev/replicore-mailbox\n" +
            "dd bs=8 count=1 <&3 > /dev/null 2>&1\n" +
            // The first replica: refused its CPU while up, read-only memory, then it hangs.
            "launch hang replica.hang_after=" + HANG_AFTER_S + "\n" +
            "await up\n" +
            "if online; then echo 'online accepted while the replica runs'; else " +
            "echo \"online refused: $(cat /tmp/online.err)\"; fi\n" +
            "echo \"after refusal: online $(cat /sys/devices/system/cpu/online), partitions $(partitions)\"\n" +
            "i=0; until dmesg | grep -q 'partition 1 beats: this kernel'; do\n" +
            "    i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1\n" +
            "done\n" +
            "cat /sys/kernel/debug/page_tables/kernel > /rig/" + PTDUMP_UP + " && echo 'ptdump: replica up'\n" +
            "await silent\n" +
            "online && echo \"cpu3 back: online $(cat /sys/devices/system/cpu/online)\" || " +
            "{ echo \"cpu3 did not come back: $(cat /tmp/online.err)\"; exit 1; }\n" +
            "echo \"launch after: $(cat /sys/kernel/replicore/launch)\"\n" +
            "taskset -c 3 sh -c 'echo \"ran on cpu3: $(awk \"/^processor/ {n++} END {print n}\" /proc/cpuinfo)" +
            " processors\"'\n" +
            "cat /sys/kernel/debug/page_tables/kernel > /rig/" + PTDUMP_BACK + " && echo 'ptdump: cpu back'\n" +
            // The second: up, then it panics.
            "launch panic replica.panic_after=" + PANIC_AFTER_S + "\n" +
            "await up\n" +
            "await panicked\n" +
            "online && echo \"cpu3 back again: online $(cat /sys/devices/system/cpu/online)\" || " +
            "{ echo \"cpu3 did not come back: $(cat /tmp/online.err)\"; exit 1; }\n" +
            // The third never beats (no partition): its CPU is refused for the launch timeout, then given back.
            "echo " + LAUNCH_TIMEOUT_MS + " > /sys/module/replicore/parameters/launch_timeout_ms\n" +
            "try_online() { if online; then echo 'online at once: accepted'; else " +
            "echo \"online at once: $(cat /tmp/online.err)\"; fi; }\n" +
            "launch mute replicore.partition=-1 try_online\n" +
            "sleep " + (LAUNCH_TIMEOUT_MS / 1000 + 1) + "\n" +
            "online && echo \"cpu3 back from a mute replica: online $(cat /sys/devices/system/cpu/online)\" || " +
            "{ echo \"cpu3 did not come back: $(cat /tmp/online.err)\"; exit 1; }\n" +
            "echo 30000 > /sys/module/replicore/parameters/launch_timeout_ms\n" +
            // The fourth, on CPUs 2-3: up where the second left its partition panicked; it hangs, both CPUs come back.
            "cpus=2-3\n" +
            "cmdline=$(echo \"$cmdline\" | sed 's/replicore.apic_ids=3 /replicore.apic_ids=2-3 /')\n" +
            "launch both replica.hang_after=" + BOTH_HANG_AFTER_S + "\n" +
            "await up ' after panic'\n" +
            "await silent ' with 2 CPUs'\n" +
            "for cpu in 2 3; do /bin/echo 1 > /sys/devices/system/cpu/cpu$cpu/online || exit 1; done\n" +
            "echo \"both back: online $(cat /sys/devices/system/cpu/online), launch $(cat /sys/kernel/replicore/launch)\"\n";
    }

    /**
     * The time between the {@code n1}-th console line holding {@code line1} and the {@code n2}-th holding
     * {@code line2}, by the kernel's own timestamps ({@code [   12.345678]}), in ms.
     */
    private static long kernelMs(final String console, final String line1, final int n1, final String line2,
        final int n2)
    {
        return Math.round((kernelTime(console, line2, n2) - kernelTime(console, line1, n1)) * 1000);
    }

    private static double kernelTime(final String console, final String line, final int n)
    {
        final String found = console.lines().filter(l -> l.contains(line)).skip(n - 1).findFirst()
            .orElseThrow(() -> new AssertionError("no " + n + "th console line '" + line + "'"));
        final Matcher m = Pattern.compile("\\[\\s*([0-9]+\\.[0-9]+)\\]").matcher(found);
        assertTrue(m.find(), "no timestamp in " + found);
        return Double.parseDouble(m.group(1));
    }

    /** The crash reservation, first and last byte, from the job's copy of /proc/iomem. */
    private static long[] crashRange(final String output)
    {
        final Matcher m = Pattern.compile("iomem: +([0-9a-f]+)-([0-9a-f]+) : Crash kernel").matcher(output);
        assertTrue(m.find(), "no crash kernel in /proc/iomem: " + output);
        return new long[] {Long.parseLong(m.group(1), 16), Long.parseLong(m.group(2), 16)};
    }

    /**
     * The lines of an x86 page-table dump (ptdump) that map the physical range [first, last] in the direct map
     * ("Low Kernel Mapping", which starts at PAGE_OFFSET, physical 0), each prefixed with its physical range.
     * Fails unless they cover all of it.
     */
    private static List<String> directMap(final Path ptdump, final long first, final long last)
    {
        final List<String> lines;
        try
        {
            lines = Files.readAllLines(ptdump);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot read " + ptdump, ex);
        }
        final Pattern range = Pattern.compile("^0x([0-9a-f]+)-0x([0-9a-f]+)\\s+(.*)$");
        final List<String> mapped = new ArrayList<>();
        long pageOffset = -1;
        long covered = first;
        boolean inDirectMap = false;
        for (final String line : lines)
        {
            if (line.startsWith("---["))
            {
                inDirectMap = line.contains("Low Kernel Mapping");
                continue;
            }
            final Matcher m = range.matcher(line);
            if (!inDirectMap || !m.matches())
            {
                continue;
            }
            final long start = Long.parseUnsignedLong(m.group(1), 16);
            final long end = Long.parseUnsignedLong(m.group(2), 16);
            if (pageOffset == -1)
            {
                pageOffset = start;
            }
            final long physStart = start - pageOffset;
            final long physEnd = end - pageOffset;
            if (physEnd <= first || physStart > last)
            {
                continue;
            }
            assertTrue(physStart <= covered, "a hole in the direct map of the reservation at " +
                Long.toHexString(covered) + " in " + ptdump);
            covered = Math.max(covered, physEnd);
            mapped.add(String.format("  phys %x-%x: %s", physStart, physEnd - 1, m.group(3).strip()
                .replaceAll("\\s+", " ")));
        }
        assertTrue(covered > last, "the direct map in " + ptdump + " covers the reservation only up to " +
            Long.toHexString(covered));
        return mapped;
    }
}
