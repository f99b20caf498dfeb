package io.replicore.qemutests;

import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.MailboxLayout;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Everything a {@link KernelRig} needs, validated by {@link #conclude()} with errors that name the fix: machines of
 * Replicore's own kernel (kernel-patches/build-kernel), each with NUMA nodes of their own CPUs and memory, sharing a
 * mailbox that every machine sees at the same guest-physical address, as the kernels of one real server would.
 * <p>
 * The mailbox is a host file in /dev/shm plugged into each machine as a memory DIMM at {@link #mailboxAddress()}.
 * The kernel is built without memory hotplug, so it never takes the DIMM as RAM; its command line reserves the
 * range as a real server's does ({@code memmap=SIZE$ADDR}) and names it to the mailbox device
 * ({@code replicore.mailbox=SIZE@ADDR}). The host reads and writes the same bytes through the file.
 */
public final class KernelRigContext
{
    /** Where QEMU's pc machine puts the first DIMM when the RAM is below 3.5 GiB: the device memory's base. */
    public static final long DEFAULT_MAILBOX_ADDRESS = 1L << 32;
    public static final long DEFAULT_MAILBOX_SIZE = 4L << 20;
    public static final int DEFAULT_NODES = 2;
    public static final int DEFAULT_CPUS_PER_NODE = 2;
    public static final int DEFAULT_MEMORY_PER_NODE_MIB = 512;
    public static final long DEFAULT_BOOT_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(180);

    private static final AtomicInteger RUNS = new AtomicInteger();

    private int machineCount = 1;
    /** Replicas of the mailbox the host formats; 0: one per machine, two at least. */
    private int replicaCount;
    private int nodes = DEFAULT_NODES;
    private int cpusPerNode = DEFAULT_CPUS_PER_NODE;
    private int memoryPerNodeMiB = DEFAULT_MEMORY_PER_NODE_MIB;
    private Path kernelBuild;
    private boolean mailbox = true;
    private boolean formatMailbox = true;
    private long mailboxSize = DEFAULT_MAILBOX_SIZE;
    private long mailboxAddress = DEFAULT_MAILBOX_ADDRESS;
    private int channelCapacity = RigContext.DEFAULT_CHANNEL_CAPACITY;
    private Path workDir;
    private Path cacheDir;
    private String runId;
    private Accelerator.Choice accelerator = Accelerator.Choice.AUTO;
    private long bootTimeoutMs = DEFAULT_BOOT_TIMEOUT_MS;
    private int hostCpus = Runtime.getRuntime().availableProcessors();
    private String extraCommandLine = "";
    private RigContext rigContext;
    private boolean concluded;

    /**
     * Fill in the defaults and check every setting.
     *
     * @throws IllegalArgumentException naming the setting that is wrong and what to do.
     */
    public KernelRigContext conclude()
    {
        if (machineCount < 1 || machineCount > MailboxLayout.MAX_REPLICAS)
        {
            throw new IllegalArgumentException("machine count must be 1.." + MailboxLayout.MAX_REPLICAS + " (one " +
                "partition of the mailbox each): " + machineCount);
        }
        final int fewestReplicas = Math.max(2, machineCount);
        if (replicaCount != 0 && (replicaCount < fewestReplicas || replicaCount > MailboxLayout.MAX_REPLICAS))
        {
            throw new IllegalArgumentException("replica count must be " + fewestReplicas + ".." +
                MailboxLayout.MAX_REPLICAS + " (two at least, one per machine at least): " + replicaCount);
        }
        if (nodes < 1 || cpusPerNode < 1 || nodes * cpusPerNode > 64)
        {
            throw new IllegalArgumentException("nodes and CPUs per node must be positive, 64 CPUs at most: " + nodes +
                " nodes of " + cpusPerNode);
        }
        if (memoryPerNodeMiB < 128)
        {
            throw new IllegalArgumentException("memory per node must be at least 128 MiB: " + memoryPerNodeMiB);
        }
        if ((long)nodes * memoryPerNodeMiB > 3072)
        {
            throw new IllegalArgumentException("a machine's RAM must stay below 3 GiB, so all of it lies below the " +
                "PCI hole and the first DIMM (the mailbox) lands at 4 GiB: " + nodes + " x " + memoryPerNodeMiB + " MiB");
        }
        if (mailboxSize < MailboxLayout.totalLength(2, MailboxLayout.MIN_CHANNEL_CAPACITY) ||
            Long.bitCount(mailboxSize) != 1)
        {
            throw new IllegalArgumentException("mailbox size must be a power of two that holds a mailbox: " +
                mailboxSize);
        }
        if (mailboxAddress <= 0 || mailboxAddress % mailboxSize != 0)
        {
            throw new IllegalArgumentException("mailbox address must be positive and aligned to its size: 0x" +
                Long.toHexString(mailboxAddress));
        }
        if (kernelBuild == null)
        {
            kernelBuild = defaultKernelBuild();
        }
        final Path release = kernelBuild.resolve("kernelrelease");
        if (!Files.isRegularFile(kernelBuild.resolve("bzImage")) || !Files.isRegularFile(release))
        {
            throw new IllegalArgumentException("no Replicore kernel in " + kernelBuild + " (bzImage, kernelrelease): " +
                "build it with kernel-patches/build-kernel");
        }
        if (runId == null)
        {
            runId = "rk-" + ProcessHandle.current().pid() + "-" + RUNS.incrementAndGet();
        }
        final Path workRoot = Path.of(System.getProperty("replicore.rig.workRoot", "/var/tmp/replicore-rig"));
        if (workDir == null)
        {
            workDir = workRoot.resolve(runId);
        }
        workDir = workDir.toAbsolutePath().normalize();
        if (cacheDir == null)
        {
            cacheDir = workRoot.resolve("cache");
        }
        cacheDir = cacheDir.toAbsolutePath().normalize();
        if (bootTimeoutMs <= 0)
        {
            throw new IllegalArgumentException("boot timeout must be positive: " + bootTimeoutMs);
        }
        if (hostCpus < 1)
        {
            throw new IllegalArgumentException("host CPUs must be at least 1: " + hostCpus);
        }
        final String version;
        try
        {
            version = Files.readString(release).trim();
        }
        catch (final IOException ex)
        {
            throw new IllegalArgumentException("cannot read " + release + ": " + ex.getMessage());
        }
        // The rig's own checks of the kernel, modules, busybox, QEMU and run id; its initramfs and accelerator.
        final Path image = kernelBuild.resolve("vmlinuz-" + version);
        if (!Files.isRegularFile(image))
        {
            throw new IllegalArgumentException("no " + image + " beside " + release + ": build the kernel again with " +
                "kernel-patches/build-kernel");
        }
        rigContext = new RigContext().kernelImage(image)
            .modulesDir(kernelBuild.resolve("lib/modules").resolve(version)).workDir(workDir).runId(runId)
            .accelerator(accelerator).bootTimeoutMs(bootTimeoutMs).network(false).hostCpus(hostCpus).conclude();
        new MailboxContext().path(mailboxPath().toString()).replicaCount(replicaCount())
            .channelCapacity(channelCapacity).regionLength(mailboxSize).conclude();
        if (MailboxLayout.totalLength(replicaCount(), channelCapacity) > mailboxSize)
        {
            throw new IllegalArgumentException("a mailbox of " + replicaCount() + " replicas with channels of " +
                channelCapacity + " bytes does not fit in " + mailboxSize + " bytes");
        }
        concluded = true;
        return this;
    }

    /** build-kernel's output: $REPLICORE_KERNEL_CACHE/out, by default /var/cache/replicore-kernel/out. */
    static Path defaultKernelBuild()
    {
        final String cache = System.getenv("REPLICORE_KERNEL_CACHE");
        return Path.of(cache == null || cache.isEmpty() ? "/var/cache/replicore-kernel" : cache, "out");
    }

    public boolean isConcluded()
    {
        return concluded;
    }

    /** The settings of the QEMU rig that the initramfs and the accelerator probe take. */
    RigContext rigContext()
    {
        return rigContext;
    }

    /** Replicas of the mailbox the host formats: as set, else one per machine, two at least. */
    public int replicaCount()
    {
        return replicaCount != 0 ? replicaCount : Math.max(2, machineCount);
    }

    /** @param replicaCount replicas of the mailbox the host formats, for kernels that run more than one. */
    public KernelRigContext replicaCount(final int replicaCount)
    {
        this.replicaCount = replicaCount;
        return this;
    }

    /** The host's file behind every machine's mailbox DIMM. */
    public Path mailboxPath()
    {
        return Path.of("/dev/shm", runId + "-kmailbox");
    }

    /**
     * A word the kernels keep in the mailbox for {@code partition} (kernel-patches 0002), read by the host in the
     * DIMM's file: its Kernel Beat ({@code offset} 0) or Kernel State (4: 1 running, 2 panicked, 3 stopped).
     */
    public int kernelWord(final int partition, final int offset)
    {
        try (FileChannel channel = FileChannel.open(mailboxPath(), StandardOpenOption.READ))
        {
            final ByteBuffer word = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(word, MailboxLayout.CONTROL_OFFSET + 64 + 8L * partition + offset);
            return word.getInt(0);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot read " + mailboxPath(), ex);
        }
    }

    /** What the kernel's command line says of the mailbox: reserve the range, and map it as the device. */
    public String mailboxCommandLine(final int partition)
    {
        final String range = (mailboxSize >> 10) + "K";
        final String address = "0x" + Long.toHexString(mailboxAddress);
        return "memmap=" + range + "$" + address + " replicore.mailbox=" + range + "@" + address +
            " replicore.partition=" + partition;
    }

    /**
     * A job's shell lines loading the replica kernel (this rig's kernel image) into the crash reservation with
     * {@code kexec -p}, on the command line the machine's partition plan gives a replica on {@code cpus} (a
     * list) ({@link BootScripts#planInto}) and {@code extra}; either ends the job if it fails. {@link #replicaLaunchCommand}
     * starts it.
     */
    public String replicaLoadCommand(final Path initrd, final String cpus, final String extra)
    {
        return BootScripts.planInto(cpus) +
            "kexec -p " + GuestJava.quote(rigContext.kernelImage().toString()) + " --initrd=" +
            GuestJava.quote(initrd.toString()) + " --append=\"$REPLICORE_REPLICA_CMDLINE\"" + GuestJava.quote(" " + extra) +
            " || { echo 'kexec -p failed'; exit 1; }\n";
    }

    /**
     * A job's shell line starting the loaded replica on {@code cpus} (a list, the first starting it) as
     * {@code partition} ("CPUS PARTITION", 0003), which ends the job if the kernel refuses.
     */
    public String replicaLaunchCommand(final String cpus, final int partition)
    {
        return "echo '" + cpus + " " + partition + "' > /sys/kernel/replicore/launch || { echo 'launch failed'; exit 1; }\n";
    }

    public KernelRigContext machineCount(final int machineCount)
    {
        this.machineCount = machineCount;
        return this;
    }

    public int machineCount()
    {
        return machineCount;
    }

    public KernelRigContext nodes(final int nodes)
    {
        this.nodes = nodes;
        return this;
    }

    public int nodes()
    {
        return nodes;
    }

    public KernelRigContext cpusPerNode(final int cpusPerNode)
    {
        this.cpusPerNode = cpusPerNode;
        return this;
    }

    public int cpusPerNode()
    {
        return cpusPerNode;
    }

    public KernelRigContext memoryPerNodeMiB(final int memoryPerNodeMiB)
    {
        this.memoryPerNodeMiB = memoryPerNodeMiB;
        return this;
    }

    public int memoryPerNodeMiB()
    {
        return memoryPerNodeMiB;
    }

    /** @param kernelBuild build-kernel's output directory (bzImage, kernelrelease, lib/modules/VERSION). */
    public KernelRigContext kernelBuild(final Path kernelBuild)
    {
        this.kernelBuild = kernelBuild;
        return this;
    }

    public Path kernelBuild()
    {
        return kernelBuild;
    }

    /** @param mailbox whether the machines get the mailbox DIMM and its command line (false: a plain boot). */
    public KernelRigContext mailbox(final boolean mailbox)
    {
        this.mailbox = mailbox;
        return this;
    }

    public boolean mailbox()
    {
        return mailbox;
    }

    /** @param formatMailbox whether the host formats the mailbox as replicore init-mailbox does (false: zeroes). */
    public KernelRigContext formatMailbox(final boolean formatMailbox)
    {
        this.formatMailbox = formatMailbox;
        return this;
    }

    public boolean formatMailbox()
    {
        return formatMailbox;
    }

    public KernelRigContext mailboxSize(final long mailboxSize)
    {
        this.mailboxSize = mailboxSize;
        return this;
    }

    public long mailboxSize()
    {
        return mailboxSize;
    }

    public KernelRigContext mailboxAddress(final long mailboxAddress)
    {
        this.mailboxAddress = mailboxAddress;
        return this;
    }

    public long mailboxAddress()
    {
        return mailboxAddress;
    }

    public KernelRigContext channelCapacity(final int channelCapacity)
    {
        this.channelCapacity = channelCapacity;
        return this;
    }

    public int channelCapacity()
    {
        return channelCapacity;
    }

    public KernelRigContext workDir(final Path workDir)
    {
        this.workDir = workDir;
        return this;
    }

    public Path workDir()
    {
        return workDir;
    }

    /** @param cacheDir what runs share and make once, e.g. a replica's Java runtime (default WORK_ROOT/cache). */
    public KernelRigContext cacheDir(final Path cacheDir)
    {
        this.cacheDir = cacheDir;
        return this;
    }

    public Path cacheDir()
    {
        return cacheDir;
    }

    public KernelRigContext runId(final String runId)
    {
        this.runId = runId;
        return this;
    }

    public String runId()
    {
        return runId;
    }

    public KernelRigContext accelerator(final Accelerator.Choice accelerator)
    {
        this.accelerator = accelerator;
        return this;
    }

    public Accelerator.Choice accelerator()
    {
        return accelerator;
    }

    public KernelRigContext bootTimeoutMs(final long bootTimeoutMs)
    {
        this.bootTimeoutMs = bootTimeoutMs;
        return this;
    }

    public long bootTimeoutMs()
    {
        return bootTimeoutMs;
    }

    /** @param extraCommandLine appended to every machine's kernel command line (e.g. crashkernel=256M). */
    public KernelRigContext extraCommandLine(final String extraCommandLine)
    {
        this.extraCommandLine = extraCommandLine == null ? "" : extraCommandLine.strip();
        return this;
    }

    public String extraCommandLine()
    {
        return extraCommandLine;
    }

    /** @param hostCpus host cores to spread the machines over: machine i is pinned to core i % hostCpus. */
    public KernelRigContext hostCpus(final int hostCpus)
    {
        this.hostCpus = hostCpus;
        return this;
    }

    public int hostCpus()
    {
        return hostCpus;
    }
}
