package io.replicore.qemutests;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * boot-scripts/replicore-plan against the sysfs and procfs of machines written here in the kernel's own formats
 * (default suite): the QEMU machine of the kernel suite as its kernel showed it, before and after it booted with the
 * plan, a four-node server whose nodes lie above 4 GiB, and the machines that cannot be partitioned. The plan's use
 * on a running kernel is PartitionPlanTest's (kernel suite).
 */
class PartitionPlanScriptTest
{
    private static final String QEMU_ZONES =
        "Node 0, zone      DMA\n        spanned  4095\n        present  3998\n  start_pfn:           1\n" +
        "Node 0, zone    DMA32\n        spanned  126976\n        present  126976\n  start_pfn:           4096\n" +
        "Node 0, zone   Normal\n        spanned  0\n        present  0\n" +
        "Node 1, zone      DMA\n        spanned  0\n        present  0\n" +
        "Node 1, zone    DMA32\n        spanned  131040\n        present  131040\n  start_pfn:           131072\n" +
        "Node 1, zone   Normal\n        spanned  0\n        present  0\n";
    private static final String QEMU_IOMEM =
        "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n0009fc00-0009ffff : Reserved\n" +
        "000f0000-000fffff : Reserved\n  000f0000-000fffff : System ROM\n00100000-3ffdffff : System RAM\n" +
        "  08a00000-09601e31 : Kernel code\n3ffe0000-3fffffff : Reserved\n40000000-febfffff : PCI Bus 0000:00\n" +
        "fec00000-fec003ff : IOAPIC 0\nfffc0000-ffffffff : Reserved\n";
    /** The same machine booted with its plan: the reservation inside System RAM, the mailbox cut out of it. */
    private static final String QEMU_PLANNED_IOMEM =
        "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n0009fc00-0009ffff : Reserved\n" +
        "00100000-3f9fffff : System RAM\n  08a00000-09601e31 : Kernel code\n  20000000-3affffff : Crash kernel\n" +
        "3fa00000-3fdfffff : Reserved\n  3fa00000-3fdfffff : replicore mailbox\n3fe00000-3ffdffff : System RAM\n" +
        "3ffe0000-3fffffff : Reserved\n";

    @TempDir
    Path dir;

    @Test
    void theKernelSuitesMachineGivesNodeOnesCpusAndMostOfItsMemoryToTheReplica() throws Exception
    {
        final Path machine = machine("qemu", QEMU_ZONES, QEMU_IOMEM, "0-1", "2-3");
        final Result result = plan(machine);
        assertEquals(0, result.status, result.text);
        assertEquals(String.join("\n",
            "REPLICORE_NODES=0-1",
            "REPLICORE_FIRST_CPUS=0-1",
            "REPLICORE_REPLICA_PARTITION=1",
            "REPLICORE_REPLICA_NODE=1",
            "REPLICORE_REPLICA_CPUS=2-3",
            "REPLICORE_REPLICA_MEMORY=432M@0x20000000",
            "REPLICORE_MAILBOX=4M@0x3fa00000",
            "REPLICORE_KERNEL_CMDLINE='memmap=4M$0x3fa00000 replicore.mailbox=4M@0x3fa00000 replicore.partition=0 " +
                "crashkernel=432M@0x20000000'",
            "REPLICORE_REPLICA_CMDLINE='console=ttyS1,115200 8250.legacy_ports=0x2f8 replicore.apic_ids=2-3 " +
                "acpi=tables noapic " +
                "pci=off hpet=disable " +
                "initcall_blacklist=i8042_init nokaslr panic=-1 rootfstype=ramfs memmap=4M$0x3fa00000 " +
                "replicore.mailbox=4M@0x3fa00000 replicore.partition=1 replicore.replica=1 " +
                "replicore.trampoline=0x10000'", ""), result.text);

        final Result described = plan(machine, "--describe");
        assertTrue(described.text.contains("partition 1 (a replica kernel): node 1's CPUs 2-3, 432M of memory at " +
            "0x20000000-0x3affffff"), described.text);
    }

