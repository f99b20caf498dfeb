package io.replicore.qemutests;

import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.MailboxLayout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Everything a {@link Rig} needs, validated by {@link #conclude()} with an error that names the setting and the
 * fix. Defaults fit this project's test machines: Debian's kernel from /boot, two replica kernels of 1 GiB each.
 */
public final class RigContext
{
    public static final int MAX_REPLICAS = MailboxLayout.MAX_REPLICAS;
    public static final int DEFAULT_MEMORY_MIB = 1024;
    public static final long DEFAULT_BOOT_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(120);
    public static final long DEFAULT_KVM_PROBE_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(20);
    /** Mailbox channels of the rig: small, so the ivshmem region stays a few MiB. */
    public static final int DEFAULT_CHANNEL_CAPACITY = 256 * 1024;

    private static final AtomicInteger RUNS = new AtomicInteger();
    private static final Pattern KERNEL_VERSION = Pattern.compile("vmlinuz-(.+)$");
    private static final Pattern RUN_ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,23}");

    private int replicaCount = 2;
    private int memoryMiB = DEFAULT_MEMORY_MIB;
    private Path kernelImage;
    private Path modulesDir;
    private Path busybox = Path.of("/bin/busybox");
    private String qemu = "qemu-system-x86_64";
    private Path workDir;
    private String runId;
    private int channelCapacity = DEFAULT_CHANNEL_CAPACITY;
    private Accelerator.Choice accelerator = Accelerator.Choice.AUTO;
    private long bootTimeoutMs = DEFAULT_BOOT_TIMEOUT_MS;
    private long kvmProbeTimeoutMs = DEFAULT_KVM_PROBE_TIMEOUT_MS;
    private boolean network = true;
    private int hostCpus = Runtime.getRuntime().availableProcessors();
    private boolean concluded;

    /**
     * Fill in the defaults and check every setting.
     *
     * @throws IllegalArgumentException naming the setting that is wrong and what to do.
     */
    public RigContext conclude()
    {
        if (replicaCount < 2 || replicaCount > MAX_REPLICAS)
        {
            throw new IllegalArgumentException("replica count must be 2.." + MAX_REPLICAS + ": " + replicaCount);
        }
        if (memoryMiB < 128)
        {
            throw new IllegalArgumentException("memory per replica kernel must be at least 128 MiB (the guest's " +
                "overlay and the host's JRE need it): " + memoryMiB);
        }
        if (kernelImage == null)
        {
            kernelImage = newestKernel();
        }
        requireFile(kernelImage, "kernel image", "install linux-image-amd64 (bin/setup does) or set the kernel image");
        if (modulesDir == null)
        {
            modulesDir = Path.of("/lib/modules", kernelVersion(kernelImage));
        }
        requireFile(modulesDir.resolve("modules.dep"), "module dependency list of " + kernelImage,
            "install the modules of the same kernel (linux-image-" + kernelVersion(kernelImage) + ")");
        requireFile(busybox, "busybox", "install busybox-static (bin/setup does)");
        if (!isStatic(busybox))
        {
            throw new IllegalArgumentException("busybox " + busybox + " is dynamically linked: the initramfs has " +
                "no libraries; install busybox-static (it replaces busybox)");
        }
        if (Exec.which(qemu) == null)
        {
            throw new IllegalArgumentException("QEMU (" + qemu + ") is not on PATH: install qemu-system-x86 " +
                "(bin/setup does)");
        }
        if (!Files.isDirectory(Path.of("/dev/shm")))
        {
            throw new IllegalArgumentException("/dev/shm is missing: the mailbox's backing file lives there");
        }
        if (runId == null)
        {
            runId = "rc-" + ProcessHandle.current().pid() + "-" + RUNS.incrementAndGet();
        }
        if (!RUN_ID.matcher(runId).matches())
        {
            throw new IllegalArgumentException("run id must be lower-case letters, digits and '-', at most 24 " +
                "characters (it names network namespaces and /dev/shm files): " + runId);
        }
        if (workDir == null)
        {
            workDir = Path.of(System.getProperty("replicore.rig.workRoot", "/var/tmp/replicore-rig"), runId);
        }
        workDir = workDir.toAbsolutePath().normalize();
        // The mailbox's own checks (channel capacity a power of two, size limits) apply as they are.
        new MailboxContext().path(mailboxPath().toString()).replicaCount(replicaCount)
            .channelCapacity(channelCapacity).conclude();
        if (bootTimeoutMs <= 0 || kvmProbeTimeoutMs <= 0)
        {
            throw new IllegalArgumentException("timeouts must be positive: boot " + bootTimeoutMs + " ms, KVM probe " +
                kvmProbeTimeoutMs + " ms");
        }
        if (hostCpus < 1)
        {
            throw new IllegalArgumentException("host CPUs must be at least 1: " + hostCpus);
        }
        concluded = true;
        return this;
    }

    public boolean isConcluded()
    {
        return concluded;
    }

    /** The newest /boot/vmlinuz-VERSION that has its modules installed. */
    static Path newestKernel()
    {
        try (Stream<Path> boot = Files.list(Path.of("/boot")))
        {
            return boot.filter(p -> KERNEL_VERSION.matcher(p.getFileName().toString()).find())
                .filter(p -> Files.isDirectory(Path.of("/lib/modules", kernelVersion(p))))
                .max(Comparator.comparing(p -> p.getFileName().toString()))
                .orElseThrow(() -> new IllegalArgumentException("no kernel image with modules in /boot " +
                    "(vmlinuz-VERSION and /lib/modules/VERSION): install linux-image-amd64 (bin/setup does)"));
        }
        catch (final IOException ex)
        {
            throw new IllegalArgumentException("cannot list /boot: " + ex.getMessage());
        }
    }

    static String kernelVersion(final Path kernelImage)
    {
        final Matcher m = KERNEL_VERSION.matcher(kernelImage.getFileName().toString());
        if (!m.find())
        {
            throw new IllegalArgumentException("kernel image " + kernelImage + " is not named vmlinuz-VERSION: set " +
                "the modules directory explicitly");
        }
        return m.group(1);
    }

    private static void requireFile(final Path file, final String what, final String fix)
    {
        if (!Files.isRegularFile(file))
        {
            throw new IllegalArgumentException(what + " " + file + " is missing: " + fix);
        }
    }

    private static boolean isStatic(final Path binary)
    {
        final Exec.Result file = Exec.run(10_000, "sh", "-c", "LC_ALL=C readelf -l \"$1\" 2>/dev/null | " +
            "grep -q 'Requesting program interpreter' && echo dynamic || echo static", "sh", binary.toString());
        return file.stdout().trim().equals("static");
    }

    /** The host's backing file of the ivshmem mailbox. */
    public Path mailboxPath()
    {
        return Path.of("/dev/shm", runId + "-mailbox");
    }

    /** Network namespace of the bridge and the VMs' taps (QEMU runs in it). */
    public String netNamespace()
    {
        return runId + "-net";
    }

    /** Network namespace of the clients, joined to the bridge by a veth pair. */
    public String clientNamespace()
    {
        return runId + "-client";
    }

    public RigContext replicaCount(final int replicaCount)
    {
        this.replicaCount = replicaCount;
        return this;
    }

    public int replicaCount()
    {
        return replicaCount;
    }

    public RigContext memoryMiB(final int memoryMiB)
    {
        this.memoryMiB = memoryMiB;
        return this;
    }

    public int memoryMiB()
    {
        return memoryMiB;
    }

    /** @param kernelImage a bzImage; null means the newest /boot/vmlinuz-* with modules. */
    public RigContext kernelImage(final Path kernelImage)
    {
        this.kernelImage = kernelImage;
        return this;
    }

    public Path kernelImage()
    {
        return kernelImage;
    }

    /** @param modulesDir /lib/modules/VERSION of the kernel image; null derives it from the image's name. */
    public RigContext modulesDir(final Path modulesDir)
    {
        this.modulesDir = modulesDir;
        return this;
    }

    public Path modulesDir()
    {
        return modulesDir;
    }

    public RigContext busybox(final Path busybox)
    {
        this.busybox = busybox;
        return this;
    }

    public Path busybox()
    {
        return busybox;
    }

    public RigContext qemu(final String qemu)
    {
        this.qemu = qemu;
        return this;
    }

    public String qemu()
    {
        return qemu;
    }

    /** @param workDir where the initramfs, each VM's share, console log and monitor socket go. */
    public RigContext workDir(final Path workDir)
    {
        this.workDir = workDir;
        return this;
    }

    public Path workDir()
    {
        return workDir;
    }

    /** @param runId prefix of the run's namespaces and /dev/shm file; null means rc-PID-N. */
    public RigContext runId(final String runId)
    {
        this.runId = runId;
        return this;
    }

    public String runId()
    {
        return runId;
    }

    public RigContext channelCapacity(final int channelCapacity)
    {
        this.channelCapacity = channelCapacity;
        return this;
    }

    public int channelCapacity()
    {
        return channelCapacity;
    }

    public RigContext accelerator(final Accelerator.Choice accelerator)
    {
        this.accelerator = accelerator;
        return this;
    }

    public Accelerator.Choice accelerator()
    {
        return accelerator;
    }

    /** @param bootTimeoutMs how long a replica kernel may take to reach its job. */
    public RigContext bootTimeoutMs(final long bootTimeoutMs)
    {
        this.bootTimeoutMs = bootTimeoutMs;
        return this;
    }

    public long bootTimeoutMs()
    {
        return bootTimeoutMs;
    }

    /** @param kvmProbeTimeoutMs how long the KVM probe's guest may take to reach its init before KVM is given up. */
    public RigContext kvmProbeTimeoutMs(final long kvmProbeTimeoutMs)
    {
        this.kvmProbeTimeoutMs = kvmProbeTimeoutMs;
        return this;
    }

    public long kvmProbeTimeoutMs()
    {
        return kvmProbeTimeoutMs;
    }

    /** @param network whether to build the namespaces, bridge and taps (false: the VMs have no network card). */
    public RigContext network(final boolean network)
    {
        this.network = network;
        return this;
    }

    public boolean network()
    {
        return network;
    }

    /** @param hostCpus host cores to spread the VMs over: VM i is pinned to core i % hostCpus. */
    public RigContext hostCpus(final int hostCpus)
    {
        this.hostCpus = hostCpus;
        return this;
    }

    public int hostCpus()
    {
        return hostCpus;
    }
}
