package io.replicore.qemutests;

import io.replicore.mailbox.ChannelReader;
import io.replicore.mailbox.Mailbox;
import org.agrona.concurrent.ControlledMessageHandler;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Replicore's own kernel (kernel-patches/build-kernel) on one QEMU machine of 2 NUMA nodes with 2 CPUs each:
 * it boots and runs normally with no replica and no mailbox, and with a mailbox range on its command line its
 * mailbox device appears and the project's Java mailbox code, run in the guest, formats it, writes records and
 * reads them back, while the host reads the same records at the same physical range through the DIMM's file.
 */
@Tag("kernel")
class PatchedKernelTest
{
    private static final int RECORDS = 5;
    private static final Pattern CREATED = Pattern.compile("created: run ([0-9a-f]+) total (\\d+)");

    @Test
    void bootsAndRunsNormallyWithoutAReplicaOrMailbox()
    {
        try (KernelRig rig = KernelRig.open(new KernelRigContext().mailbox(false)))
        {
            final KernelMachine machine = rig.bootFirstMachine("echo \"release: $(uname -r)\"\n" +
                "echo \"cpus: $(nproc)\"\n" +
                "for n in /sys/devices/system/node/node[0-9]*; do\n" +
                "  echo \"$(basename $n): cpus $(cat $n/cpulist) memory $(awk '/MemTotal/ {print $4}' $n/meminfo)" +
                " kB\"\n" +
                "done\n" +
                "echo 0 > /sys/devices/system/cpu/cpu3/online && " +
                "echo \"cpu3 offline: $(cat /sys/devices/system/cpu/offline)\"\n" +
                "echo 1 > /sys/devices/system/cpu/cpu3/online && " +
                "echo \"cpu3 online again: $(cat /sys/devices/system/cpu/online)\"\n" +
                "[ -e /dev/replicore-mailbox ] && echo 'mailbox device: present' || echo 'mailbox device: absent'\n" +
                "echo \"java: $(" + GuestJava.quote(GuestJava.javaBinary()) + " -version 2>&1 | head -1)\"\n");
            System.err.println("kernel test: booted in " + machine.awaitBoot() + " ms (" +
                rig.accelerator().accelerator() + ", 4 vCPUs on one host core)");
            assertEquals(0, machine.awaitJob(180_000), machine.diagnostics());

            final String output = machine.jobOutput();
            System.err.println("kernel test: the job said\n" + output.strip());
            assertTrue(output.matches("(?s).*release: \\S+-replicore\n.*"), "not Replicore's kernel:\n" + output);
            assertTrue(output.contains("cpus: 4\n"), output);
            assertTrue(output.matches("(?s).*node0: cpus 0-1 memory [1-9]\\d* kB.*"), output);
            assertTrue(output.matches("(?s).*node1: cpus 2-3 memory [1-9]\\d* kB.*"), output);
            assertTrue(output.contains("cpu3 offline: 3\n"), "CPU hotplug:\n" + output);
            assertTrue(output.contains("cpu3 online again: 0-3\n"), "CPU hotplug:\n" + output);
            assertTrue(output.contains("mailbox device: absent"), output);
            assertTrue(output.contains("java: openjdk version") || output.contains("java: java version"),
                "the host's JRE over the 9p root:\n" + output);
            final String console = machine.console();
            assertFalse(console.contains("Call Trace"), "a kernel warning or oops:\n" + console);
            assertFalse(console.contains("replicore: "), "the mailbox driver spoke without a mailbox:\n" + console);
        }
    }

    @Test
    void theMailboxDeviceMapsTheReservedRangeAndJavaReadsBackItsRecords()
    {
        try (KernelRig rig = KernelRig.open(new KernelRigContext().formatMailbox(false)))
        {
            final KernelRigContext ctx = rig.context();
            final KernelMachine machine = rig.machine(0);
            machine.start("ls -l /dev/replicore-mailbox\n" +
                "grep -i -e replicore -e reserved /proc/iomem | sed 's/^/iomem: /'\n" +
                "echo \"parameter: $(cat /sys/module/replicore/parameters/mailbox)\"\n" +
                GuestJava.command(GuestDeviceMailbox.class.getName(), String.valueOf(RECORDS)) + "\n");
            final int status = machine.awaitJob(240_000);
            final String output = machine.jobOutput();
            System.err.println("kernel test: the job said\n" + output.strip());
            assertEquals(0, status, machine.diagnostics());

            final String address = String.format("%016x", ctx.mailboxAddress());
            assertTrue(machine.console().contains("replicore: mailbox " + ctx.mailboxSize() + "@0x" + address +
                " is /dev/replicore-mailbox"), "the driver's boot line:" + machine.diagnostics());
            final String end = Long.toHexString(ctx.mailboxAddress() + ctx.mailboxSize() - 1);
            assertTrue(output.contains(Long.toHexString(ctx.mailboxAddress()) + "-" + end + " : replicore mailbox"),
                "the range is claimed in /proc/iomem:\n" + output);
            assertTrue(output.contains("device: /dev/replicore-mailbox size " + ctx.mailboxSize()), output);
            assertTrue(output.contains("readback: ok"), output);
            assertTrue(output.contains("left: " + RECORDS + " records"), output);

            final Matcher created = CREATED.matcher(output);
            assertTrue(created.find(), output);
            try (Mailbox box = rig.openMailbox())
            {
                // The guest formatted the range the host sees through the DIMM's file: same run, same records.
                assertEquals(created.group(1), Long.toHexString(box.runId()), "run id");
                assertEquals(Long.parseLong(created.group(2)), box.totalLength());
                final List<String> records = new ArrayList<>();
                final int polled = box.newReader(1, 0).poll((type, sequence, buffer, offset, length) ->
                {
                    records.add(buffer.getStringWithoutLengthAscii(offset, length));
                    return ControlledMessageHandler.Action.CONTINUE;
                }, RECORDS + 1);
                assertNotEquals(ChannelReader.CORRUPT, polled);
                final List<String> expected = new ArrayList<>();
                for (int n = 1; n <= RECORDS; n++)
                {
                    expected.add(GuestMailboxCheck.record(1, 0, n));
                }
                assertEquals(expected, records, "what the host reads at the mailbox's physical range");
                System.err.println("kernel test: the host read the guest's " + records.size() + " records in " +
                    ctx.mailboxPath());
            }
        }
    }
}