    @Test
    void aKernelBootedWithThePlanGetsTheSamePlan() throws Exception
    {
        final Path plain = machine("plain", QEMU_ZONES, QEMU_IOMEM, "0-1", "2-3");
        final Path planned = machine("planned", QEMU_ZONES, QEMU_PLANNED_IOMEM, "0-1", "2-3");
        final Path device = planned.resolve("sys/class/misc/replicore-mailbox");
        Files.createDirectories(device);
        Files.writeString(device.resolve("phys_addr"), "0x000000003fa00000\n");
        Files.writeString(device.resolve("size"), "4194304\n");
        assertEquals(plan(plain).text, plan(planned).text);
    }

    @Test
    void aReservationTheKernelPlacedInTheReplicasNodeIsTheReplicasMemory() throws Exception
    {
        // crashkernel=256M with no address: the kernel put it at 752 MiB, in node 1 (the kernel suite's machines).
        final Path machine = machine("placed", QEMU_ZONES, QEMU_IOMEM.replace("  08a00000-09601e31 : Kernel code\n",
            "  08a00000-09601e31 : Kernel code\n  2f000000-3effffff : Crash kernel\n"), "0-1", "2-3");
        final Result result = plan(machine, "--replica-cpus", "3", "--mailbox", "4M@0x100000000");
        assertEquals(0, result.status, result.text);
        assertTrue(result.text.contains("REPLICORE_REPLICA_MEMORY=256M@0x2f000000\n"), result.text);
        assertTrue(result.text.contains("REPLICORE_REPLICA_CPUS=3\n"), result.text);
        assertTrue(result.text.contains("REPLICORE_FIRST_CPUS=0-2\n"), result.text);
        assertTrue(result.text.contains(" replicore.apic_ids=3 "), result.text);
        assertTrue(result.text.contains("crashkernel=256M@0x2f000000'"), result.text);
        assertRefused(plan(machine, "--replica-cpus", "1-2"), 1, "CPUs 1 are not node 1's: its CPUs are 2-3");
        assertRefused(plan(machine, "--replica-cpus", "two"), 1, "not a CPU list: 'two' (say 2-3 or 2,3)");
    }

    @Test
    void aFourNodeServerAboveFourGibGivesTheHighestNodeOrTheOneAskedFor() throws Exception
    {
        // 16 GiB a node; node 0's are 2 GiB below the PCI hole and 14 above 4 GiB, node N's from 2 + 16 N GiB.
        final long gib = 1L << 30;
        final StringBuilder zones = new StringBuilder(zone(0, 1, 0xfffL)).append(zone(0, 0x1000, 0x7f000))
            .append(zone(0, 0x100000, (14 * gib) >> 12));
        final StringBuilder iomem = new StringBuilder("00001000-0009fbff : System RAM\n00100000-7fffffff : System RAM\n" +
            "80000000-ffffffff : PCI Bus 0000:00\n100000000-47fffffff : System RAM\n");
        for (int node = 1; node < 4; node++)
        {
            final long start = (2 + 16L * node) * gib;
            zones.append(zone(node, start >> 12, (16 * gib) >> 12));
            iomem.append(String.format("%x-%x : System RAM%n", start, start + 16 * gib - 1));
        }
        final Path machine = machine("server", zones.toString(), iomem.toString(), "0-7", "8-15", "16-23", "24-31");
        // APIC ids that are not the CPU numbers: two per core, one thread of each core online.
        Files.writeString(machine.resolve("proc/cpuinfo"), cpuinfo(IntStream.range(0, 32).map(cpu -> 2 * cpu)));

        final Result highest = plan(machine);
        assertEquals(0, highest.status, highest.text);
        assertTrue(highest.text.contains("REPLICORE_NODES=0-3\n"), highest.text);
        assertTrue(highest.text.contains("REPLICORE_REPLICA_CPUS=24-31\n"), highest.text);
        assertTrue(highest.text.contains("REPLICORE_FIRST_CPUS=0-23\n"), highest.text);
        assertTrue(highest.text.contains(" replicore.apic_ids=48,50,52,54,56,58,60,62 "), highest.text);
        // 16 GiB less the mailbox and 64 MiB, in 16 MiB steps: 16304 MiB at 50 GiB; the mailbox at 66 GiB less 4 MiB.
        assertTrue(highest.text.contains("REPLICORE_REPLICA_MEMORY=16304M@0xc80000000\n"), highest.text);
        assertTrue(highest.text.contains("REPLICORE_MAILBOX=4M@0x107fc00000\n"), highest.text);

        final Result second = plan(machine, "--replica-node", "1", "--replica-memory", "8G", "--mailbox-size", "16M");
        assertEquals(0, second.status, second.text);
        assertTrue(second.text.contains("REPLICORE_REPLICA_CPUS=8-15\n"), second.text);
        assertTrue(second.text.contains("REPLICORE_REPLICA_MEMORY=8G@0x480000000\n"), second.text);
        assertTrue(second.text.contains("REPLICORE_MAILBOX=16M@0x87f000000\n"), second.text);
    }

