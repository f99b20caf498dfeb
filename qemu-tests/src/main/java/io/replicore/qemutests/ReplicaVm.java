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
public final class ReplicaVm implements AutoCloseable
{
    /** The init script's line when the job starts; boot time is measured to it. */
    public static final String UP_MARKER = " up (ip ";
    /** In the share: the host asks a coordinator job's guest for its network state, which it writes to DUMP. */
    static final String DUMP_REQUEST = "dump-request";
    static final String DUMP = "network-dump.txt";
    private static final long POLL_MS = 50;

    private final RigContext ctx;
    private final int id;
    private final Accelerator accelerator;
    private final Path initramfs;
    private final long mailboxBackingLength;
    private final RigNetwork network;
    private final Path dir;
    private final Path share;
    private final Path console;
    private final Path qemuLog;
    private final Path monitorSocket;
    private Process process;
    private long startNs;
    private long bootNs;
    private QemuMonitor monitor;

    ReplicaVm(final RigContext ctx, final int id, final Accelerator accelerator, final Path initramfs,
        final long mailboxBackingLength, final RigNetwork network)
    {
        this.ctx = ctx;
        this.id = id;
        this.accelerator = accelerator;
        this.initramfs = initramfs;
        this.mailboxBackingLength = mailboxBackingLength;
        this.network = network;
        this.dir = ctx.workDir().resolve("replica-" + id);
        this.share = dir.resolve("share");
        this.console = dir.resolve("console.log");
        this.qemuLog = dir.resolve("qemu.log");
        this.monitorSocket = dir.resolve("monitor.sock");
        if (monitorSocket.toString().length() > 100)
        {
            throw new IllegalArgumentException("work directory " + ctx.workDir() + " is too deep: the monitor " +
                "socket " + monitorSocket + " exceeds a unix socket path's 107 bytes; choose a shorter one");
        }
    }

    public int id()
    {
        return id;
    }

