package io.replicore.qemutests;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One machine of Replicore's kernel under QEMU: NUMA nodes with CPUs and memory of their own
 * ({@code -numa node,cpus=...,memdev=...}), the mailbox DIMM at the mailbox address (when the rig has one), the
 * host's root and a share over virtio-9p and the rig's init, so a job runs the host's binaries and JRE as in the
 * QEMU rig ({@link ReplicaVm}). Its kernel is partition {@link #id()} of the mailbox.
 * <p>
 * Files under {@code WORK/kernel-N/}: {@code share/} (the guest's /rig: job.sh in; output, status, init.log out),
 * {@code console.log}, {@code qemu.log}, {@code monitor.sock}, {@code qemu-command}.
 */
public final class KernelMachine extends QemuGuest
{
    private static final long POLL_MS = 20;

    private final KernelRigContext ctx;
    private final int id;
    private final Accelerator accelerator;
    private final Path initramfs;
    private final Path secondConsole;

    KernelMachine(final KernelRigContext ctx, final int id, final Accelerator accelerator, final Path initramfs)
    {
        super("kernel-" + id, ctx.workDir().resolve("kernel-" + id));
        this.ctx = ctx;
        this.id = id;
        this.accelerator = accelerator;
        this.initramfs = initramfs;
        this.secondConsole = ctx.workDir().resolve("kernel-" + id).resolve("ttyS1.log");
    }

    /** The machine's number, which is also its kernel's partition in the mailbox. */
    public int id()
    {
        return id;
    }

    public int cpuCount()
    {
        return ctx.nodes() * ctx.cpusPerNode();
    }

    /**
     * Start QEMU with {@code jobScript} as the guest's /rig/job.sh. Returns at once: {@link #awaitBoot()} waits
     * for the job to start.
     */
    public KernelMachine start(final String jobScript)
    {
        startQemu(jobScript, secondConsole);
        return this;
    }

    @Override
    protected List<String> command()
    {
        final List<String> qemu = new ArrayList<>(List.of("taskset", "-c", String.valueOf(id % ctx.hostCpus()),
            ctx.rigContext().qemu(), "-name", hostname(), "-nodefaults", "-display", "none", "-no-reboot"));
        qemu.addAll(accelerator.qemuArgs());
        final long ramMiB = (long)ctx.nodes() * ctx.memoryPerNodeMiB();
        final long mailboxMiB = ctx.mailbox() ? Math.max(1, ctx.mailboxSize() >> 20) : 0;
        // A socket per node: one socket of all the CPUs would share its last-level cache across nodes, which the
        // kernel's scheduler topology warns about.
        qemu.addAll(List.of("-smp", cpuCount() + ",sockets=" + ctx.nodes() + ",cores=" + ctx.cpusPerNode() +
            ",threads=1",
            "-m", ctx.mailbox() ? "size=" + ramMiB + "M,slots=1,maxmem=" + (ramMiB + mailboxMiB) + "M" : ramMiB + "M"));
        for (int node = 0; node < ctx.nodes(); node++)
        {
            final int firstCpu = node * ctx.cpusPerNode();
            qemu.addAll(List.of(
                "-object", "memory-backend-ram,id=node" + node + ",size=" + ctx.memoryPerNodeMiB() + "M",
                "-numa", "node,nodeid=" + node + ",cpus=" + firstCpu + "-" + (firstCpu + ctx.cpusPerNode() - 1) +
                    ",memdev=node" + node));
        }
        String append = "console=ttyS0 panic=-1 replicore.hostname=" + hostname();
        if (ctx.mailbox())
        {
            qemu.addAll(List.of(
                "-object", "memory-backend-file,id=mailbox,size=" + ctx.mailboxSize() + ",share=on,mem-path=" +
                    ctx.mailboxPath(),
                "-device", "pc-dimm,id=mailbox-dimm,memdev=mailbox,addr=0x" + Long.toHexString(ctx.mailboxAddress()) +
                    ",node=" + (ctx.nodes() - 1)));
            append += " " + ctx.mailboxCommandLine(id);
        }
        if (!ctx.extraCommandLine().isEmpty())
        {
            append += " " + ctx.extraCommandLine();
        }
        qemu.addAll(List.of("-kernel", ctx.rigContext().kernelImage().toString(), "-initrd", initramfs.toString(),
            "-append", append,
            "-serial", "file:" + consoleLog(),
            // ttyS1: the console of a replica kernel this one starts, which prints on a port of its own
            "-serial", "file:" + secondConsole,
            "-monitor", "unix:" + monitorSocket() + ",server,nowait",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", "local,path=" + share() + ",mount_tag=out,security_model=none"));
        return qemu;
    }

    /**
     * Wait until the guest's init starts the job.
     *
     * @return the boot time, from QEMU's start to that console line, in ms.
     */
    public long awaitBoot()
    {
        return TimeUnit.NANOSECONDS.toMillis(awaitUp(ctx.bootTimeoutMs()));
    }

    /** What was printed on the second serial port (ttyS1), where a replica kernel started here has its console. */
    public String secondConsole()
    {
        return read(secondConsole);
    }

    /**
     * Wait for {@code text} on the second serial port (ttyS1).
     *
     * @return {@link System#nanoTime()} when it was seen.
     */
    public long awaitSecondConsole(final String text, final long timeoutMs)
    {
        requireStarted();
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!secondConsole().contains(text))
        {
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException(hostname() + ": '" + text + "' did not appear on ttyS1 within " +
                    timeoutMs + " ms" + diagnostics() + "\n--- ttyS1 tail (" + secondConsole + "):\n" +
                    tail(secondConsole(), 30));
            }
            sleep(POLL_MS);
        }
        return System.nanoTime();
    }
}