    @Test
    void aMachineThatCannotBePartitionedSoIsRefusedWithTheReason() throws Exception
    {
        final Path oneNode = machine("one", QEMU_ZONES.replace("Node 1", "Node 0"), QEMU_IOMEM, "0-3");
        assertRefused(plan(oneNode), 1, "1 NUMA node(s) with CPUs and memory: a replica kernel needs a node of its own");

        final Path qemu = machine("qemu", QEMU_ZONES, QEMU_IOMEM, "0-1", "2-3");
        assertRefused(plan(qemu, "--replica-node", "0"), 1, "node 0 cannot hold the replica");
        assertRefused(plan(qemu, "--replica-memory", "1G"), 1, "node 1 has room for 432M of replica memory");
        assertRefused(plan(qemu, "--mailbox", "4M@0x3fa00100"), 1, "must be page aligned");
        assertRefused(plan(qemu, "--mailbox-size", "lots"), 1, "not a size or address: 'lots'");
        assertRefused(plan(qemu, "--replicas", "3"), 2, "unrecognized arguments: --replicas");
        assertRefused(plan(qemu, "--replica-console", "ttyS0,115200"), 1,
            "ttyS0 is this kernel's console: give the replica another (--replica-console)");
        assertRefused(plan(qemu, "--replica-console", "hvc0"), 1,
            "the replica's console must be a legacy serial port, ttyS0 to ttyS3 (it has no PCI or ACPI devices)");
        final Result thirdPort = plan(qemu, "--replica-console", "ttyS2");
        assertTrue(thirdPort.text.contains("'console=ttyS2 8250.legacy_ports=0x3e8 "), thirdPort.text);

        final Path unprivileged = machine("user", QEMU_ZONES, QEMU_IOMEM.replaceAll("[0-9a-f]+-[0-9a-f]+ :",
            "00000000-00000000 :"), "0-1", "2-3");
        assertRefused(plan(unprivileged), 1, "reading the memory map needs root");

        final Path launched = machine("launched", QEMU_ZONES, QEMU_IOMEM, "0-1", "2-3");
        Files.writeString(launched.resolve("proc/cpuinfo"), cpuinfo(IntStream.range(0, 3)));
        assertRefused(plan(launched), 1, "CPUs 3 are not in " + launched.resolve("proc/cpuinfo") + ": their APIC " +
            "ids are known only while they are online");
    }

