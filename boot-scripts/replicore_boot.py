"""Partition plans and replica kernel launches for Replicore's kernel (kernel-patches/).

A plan splits a machine by its NUMA topology: the running kernel keeps node 0 (partition 0), and one other node's
memory and CPUs go to a replica kernel (the partition of the node's number), with a mailbox range both kernels
map. It is written as shell assignments (a plan file) that `replicore-replica` and a shell can both read.

The machine is read from sysfs and procfs, under roots that tests and offline planning may move:
  /sys/devices/system/node/{online,nodeN/cpulist}   the nodes and their CPUs
  /proc/cpuinfo                                     each online CPU's APIC id (the replica's replicore.apic_ids=)
  /proc/zoneinfo                                    each node's zones: start_pfn and spanned pages
  /proc/iomem                                       System RAM ranges (root only: others read zeros)
  /sys/class/misc/replicore-mailbox/{size,phys_addr} the mailbox of a kernel booted with a plan
"""

import os
import re
import shlex

PAGE = 4096
MIB = 1 << 20
# x86 places a crash kernel on a 16 MiB boundary (CRASH_ALIGN).
CRASH_ALIGN = 16 * MIB
MAILBOX_ALIGN = 2 * MIB
DEFAULT_MAILBOX_SIZE = 4 * MIB
# Left of the replica's node for the first kernel: its node data, page tables and struct pages of that node are
# allocated there at boot, top-down, before the plan's reservation can be taken.
FIRST_KERNEL_SLACK = 64 * MIB
MIN_REPLICA_MEMORY = 128 * MIB
# The replica's real-mode trampoline; the first kernel's is allocated top-down, near 640 KiB (0003).
TRAMPOLINE = 0x10000
DEFAULT_REPLICA_CONSOLE = "ttyS1,115200"
# The I/O ports of the legacy serial ports ttyS0..ttyS3: a replica probes only its console's (patch 0006).
LEGACY_SERIAL_PORTS = (0x3F8, 0x2F8, 0x3E8, 0x2E8)
# What the replica must not touch of the shared platform (kernel-patches/README.md, 0003's table); acpi=tables (patch
# 0005) reads the firmware's tables but runs none of its AML. Its CPUs are named by replicore.apic_ids= (patch 0008).
REPLICA_FENCES = "acpi=tables noapic pci=off hpet=disable initcall_blacklist=i8042_init nokaslr panic=-1"
# The replica's root is its initramfs: in ramfs, since the default tmpfs root takes at most half the memory free while
# the archive is unpacked, which an initramfs with a Java runtime exceeds in a small reservation.
REPLICA_ROOT = "rootfstype=ramfs"

PLAN_KEYS = ("REPLICORE_NODES", "REPLICORE_FIRST_CPUS", "REPLICORE_REPLICA_PARTITION", "REPLICORE_REPLICA_NODE",
             "REPLICORE_REPLICA_CPUS", "REPLICORE_REPLICA_MEMORY", "REPLICORE_MAILBOX", "REPLICORE_KERNEL_CMDLINE",
             "REPLICORE_REPLICA_CMDLINE")


class BootError(Exception):
    """What stops a plan or a launch, said so that the operator knows what to do."""