    public String hostname()
    {
        return "replica-" + id;
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

    public Path share()
    {
        return share;
    }

    public Path consoleLog()
    {
        return console;
    }

    public Path monitorSocket()
    {
        return monitorSocket;
    }

    /**
     * Start QEMU with {@code jobScript} as the guest's /rig/job.sh (run by /bin/sh in the guest's root, the host's
     * root under an overlay). Returns at once: {@link #awaitBoot()} waits for the job to start.
     */
    public ReplicaVm start(final String jobScript)
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
        final List<String> qemu = new ArrayList<>(List.of("taskset", "-c", String.valueOf(hostCpu()), ctx.qemu(),
            "-name", hostname(), "-nodefaults", "-display", "none", "-no-reboot"));
        qemu.addAll(accelerator.qemuArgs());
        qemu.addAll(List.of("-smp", "1", "-m", String.valueOf(ctx.memoryMiB()),
            "-kernel", ctx.kernelImage().toString(), "-initrd", initramfs.toString(),
            "-append", "console=ttyS0 panic=-1 replicore.hostname=" + hostname() +
                (network == null ? "" : " replicore.ip=" + ip() + "/" + RigNetwork.PREFIX_LENGTH),
            "-serial", "file:" + console,
            "-monitor", "unix:" + monitorSocket + ",server,nowait",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", "local,path=" + share + ",mount_tag=out,security_model=none",
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
        final long seenNs = awaitConsole(hostname() + UP_MARKER, ctx.bootTimeoutMs());
        bootNs = seenNs - startNs;
        return TimeUnit.NANOSECONDS.toMillis(bootNs);
    }

    public long bootMs()
    {
        return TimeUnit.NANOSECONDS.toMillis(bootNs);
    }

    /**
     * Wait for {@code text} to appear on the serial console.
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
     * Wait for QEMU to end (the job powered the guest off, or QEMU was killed).
     *
     * @return QEMU's exit status.
     */
    public int awaitExit(final long timeoutMs)
    {
        requireStarted();
        try
        {
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
            {
                throw new IllegalStateException(hostname() + ": still running after " + timeoutMs + " ms" +
                    diagnostics());
            }
            return process.exitValue();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", ex);
        }
    }

    /**
     * Wait for {@code text} to appear in the job's output (/rig/output, written through 9p as the job runs).
     *
     * @return {@link System#nanoTime()} when it was seen (within 20 ms).
     * @throws IllegalStateException when QEMU ends first or it does not appear in time.
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
            sleep(20);
        }
        return System.nanoTime();
    }

    /** Wait for the guest's job to end and power the guest off; the job's exit status. */
    public int awaitJob(final long timeoutMs)
    {
        awaitExit(timeoutMs);
        final Integer status = jobStatus();
        if (status == null)
        {
            throw new IllegalStateException(hostname() + ": QEMU ended (" + process.exitValue() + ") without the " +
                "job's status" + diagnostics());
        }
        return status;
    }

    /** @return the job's exit status, or null while it runs (or if the guest died first). */
    public Integer jobStatus()
    {
        final Path status = share.resolve("status");
        try
        {
            return Files.exists(status) ? Integer.valueOf(Files.readString(status).trim()) : null;
        }
        catch (final IOException | NumberFormatException ex)
        {
            return null;
        }
    }

    /** What the job printed (stdout and stderr), so far. */
    public String jobOutput()
    {
        return read(share.resolve("output"));
    }

    public String console()
    {
        return read(console);
    }

    public String consoleTail(final int lines)
    {
        return tail(console(), lines);
    }

    private static String tail(final String text, final int lines)
    {
        final List<String> all = text.strip().lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    /**
     * What to show when something went wrong: QEMU's own output, the job's, a coordinator's event log if the job
     * kept one in /rig/events.log, and the console's tail.
     */
    public String diagnostics()
    {
        final String qemuOut = read(qemuLog).strip();
        final String output = jobOutput().strip();
        final String events = tail(read(share.resolve("events.log")), 20);
        final String network = networkDump();
        return "\n--- " + hostname() + " QEMU (" + qemuLog + "):\n" + (qemuOut.isEmpty() ? "(nothing)" : qemuOut) +
            (output.isEmpty() ? "" : "\n--- job output:\n" + tail(output, 40)) +
            (events.isEmpty() ? "" : "\n--- /rig/events.log (a coordinator's event log):\n" + events) +
            (network.isEmpty() ? "" : "\n--- the guest's TCP connections and tc filters:\n" + network) +
            "\n--- console tail (" + console + "):\n" + consoleTail(25);
    }

    /**
     * @return what a coordinator job's dumper wrote when asked (its TCP connections and tc filters), or nothing if
     * the guest is gone or runs no such job.
     */
    private String networkDump()
    {
        final Path dump = share.resolve(DUMP);
        try
        {
            if (!isAlive() || !Files.exists(share.resolve("job.sh")) ||
                !Files.readString(share.resolve("job.sh")).contains(DUMP_REQUEST))
            {
                return "";
            }
            Files.deleteIfExists(dump);
            Files.writeString(share.resolve(DUMP_REQUEST), "");
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

    /** @return QEMU's pid (ip netns exec and taskset exec it, so it is the process this rig started). */
    public long pid()
    {
        requireStarted();
        return process.pid();
    }

    public boolean isAlive()
    {
        return process != null && process.isAlive();
    }

    Process process()
    {
        requireStarted();
        return process;
    }

    /** The VM's monitor, connected on first use. */
    public QemuMonitor monitor()
    {
        requireStarted();
        if (monitor == null)
        {
            monitor = QemuMonitor.connect(monitorSocket);
        }
        return monitor;
    }

    /** SIGKILL this VM's QEMU, by its pid, and wait for it to be gone. */
    void kill()
    {
        Exec.killAndWait(process);
    }

    @Override
    public void close()
    {
        if (monitor != null)
        {
            monitor.close();
            monitor = null;
        }
        kill();
    }

    private void requireStarted()
    {
        if (process == null)
        {
            throw new IllegalStateException(hostname() + " has not been started");
        }
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
