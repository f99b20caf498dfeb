package io.replicore.qemutests;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.replicore.qemutests.KernelTestText.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Two kernels of one machine, no hypervisor between them, meeting in the mailbox: the first kernel (partition 0)
 * and a replica kernel it starts on its offlined CPU 3 (partition 1, kernel-patches 0003), each running the
 * project's Java mailbox code, the replica with the Java runtime of its initramfs ({@link ReplicaInitramfs}). Each
 * step has its own verdict:
 * <ol>
 * <li>the first kernel formats /dev/replicore-mailbox with the Java mailbox code;</li>
 * <li>it loads the replica (kexec -p) and launches it on CPU 3, which boots on its own serial port (ttyS1);</li>
 * <li>the replica's JVM opens the mailbox the first kernel formatted (same run id);</li>
 * <li>{@link GuestMailboxCheck} in both kernels: records written in each are read in the other;</li>
 * <li>the mailbox round trip between the two kernels: the first kernel writes a record, the replica answers, and
 * the first kernel prints min, median, p99 and max;</li>
 * <li>the replica's JVM ends and the replica stops its CPU (a replica's reboot), which the first kernel sees.</li>
 * </ol>
 * The machine is QEMU's (TCG here), its 4 vCPUs pinned to one host core, so both kernels' spinning threads share
 * that core: the round trip says what the host's scheduler gives them, not what the cache line costs.
 */
@Tag("kernel")
class ReplicaKernelSharesTheMailboxTest
{
    private static final long STEP_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(180);
    private static final int RECORDS = 3;
    private static final int ROUND_TRIPS = 1000;
    /**
     * The replica's RAM (162 MB of it is the replica's MemTotal): its initramfs with Java (46 MB) is unpacked into
     * it, which leaves 100 MB free for a JVM that peaks near 48 MB resident (boot-scripts/replicore-initramfs's JVM_FLAGS).
     */
    private static final String CRASH_KERNEL = "crashkernel=256M";
    private static final String PARTITIONS = GuestDeviceMailbox.SYSFS.resolve("partitions").toString();
    private static final Pattern CREATED = Pattern.compile("created: run ([0-9a-f]+) total (\\d+)");

    @Test
    void aRecordWrittenInOneKernelIsReadInTheOtherBothWays() throws Exception
    {
        final KernelRigContext ctx = new KernelRigContext().formatMailbox(false).extraCommandLine(CRASH_KERNEL);
        try (KernelRig rig = KernelRig.open(ctx))
        {
            final long built = System.nanoTime();
            final Path replicaInitrd = ReplicaInitramfs.buildWithJava(ctx);
            final long initrdMiB = Files.size(replicaInitrd) >> 20;
            System.err.println("kernel test: the replica's initramfs with Java is " + initrdMiB + " MiB, built in " +
                ms(built, System.nanoTime()) + " ms");
            final String mailbox = GuestDeviceMailbox.DEVICE;
            final String check = String.join(",", GuestMailboxCheck.class.getName(), "1", String.valueOf(RECORDS),
                mailbox, String.valueOf(ROUND_TRIPS));
            final KernelMachine machine = rig.bootFirstMachine(GuestJava.command(GuestDeviceMailbox.class.getName(), "0") + " || exit 1\n" +
                // The replica reboots when its Java has ended: that stops its CPU only, and marks its partition.
                ctx.replicaLoadCommand(replicaInitrd, "3", "replica.java=" + check + " replica.reboot_after=0") +
                ctx.replicaLaunchCommand("3", 1) +
                "echo \"launched: online $(cat /sys/devices/system/cpu/online)\"\n" +
                GuestJava.command(GuestMailboxCheck.class.getName(), "0", String.valueOf(RECORDS), mailbox,
                    String.valueOf(ROUND_TRIPS)) + " || exit 1\n" +
                "until grep -q '^1 stopped' " + PARTITIONS + "; do sleep 1; done\n" +
                "echo \"replica stopped: partitions $(tr '\\n' ',' < " + PARTITIONS + ")\"\n");

            // 1. The first kernel formats the device.
            machine.awaitOutput("readback: ok", STEP_TIMEOUT_MS);
            final Matcher created = CREATED.matcher(machine.jobOutput());
            assertTrue(created.find(), machine.diagnostics());
            final String runId = created.group(1);
            System.err.println("kernel test: step 1 ok: the first kernel formatted " + mailbox + " with the Java " +
                "mailbox code (run " + runId + ", " + created.group(2) + " bytes)");

            // 2. The replica loaded and launched on CPU 3.
            final long launched = machine.awaitConsole("replicore: starting the replica kernel", STEP_TIMEOUT_MS);
            machine.awaitOutput("launched: online 0-2", STEP_TIMEOUT_MS);
            final long up = machine.awaitSecondConsole("replicore-replica: up: 1 CPU", STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 2 ok: the replica (" + initrdMiB + " MiB initramfs) booted on " +
                "CPU 3, on ttyS1, " + ms(launched, up) + " ms after the launch:\n" +
                replicaLines(machine, "replicore-replica: up"));

            // 3. The replica's JVM opens the mailbox the first kernel formatted.
            final long opened = machine.awaitSecondConsole("opened: run " + runId, STEP_TIMEOUT_MS);
            System.err.println("kernel test: step 3 ok: the replica's JVM opened the first kernel's mailbox (run " +
                runId + ") " + ms(up, opened) + " ms after the replica's init started:\n" +
                replicaLines(machine, "replicore-replica: java"));

            // 4. Records both ways.
            machine.awaitOutput("check: ok", STEP_TIMEOUT_MS);
            machine.awaitSecondConsole("check: ok", STEP_TIMEOUT_MS);
            assertTrue(machine.jobOutput().contains("received: " + GuestMailboxCheck.record(1, 0, RECORDS)),
                machine.diagnostics());
            assertTrue(machine.secondConsole().contains("received: " + GuestMailboxCheck.record(0, 1, RECORDS)),
                machine.secondConsole());
            System.err.println("kernel test: step 4 ok: " + RECORDS + " records written in each kernel were read " +
                "in the other");

            // 5. The round trip between the kernels.
            machine.awaitOutput("round trips: ", STEP_TIMEOUT_MS);
            machine.awaitSecondConsole("answered: " + (GuestMailboxCheck.WARM_UP_ROUND_TRIPS + ROUND_TRIPS),
                STEP_TIMEOUT_MS);
            final String roundTrips = machine.jobOutput().lines().filter(l -> l.startsWith("round trips: "))
                .findFirst().orElseThrow();
            assertFalse(roundTrips.contains("FAILED"), machine.diagnostics());
            System.err.println("kernel test: step 5 ok: mailbox " + roundTrips + " (first kernel on CPUs 0-2, " +
                "replica on CPU 3, " + rig.accelerator().accelerator() + ", one host core)");

            // 6. The replica's JVM ends, the replica stops its CPU.
            machine.awaitSecondConsole("replicore-replica: java exited 0", STEP_TIMEOUT_MS);
            assertEquals(0, machine.awaitJob(STEP_TIMEOUT_MS), machine.diagnostics());
            assertTrue(machine.jobOutput().contains("replica stopped: partitions "), machine.diagnostics());
            System.err.println("kernel test: step 6 ok: the replica's JVM exited 0 and the replica stopped its " +
                "CPU:\n" + replicaLines(machine, "replicore-replica: java exited"));
        }
    }

    /** The lines of the replica's console (ttyS1) that contain {@code text}. */
    private static String replicaLines(final KernelMachine machine, final String text)
    {
        return String.join("\n", machine.secondConsole().lines().filter(line -> line.contains(text)).toList());
    }
}