def parse_size(text):
    """A size or address the way the kernel's memparse reads it: 0x.., decimal, with K, M, G or T."""
    match = re.fullmatch(r"(0[xX][0-9a-fA-F]+|[0-9]+)([KkMmGgTt]?)", text.strip())
    if not match:
        raise BootError("not a size or address: '%s' (say 4M, 4096K, 0x100000000)" % text)
    value = int(match.group(1), 0)
    return value << {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[match.group(2).lower()]


def format_size(value):
    """The largest unit that states the size exactly: 4096K for 4 MiB would read 4M."""
    for shift, unit in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if value and value % (1 << shift) == 0:
            return "%d%s" % (value >> shift, unit)
    return str(value)


def parse_range(text):
    """SIZE@ADDR as the kernel's replicore.mailbox and crashkernel take it: (address, size)."""
    size, sep, address = text.partition("@")
    if not sep:
        raise BootError("not SIZE@ADDRESS: '%s'" % text)
    return parse_size(address), parse_size(size)


def format_range(address, size):
    return "%s@0x%x" % (format_size(size), address)


def parse_cpulist(text):
    """0-1,3 as sysfs writes it: [0, 1, 3]."""
    cpus = []
    for part in filter(None, text.strip().split(",")):
        match = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", part.strip())
        if not match:
            raise BootError("not a CPU list: '%s' (say 2-3 or 2,3)" % text.strip())
        cpus.extend(range(int(match.group(1)), int(match.group(2) or match.group(1)) + 1))
    return cpus


def format_cpulist(cpus):
    parts = []
    for cpu in sorted(cpus):
        if parts and parts[-1][1] == cpu - 1:
            parts[-1][1] = cpu
        else:
            parts.append([cpu, cpu])
    return ",".join(str(low) if low == high else "%d-%d" % (low, high) for low, high in parts)


def align_up(value, alignment):
    return (value + alignment - 1) // alignment * alignment


def align_down(value, alignment):
    return value // alignment * alignment


class Node:
    """A NUMA node: its CPUs and its RAM, as [start, end) ranges."""

    def __init__(self, number, cpus, ram):
        self.number = number
        self.cpus = cpus
        self.ram = ram

    def largest_range(self):
        return max(self.ram, key=lambda r: r[1] - r[0]) if self.ram else None


class Machine:
    """The running machine as its kernel shows it, under sysfs and procfs roots."""

    def __init__(self, sysfs="/sys", procfs="/proc"):
        self.sysfs = sysfs
        self.procfs = procfs

    def _read(self, root, relative, what):
        path = os.path.join(root, relative)
        try:
            with open(path) as file:
                return file.read()
        except OSError as ex:
            raise BootError("cannot read %s (%s): %s" % (path, what, ex.strerror)) from ex

    def sys(self, relative, what):
        return self._read(self.sysfs, relative, what)

    def proc(self, relative, what):
        return self._read(self.procfs, relative, what)

    def has_sys(self, relative):
        return os.path.exists(os.path.join(self.sysfs, relative))

    def command_line(self):
        return self.proc("cmdline", "the running kernel's command line").split()

    def system_ram(self):
        """Top-level System RAM ranges of /proc/iomem, [start, end)."""
        ranges = []
        for line in self.proc("iomem", "the physical memory map").splitlines():
            if line.startswith(" ") or not line.rstrip().endswith(": System RAM"):
                continue
            start, end = (int(x, 16) for x in line.split(":")[0].strip().split("-"))
            ranges.append((start, end + 1))
        if not ranges:
            raise BootError("no System RAM in %s" % os.path.join(self.procfs, "iomem"))
        if all(start == 0 and end == 1 for start, end in ranges):
            raise BootError("%s shows every address as 0: reading the memory map needs root" %
                            os.path.join(self.procfs, "iomem"))
        return ranges

    def zone_spans(self):
        """Each node's zones as [start, end) physical ranges, from /proc/zoneinfo."""
        spans = {}
        node, spanned = None, 0
        for line in self.proc("zoneinfo", "the nodes' memory zones").splitlines():
            words = line.split()
            if line.startswith("Node "):
                node, spanned = int(words[1].rstrip(",")), 0
            elif words[:1] == ["spanned"]:
                spanned = int(words[1])
            elif words[:1] == ["start_pfn:"] and node is not None and spanned:
                start = int(words[1]) * PAGE
                spans.setdefault(node, []).append((start, start + spanned * PAGE))
        return spans

    def nodes(self):
        """The online nodes with their CPUs and RAM, lowest first."""
        ram = self.system_ram()
        spans = self.zone_spans()
        nodes = []
        for number in parse_cpulist(self.sys("devices/system/node/online", "the online NUMA nodes")):
            cpus = parse_cpulist(self.sys("devices/system/node/node%d/cpulist" % number, "node %d's CPUs" % number))
            pieces = sorted((max(a, c), min(b, d)) for a, b in spans.get(number, []) for c, d in ram
                            if max(a, c) < min(b, d))
            nodes.append(Node(number, cpus, pieces))
        return nodes

    def apic_ids(self):
        """Each online CPU's APIC id, from /proc/cpuinfo: {cpu: apic id}."""
        ids, cpu = {}, None
        for line in self.proc("cpuinfo", "the CPUs' APIC ids").splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "processor":
                cpu = int(value)
            elif key == "apicid" and cpu is not None:
                ids[cpu] = int(value)
        return ids

    def mailbox(self):
        """The mailbox of a kernel booted with a plan, as (address, size), or None."""
        device = "class/misc/replicore-mailbox"
        if not self.has_sys(device):
            return None
        return (int(self.sys(device + "/phys_addr", "the mailbox's address").strip(), 0),
                int(self.sys(device + "/size", "the mailbox's size").strip(), 0))

    def crash_reservation(self):
        """The crash kernel reservation of /proc/iomem (where a replica kernel lives), as (address, size), or None."""
        for line in self.proc("iomem", "the physical memory map").splitlines():
            if line.strip().endswith(": Crash kernel"):
                start, end = (int(x, 16) for x in line.split(":")[0].strip().split("-"))
                return start, end + 1 - start
        return None


class Plan:
    """Which CPUs and memory each partition has, where the mailbox lives, and the two kernels' command lines."""

    def __init__(self, values):
        missing = [key for key in PLAN_KEYS if key not in values]
        if missing:
            raise BootError("the plan lacks %s" % ", ".join(missing))
        self.values = dict(values)

    def __getitem__(self, key):
        return self.values[key]

    @property
    def partition(self):
        return int(self["REPLICORE_REPLICA_PARTITION"])

    @property
    def replica_memory(self):
        return parse_range(self["REPLICORE_REPLICA_MEMORY"])

    def shell(self):
        """The plan file: shell assignments, one a line, in PLAN_KEYS's order."""
        return "".join("%s=%s\n" % (key, shlex.quote(str(self.values[key]))) for key in PLAN_KEYS)

    def describe(self):
        address, size = self.replica_memory
        mailbox_address, mailbox_size = parse_range(self["REPLICORE_MAILBOX"])
        return "\n".join([
            "nodes %s" % self["REPLICORE_NODES"],
            "partition 0 (this kernel): CPUs %s, the rest of the memory" % self["REPLICORE_FIRST_CPUS"],
            "partition %d (a replica kernel): node %s's CPUs %s, %s of memory at 0x%x-0x%x" % (
                self.partition, self["REPLICORE_REPLICA_NODE"], self["REPLICORE_REPLICA_CPUS"], format_size(size),
                address,
                address + size - 1),
            "mailbox: %s at 0x%x-0x%x" % (format_size(mailbox_size), mailbox_address,
                                         mailbox_address + mailbox_size - 1),
            "this kernel's command line gains: %s" % self["REPLICORE_KERNEL_CMDLINE"],
            "the replica kernel's command line: %s" % self["REPLICORE_REPLICA_CMDLINE"],
        ]) + "\n"

    @staticmethod
    def read(path):
        """A plan file written by `replicore-plan`."""
        values = {}
        try:
            with open(path) as file:
                text = file.read()
        except OSError as ex:
            raise BootError("cannot read the plan %s: %s" % (path, ex.strerror)) from ex
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, value = line.partition("=")
            words = shlex.split(value) if sep else []
            if not sep or len(words) > 1 or not re.fullmatch(r"REPLICORE_[A-Z_]+", key):
                raise BootError("%s:%d is not a plan line (KEY=value): %s" % (path, number, line))
            values[key] = words[0] if words else ""
        return Plan(values)


def serial_line(console):
    """The legacy serial line (0..3) a console= value names, or None: ttyS1,115200 is line 1."""
    match = re.fullmatch(r"ttyS([0-9]+)(,.*)?", console)
    return int(match.group(1)) if match and int(match.group(1)) < len(LEGACY_SERIAL_PORTS) else None


def replica_serial_words(machine, replica_console):
    """The replica's console and the only legacy port it may probe; refused when the port is this kernel's
    console, or not a legacy port (the replica has no PCI and no ACPI to find another)."""
    line = serial_line(replica_console)
    if line is None:
        raise BootError("the replica's console must be a legacy serial port, ttyS0 to ttyS%d (it has no PCI or ACPI "
                        "devices): not '%s'" % (len(LEGACY_SERIAL_PORTS) - 1, replica_console))
    own = [word[len("console="):] for word in machine.command_line() if word.startswith("console=")]
    if any(serial_line(console) == line for console in own):
        raise BootError("ttyS%d is this kernel's console: give the replica another (--replica-console)" % line)
    return "console=%s 8250.legacy_ports=0x%x" % (replica_console, LEGACY_SERIAL_PORTS[line])


def make_plan(machine, replica_node=None, replica_cpus=None, replica_memory=None, mailbox=None,
              mailbox_size=DEFAULT_MAILBOX_SIZE, replica_console=DEFAULT_REPLICA_CONSOLE, replica_append=""):
    """Plan one replica kernel on `replica_node` (the highest node by default), on `replica_cpus` (a list of the
    node's CPUs; all of them by default), of `machine`."""
    nodes = [node for node in machine.nodes() if node.cpus and node.ram]
    if len(nodes) < 2:
        raise BootError("%d NUMA node(s) with CPUs and memory: a replica kernel needs a node of its own, so there is "
                        "nothing to partition" % len(nodes))
    first = nodes[0]
    if 0 not in first.cpus:
        raise BootError("CPU 0 is not on node %d, the first node with CPUs and memory" % first.number)
    if replica_node is None:
        replica = nodes[-1]
    else:
        matching = [node for node in nodes if node.number == replica_node]
        if not matching or matching[0] is first:
            raise BootError("node %d cannot hold the replica: the nodes with CPUs and memory are %s, and the first "
                            "stays with this kernel" % (replica_node, ", ".join(str(n.number) for n in nodes)))
        replica = matching[0]

    mailbox_address, mailbox_size = place_mailbox(machine, replica, mailbox, mailbox_size)
    memory_address, memory_size = place_replica_memory(machine, replica, (mailbox_address, mailbox_size),
                                                       replica_memory)
    cpus = sorted(set(replica.cpus if replica_cpus is None else replica_cpus))
    foreign = [cpu for cpu in cpus if cpu not in replica.cpus]
    if not cpus or foreign:
        raise BootError("CPUs %s are not node %d's: its CPUs are %s" % (format_cpulist(foreign) or "(none)",
                                                                       replica.number, format_cpulist(replica.cpus)))
    apic_ids = replica_apic_ids(machine, cpus)
    mailbox_words = "memmap=%s$0x%x replicore.mailbox=%s" % (
        format_size(mailbox_size), mailbox_address, format_range(mailbox_address, mailbox_size))
    kernel = "%s replicore.partition=0 crashkernel=%s" % (mailbox_words, format_range(memory_address, memory_size))
    replica_line = "%s replicore.apic_ids=%s %s %s %s replicore.partition=%d replicore.replica=1 " \
        "replicore.trampoline=0x%x" % (replica_serial_words(machine, replica_console), format_cpulist(apic_ids),
                                      REPLICA_FENCES, REPLICA_ROOT, mailbox_words, replica.number, TRAMPOLINE)
    if replica_append.strip():
        replica_line += " " + replica_append.strip()
    return Plan({
        "REPLICORE_NODES": format_cpulist(node.number for node in nodes),
        "REPLICORE_FIRST_CPUS": format_cpulist(c for node in nodes for c in node.cpus if c not in cpus),
        "REPLICORE_REPLICA_PARTITION": replica.number,
        "REPLICORE_REPLICA_NODE": replica.number,
        "REPLICORE_REPLICA_CPUS": format_cpulist(cpus),
        "REPLICORE_REPLICA_MEMORY": format_range(memory_address, memory_size),
        "REPLICORE_MAILBOX": format_range(mailbox_address, mailbox_size),
        "REPLICORE_KERNEL_CMDLINE": kernel,
        "REPLICORE_REPLICA_CMDLINE": replica_line,
    })


def replica_apic_ids(machine, cpus):
    """The APIC ids of `cpus`, which the replica kernel brings up and no other (patch 0008). /proc/cpuinfo lists online
    CPUs only, so a plan is made while they all are."""
    ids = machine.apic_ids()
    offline = [cpu for cpu in cpus if cpu not in ids]
    if offline:
        raise BootError("CPUs %s are not in %s: their APIC ids are known only while they are online (plan before a "
                        "launch, or after `replicore-replica reclaim`)" % (
                            format_cpulist(offline), os.path.join(machine.procfs, "cpuinfo")))
    return [ids[cpu] for cpu in cpus]


def place_mailbox(machine, replica, mailbox, size):
    """The mailbox named, the one this kernel already has (a plan stays the same once booted), or the top of the
    replica node's RAM."""
    if mailbox is not None:
        address, size = mailbox
    else:
        existing = machine.mailbox()
        if existing is not None:
            return existing
        if size % PAGE or size < MIB:
            raise BootError("the mailbox size must be whole pages and at least 1M: %s" % format_size(size))
        start, end = replica.largest_range()
        address = align_down(end - size, MAILBOX_ALIGN)
        if address < start:
            raise BootError("node %d's largest RAM range 0x%x-0x%x cannot hold a %s mailbox" % (
                replica.number, start, end - 1, format_size(size)))
    if address % PAGE or size % PAGE or size < MIB:
        raise BootError("the mailbox %s must be page aligned and at least 1M" % format_range(address, size))
    return address, size


def place_replica_memory(machine, replica, mailbox, size):
    """The replica's memory: the crash reservation this kernel already has, or the start of the replica node's
    largest RAM range (16 MiB aligned), `size` or all of it but the mailbox and the first kernel's slack."""
    existing = machine.crash_reservation()
    if existing is not None and (size is None or existing[1] == size) and within(existing, replica.ram):
        return existing
    start, end = replica.largest_range()
    address = align_up(start, CRASH_ALIGN)
    limit = end
    mailbox_start, mailbox_end = mailbox[0], mailbox[0] + mailbox[1]
    if mailbox_start < end and mailbox_end > address:
        limit = min(limit, mailbox_start)
    room = align_down(limit - FIRST_KERNEL_SLACK - address, CRASH_ALIGN) if limit > address else 0
    if size is None:
        size = room
    elif size % MIB:
        raise BootError("the replica's memory must be whole MiB: %s" % format_size(size))
    if size < MIN_REPLICA_MEMORY or size > room:
        raise BootError("node %d has room for %s of replica memory at 0x%x (its largest RAM range 0x%x-0x%x, less "
                        "the mailbox and %s for this kernel), and a replica needs at least %s: asked %s" % (
                            replica.number, format_size(max(room, 0)), address, start, end - 1,
                            format_size(FIRST_KERNEL_SLACK), format_size(MIN_REPLICA_MEMORY),
                            format_size(size) if size != room else "all of it"))
    return address, size


def within(piece, ranges):
    address, size = piece
    return any(start <= address and address + size <= end for start, end in ranges)