    @Test
    void replicoreReplicaRefusesAPlanItCannotUseBeforeItTouchesTheMachine() throws Exception
    {
        final Path partial = dir.resolve("partial-plan");
        Files.writeString(partial, "REPLICORE_NODES=0-1\nREPLICORE_REPLICA_CPUS=2\n");
        assertRefused(run("replicore-replica", "status", "--plan", partial.toString()), 1,
            "the plan lacks REPLICORE_FIRST_CPUS");
        final Path garbled = dir.resolve("garbled-plan");
        Files.writeString(garbled, "echo hello\n");
        assertRefused(run("replicore-replica", "launch", "--plan", garbled.toString(), "--kernel", "k", "--initrd",
            "i"), 1, "garbled-plan:1 is not a plan line");

        assumeFalse(Files.exists(Path.of("/sys/kernel/replicore/launch")), "this machine runs Replicore's kernel");
        final Path plan = dir.resolve("plan");
        Files.writeString(plan, plan(machine("qemu", QEMU_ZONES, QEMU_IOMEM, "0-1", "2-3")).text);
        assertRefused(run("replicore-replica", "launch", "--plan", plan.toString(), "--kernel", "k", "--initrd", "i"),
            1, "this kernel cannot start replica kernels: no /sys/kernel/replicore/launch");
    }

    private static String zone(final int node, final long startPfn, final long pages)
    {
        return "Node " + node + ", zone   Normal\n  pages free     0\n        spanned  " + pages + "\n        present  " +
            pages + "\n  start_pfn:           " + startPfn + "\n";
    }

    /** A machine's sysfs and procfs as replicore-plan reads them; node N has the CPUs of {@code cpuLists[N]}. */
    private Path machine(final String name, final String zoneinfo, final String iomem, final String... cpuLists)
        throws IOException
    {
        final Path root = dir.resolve(name);
        final Path nodes = root.resolve("sys/devices/system/node");
        Files.createDirectories(nodes);
        Files.writeString(nodes.resolve("online"), cpuLists.length == 1 ? "0\n" : "0-" + (cpuLists.length - 1) + "\n");
        for (int node = 0; node < cpuLists.length; node++)
        {
            Files.createDirectories(nodes.resolve("node" + node));
            Files.writeString(nodes.resolve("node" + node).resolve("cpulist"), cpuLists[node] + "\n");
        }
        Files.createDirectories(root.resolve("proc"));
        Files.writeString(root.resolve("proc/zoneinfo"), zoneinfo);
        Files.writeString(root.resolve("proc/iomem"), iomem);
        Files.writeString(root.resolve("proc/cmdline"), "BOOT_IMAGE=/vmlinuz console=tty0 console=ttyS0,115200n8\n");
        final int cpus = Arrays.stream(cpuLists).mapToInt(list -> Integer.parseInt(list.replaceAll(".*[-,]", "")))
            .max().orElse(0) + 1;
        Files.writeString(root.resolve("proc/cpuinfo"), cpuinfo(IntStream.range(0, cpus)));
        return root;
    }

    /** /proc/cpuinfo of the online CPUs 0, 1, ... whose APIC ids are {@code apicIds} (its fields that matter). */
    private static String cpuinfo(final IntStream apicIds)
    {
        final int[] ids = apicIds.toArray();
        return IntStream.range(0, ids.length).mapToObj(cpu -> "processor\t: " + cpu + "\nvendor_id\t: GenuineIntel\n" +
            "physical id\t: 0\napicid\t\t: " + ids[cpu] + "\ninitial apicid\t: " + ids[cpu] + "\n\n")
            .collect(Collectors.joining());
    }

    private static void assertRefused(final Result result, final int status, final String reason)
    {
        assertEquals(status, result.status, result.text);
        assertTrue(result.text.contains(reason), "expected '" + reason + "' in:\n" + result.text);
    }

    private static Result plan(final Path machine, final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of("replicore-plan", "--sysfs",
            machine.resolve("sys").toString(), "--procfs", machine.resolve("proc").toString()));
        command.addAll(List.of(args));
        return run(command.toArray(String[]::new));
    }

    private static Result run(final String... command) throws Exception
    {
        final List<String> line = new ArrayList<>(List.of(command));
        line.set(0, BootScripts.directory().resolve(command[0]).toString());
        final Process process = new ProcessBuilder(line).redirectErrorStream(true).start();
        final String text = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), String.join(" ", line) + " did not end");
        return new Result(process.exitValue(), text);
    }

    private record Result(int status, String text)
    {
    }
}
