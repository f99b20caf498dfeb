package io.replicore.qemutests;

import io.replicore.mailbox.Mailbox;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two replica kernels boot, each on its own serial console, and meet in the ivshmem mailbox: each maps it through
 * the PCI locator with the project's Java mailbox code, registers in its slot, and the records one kernel writes
 * in its channel are read by the other, both ways. The host then reads what each kernel wrote.
 */
@Tag("qemu")
class ReplicaKernelsShareTheMailboxTest
{
    private static final int RECORDS = 5;
    private static final Pattern REGISTERED = Pattern.compile("registered: replica (\\d+) pid (\\d+) host (\\S+)");

    @Test
    void bothKernelsBootMapTheIvshmemMailboxAndExchangeRecordsBothWays()
    {
        try (Rig rig = Rig.open(new RigContext().network(false)))
        {
            for (final ReplicaVm vm : rig.vms())
            {
                vm.start("echo kernel $(uname -r) on $(hostname)\n" +
                    "lspci_dir=$(grep -l 0x1110 /sys/bus/pci/devices/*/device)\n" +
                    "echo ivshmem at ${lspci_dir%/device}\n" +
                    GuestJava.command(GuestMailboxCheck.class.getName(), String.valueOf(vm.id()),
                        String.valueOf(RECORDS)) + "\n");
            }
            for (final ReplicaVm vm : rig.vms())
            {
                System.err.println("rig: " + vm.hostname() + " booted in " + vm.awaitBoot() + " ms (" +
                    rig.accelerator().accelerator() + ")");
            }
            for (final ReplicaVm vm : rig.vms())
            {
                assertEquals(0, vm.awaitJob(180_000), vm.hostname() + vm.diagnostics());
            }

            try (Mailbox box = rig.openMailbox())
            {
                for (final ReplicaVm vm : rig.vms())
                {
                    final ReplicaVm peer = rig.vm(1 - vm.id());
                    final String output = vm.jobOutput();
                    final String console = vm.console();
                    // Each kernel printed to its own console, and only its own name.
                    assertTrue(console.contains("replicore-rig: " + vm.hostname() + " up"), vm.diagnostics());
                    assertFalse(console.contains("replicore-rig: " + peer.hostname() + " up"), vm.diagnostics());
                    assertTrue(output.contains("on " + vm.hostname()), output);
                    assertTrue(output.contains("resource: /sys/bus/pci/devices/"), output);
                    assertTrue(output.contains("opened: run " + Long.toHexString(box.runId()) + " replicas 2"),
                        output);

                    // What the guest wrote in its slot, seen from the host.
                    final Matcher registered = REGISTERED.matcher(output);
                    assertTrue(registered.find(), output);
                    assertEquals(vm.id(), Integer.parseInt(registered.group(1)));
                    assertEquals(vm.hostname(), registered.group(3));
                    assertEquals(Integer.parseInt(registered.group(2)), box.slot(vm.id()).pid());
                    assertEquals(vm.id(), box.slot(vm.id()).partitionId());
                    assertTrue(box.slot(vm.id()).heartbeat() >= 2, "heartbeat " + box.slot(vm.id()).heartbeat());

                    // What the other kernel wrote in its channel, read by this one, in order.
                    for (int n = 1; n <= RECORDS; n++)
                    {
                        assertTrue(output.contains("received: " + GuestMailboxCheck.record(peer.id(), vm.id(), n) +
                            " (sequence " + n + ")"), output);
                    }
                    assertTrue(output.contains("check: ok"), output);
                }
            }
        }
    }
}
