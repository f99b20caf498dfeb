package io.replicore.qemutests;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
public final class KernelMachine implements AutoCloseable
{
    private static final long POLL_MS = 20;

    private final KernelRigContext ctx;
    private final int id;
    private final Accelerator accelerator;
    private final Path initramfs;
    private final Path dir;
    private final Path share;
    private final Path console;
    private final Path secondConsole;
    private final Path qemuLog;
    private final Path monitorSocket;
    private Process process;
    private long startNs;
    private QemuMonitor monitor;

    KernelMachine(final KernelRigContext ctx, final int id, final Accelerator accelerator, final Path initramfs)
    {
        this.ctx = ctx;
        this.id = id;
        this.accelerator = accelerator;
        this.initramfs = initramfs;
        this.dir = ctx.workDir().resolve("kernel-" + id);
        this.share = dir.resolve("share");
        this.console = dir.resolve("console.log");
        this.secondConsole = dir.resolve("ttyS1.log");
        this.qemuLog = dir.resolve("qemu.log");
        this.monitorSocket = dir.resolve("monitor.sock");
        if (monitorSocket.toString().length() > 100)
        {
            throw new IllegalArgumentException("work directory " + ctx.workDir() + " is too deep for the monitor " +
                "socket " + monitorSocket + " (a unix socket path has 107 bytes); choose a shorter one");
        }
    }

    /** The machine's number, which is also its kernel's partition in the mailbox. */
    public int id()
    {
        return id;
    }

    public String hostname()
    {
        return "kernel-" + id;
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
        if (process != null)
        {
            throw new IllegalStateException(hostname() + " was started already");
        }
        try
        {
            Files.createDirectories(share);
            for (final String stale : new String[] {"output", "status", "init.log"})
            {
                Files.deleteIfExists(share.resolve(stale));
            }
            Files.deleteIfExists(console);
            Files.deleteIfExists(secondConsole);
            Files.deleteIfExists(monitorSocket);
            Files.writeString(share.resolve("job.sh"), jobScript);
            final List<String> command = command();
            Files.writeString(dir.resolve("qemu-command"), String.join(" ", command) + "\n");
            startNs = System.nanoTime();
            process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(qemuLog.toFile()).start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot start QEMU for " + hostname(), ex);
        }
        return this;
    }

    List<String> command()
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
            "-serial", "file:" + console,
            // ttyS1: the console of a replica kernel this one starts, which prints on a port of its own
            "-serial", "file:" + secondConsole,
            "-monitor", "unix:" + monitorSocket + ",server,nowait",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", "local,path=" + share + ",mount_tag=out,security_model=none"));
        return qemu;
    }

    /**
     * Wait until the guest's init starts the job.
     *
     * @return the boot time, from QEMU's start to that console line, in ms.
     */
    public long awaitBoot()
    {
        return TimeUnit.NANOSECONDS.toMillis(awaitConsole(hostname() + ReplicaVm.UP_MARKER, ctx.bootTimeoutMs()) -
            startNs);
    }

    /**
     * Wait for {@code text} on the serial console.
     *
     * @return {@link System#nanoTime()} when it was seen (within {@value #POLL_MS} ms).
     * @throws IllegalStateException when it does not appear in time or QEMU exits without it.
     */
    public long awaitConsole(final String text, final long timeoutMs)
    {
        requireStarted();
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true)
        {
            final boolean alive = process.isAlive();
            if (console().contains(text))
            {
                return System.nanoTime();
            }
            if (!alive)
            {
                throw new IllegalStateException(hostname() + ": QEMU exited (" + process.exitValue() + ") before '" +
                    text + "' appeared on the console" + diagnostics());
            }
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException(hostname() + ": '" + text + "' did not appear on the console within " +
                    timeoutMs + " ms" + diagnostics());
            }
            sleep(POLL_MS);
        }
    }

    /**
     * Wait for {@code text} in the job's output (/rig/output, written through 9p as the job runs).
     *
     * @return {@link System#nanoTime()} when it was seen.
     */
    public long awaitOutput(final String text, final long timeoutMs)
    {
        requireStarted();
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!jobOutput().contains(text))
        {
            if (!process.isAlive() || System.nanoTime() > deadline)
            {
                throw new IllegalStateException(hostname() + ": '" + text.strip() + "' not in the job's output " +
                    (process.isAlive() ? "within " + timeoutMs + " ms" : "before QEMU ended") + diagnostics());
            }
            sleep(POLL_MS);
        }
        return System.nanoTime();
    }

    /** Wait for the job to end and the guest to power off; the job's exit status. */
    public int awaitJob(final long timeoutMs)
    {
        requireStarted();
        try
        {
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
            {
                throw new IllegalStateException(hostname() + ": still running after " + timeoutMs + " ms" +
                    diagnostics());
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", ex);
        }
        final Path status = share.resolve("status");
        try
        {
            return Integer.parseInt(Files.readString(status).trim());
        }
        catch (final IOException | NumberFormatException ex)
        {
            throw new IllegalStateException(hostname() + ": QEMU ended (" + process.exitValue() + ") without the " +
                "job's status" + diagnostics(), ex);
        }
    }

    /** Wait for QEMU to end by itself (a panicked kernel resets and QEMU, run with -no-reboot, exits). */
    public void awaitExit(final long timeoutMs)
    {
        requireStarted();
        try
        {
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
            {
                throw new IllegalStateException(hostname() + ": QEMU still running after " + timeoutMs + " ms" +
                    diagnostics());
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", ex);
        }
    }

    public boolean isAlive()
    {
        return process != null && process.isAlive();
    }

    public String jobOutput()
    {
        return read(share.resolve("output"));
    }

    public String console()
    {
        return read(console);
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

    /** QEMU's output, the job's and the console's tail: what to show when something went wrong. */
    public String diagnostics()
    {
        final String qemuOut = read(qemuLog).strip();
        final String output = jobOutput().strip();
        return "\n--- " + hostname() + " QEMU (" + qemuLog + "):\n" + (qemuOut.isEmpty() ? "(nothing)" : qemuOut) +
            (output.isEmpty() ? "" : "\n--- job output:\n" + tail(output, 40)) +
            "\n--- console tail (" + console + "):\n" + tail(console(), 30);
    }

    /** The machine's monitor, connected on first use. */
    public QemuMonitor monitor()
    {
        requireStarted();
        if (monitor == null)
        {
            monitor = QemuMonitor.connect(monitorSocket);
        }
        return monitor;
    }

    @Override
    public void close()
    {
        if (monitor != null)
        {
            monitor.close();
            monitor = null;
        }
        Exec.killAndWait(process);
    }

    private void requireStarted()
    {
        if (process == null)
        {
            throw new IllegalStateException(hostname() + " has not been started");
        }
    }

    private static String tail(final String text, final int lines)
    {
        final List<String> all = text.strip().lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    private static String read(final Path file)
    {
        try
        {
            return Files.exists(file) ? new String(Files.readAllBytes(file), StandardCharsets.UTF_8) : "";
        }
        catch (final IOException ex)
        {
            return "(cannot read " + file + ": " + ex.getMessage() + ")";
        }
    }

    private static void sleep(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", ex);
        }
    }
}
