package io.replicore.qemutests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One replica kernel: a QEMU process pinned to its host core, with one vCPU, its own memory, the host's root and
 * its own share over virtio-9p, the mailbox as an ivshmem device, a tap on the rig's bridge, its serial console
 * in a file and its monitor on a unix socket.
 * <p>
 * Files under {@code WORK/replica-N/}: {@code share/} (the guest's /rig: job.sh in; output, status, init.log
 * out), {@code console.log}, {@code qemu.log} (QEMU's own stderr), {@code monitor.sock}.
 * <p>
 * The kernel boots with {@code panic=-1} and QEMU with {@code -no-reboot}: a kernel that panics flushes its
 * console (the panic is in console.log) and resets at once, and QEMU, told not to reboot, exits. So a panicked
 * replica kernel stays down, like a partition whose kernel died, and burns no host core (with {@code panic=0} it
 * would spin in panic's delay loop; with a pvpanic device pausing it, QEMU stops the guest before the kernel has
 * flushed the panic to the console, since panic notifiers run before that flush). A job's end powers the guest off
 * and QEMU exits too; {@link #jobStatus()} tells the two apart.
 */
public final class ReplicaVm extends QemuGuest
{
    /** The init script's line when the job starts; boot time is measured to it. */
    public static final String UP_MARKER = " up (ip ";
    /** In the share: the host asks a coordinator job's guest for its network state, which it writes to DUMP. */
    static final String DUMP_REQUEST = "dump-request";
    static final String DUMP = "network-dump.txt";

    private final RigContext ctx;
    private final int id;
    private final Accelerator accelerator;
    private final Path initramfs;
    private final long mailboxBackingLength;
    private final RigNetwork network;
    private long bootNs;

    ReplicaVm(final RigContext ctx, final int id, final Accelerator accelerator, final Path initramfs,
        final long mailboxBackingLength, final RigNetwork network)
    {
        super("replica-" + id, ctx.workDir().resolve("replica-" + id));
        this.ctx = ctx;
        this.id = id;
        this.accelerator = accelerator;
        this.initramfs = initramfs;
        this.mailboxBackingLength = mailboxBackingLength;
        this.network = network;
    }

    public int id()
    {
        return id;
    }

    /** The host core QEMU is pinned to. */
    public int hostCpu()
    {
        return id % ctx.hostCpus();
    }

    public String ip()
    {
        return RigNetwork.replicaIp(id);
    }

    /**
     * Start QEMU with {@code jobScript} as the guest's /rig/job.sh (run by /bin/sh in the guest's root, the host's
     * root under an overlay). Returns at once: {@link #awaitBoot()} waits for the job to start.
     */
    public ReplicaVm start(final String jobScript)
    {
        startQemu(jobScript);
        return this;
    }

    @Override
    protected List<String> command()
    {
        final List<String> qemu = new ArrayList<>(List.of("taskset", "-c", String.valueOf(hostCpu()), ctx.qemu(),
            "-name", hostname(), "-nodefaults", "-display", "none", "-no-reboot"));
        qemu.addAll(accelerator.qemuArgs());
        qemu.addAll(List.of("-smp", "1", "-m", String.valueOf(ctx.memoryMiB()),
            "-kernel", ctx.kernelImage().toString(), "-initrd", initramfs.toString(),
            "-append", "console=ttyS0 panic=-1 replicore.hostname=" + hostname() +
                (network == null ? "" : " replicore.ip=" + ip() + "/" + RigNetwork.PREFIX_LENGTH),
            "-serial", "file:" + consoleLog(),
            "-monitor", "unix:" + monitorSocket() + ",server,nowait",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", "local,path=" + share() + ",mount_tag=out,security_model=none",
            "-object", "memory-backend-file,size=" + mailboxBackingLength + ",share=on,mem-path=" +
                ctx.mailboxPath() + ",id=mailbox",
            "-device", "ivshmem-plain,memdev=mailbox"));
        if (network == null)
        {
            return qemu;
        }
        qemu.addAll(List.of("-netdev", "tap,id=net0,ifname=" + RigNetwork.tap(id) + ",script=no,downscript=no",
            "-device", "virtio-net-pci,netdev=net0,mac=" + RigNetwork.replicaMac(id)));
        return network.inNet(qemu);
    }

    /**
     * Wait until the guest's init reports it is up and starts the job.
     *
     * @return the boot time, from QEMU's start to that line, in ms.
     * @throws IllegalStateException when QEMU exits first or the boot times out, with QEMU's log and the
     * console's tail.
     */
    public long awaitBoot()
    {
        bootNs = awaitUp(ctx.bootTimeoutMs());
        return TimeUnit.NANOSECONDS.toMillis(bootNs);
    }

    public long bootMs()
    {
        return TimeUnit.NANOSECONDS.toMillis(bootNs);
    }

    /**
     * A coordinator's event log if the job kept one in /rig/events.log, and its guest's TCP connections.
     */
    @Override
    protected String moreDiagnostics()
    {
        final String events = tail(read(share().resolve("events.log")), 20);
        final String network = networkDump();
        return (events.isEmpty() ? "" : "\n--- /rig/events.log (a coordinator's event log):\n" + events) +
            (network.isEmpty() ? "" : "\n--- the guest's TCP connections, TCP counters and tc filters:\n" + network);
    }

    /**
     * @return what a coordinator job's dumper wrote when asked (its TCP connections, TCP counters and tc filters), or
     * nothing if the guest is gone or runs no such job.
     */
    private String networkDump()
    {
        final Path dump = share().resolve(DUMP);
        try
        {
            if (!isAlive() || !Files.exists(share().resolve("job.sh")) ||
                !Files.readString(share().resolve("job.sh")).contains(DUMP_REQUEST))
            {
                return "";
            }
            Files.deleteIfExists(dump);
            Files.writeString(share().resolve(DUMP_REQUEST), "");
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!Files.exists(dump) && System.nanoTime() - deadline < 0)
            {
                Thread.sleep(100);
            }
            return Files.exists(dump) ? Files.readString(dump).strip() : "(the guest did not answer)";
        }
        catch (final IOException ex)
        {
            return "(" + ex.getMessage() + ")";
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }
}
