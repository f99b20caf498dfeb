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
 * What every guest of the rigs is to the host: a QEMU process whose guest runs the rig's init and a job, with its
 * serial console in a file, its monitor on a unix socket and a share (the guest's /rig: job.sh in; output, status,
 * init.log out). {@link ReplicaVm} (a replica kernel of the QEMU rig) and {@link KernelMachine} (a machine of
 * Replicore's own kernel) say how QEMU is started; starting, waiting for the guest and showing what went wrong are
 * here.
 * <p>
 * Files under its directory: {@code share/}, {@code console.log}, {@code qemu.log} (QEMU's own stderr),
 * {@code monitor.sock}, {@code qemu-command}.
 */
public abstract class QemuGuest implements AutoCloseable
{
    private static final long POLL_MS = 20;
    /** A unix socket's path holds 107 bytes. */
    private static final int SOCKET_PATH_MAX = 100;

    private final String hostname;
    private final Path dir;
    private final Path share;
    private final Path console;
    private final Path qemuLog;
    private final Path monitorSocket;
    private Process process;
    private long startNs;
    private QemuMonitor monitor;

    /**
     * @param dir the guest's directory, under the rig's work directory.
     */
    protected QemuGuest(final String hostname, final Path dir)
    {
        this.hostname = hostname;
        this.dir = dir;
        this.share = dir.resolve("share");
        this.console = dir.resolve("console.log");
        this.qemuLog = dir.resolve("qemu.log");
        this.monitorSocket = dir.resolve("monitor.sock");
        if (monitorSocket.toString().length() > SOCKET_PATH_MAX)
        {
            throw new IllegalArgumentException("work directory " + dir.getParent() + " is too deep: the monitor " +
                "socket " + monitorSocket + " exceeds a unix socket path's 107 bytes; choose a shorter one");
        }
    }

    /**
     * @return QEMU's command line for this guest.
     */
    protected abstract List<String> command();

    /**
     * @return more of what to show when something went wrong, after the job's output; empty for nothing.
     */
    protected String moreDiagnostics()
    {
        return "";
    }

    public String hostname()
    {
        return hostname;
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
     * Start QEMU with {@code jobScript} as the guest's /rig/job.sh. Returns at once.
     *
     * @param staleFiles files of an earlier run of this guest to remove first, beside the console and the monitor.
     */
    protected void startQemu(final String jobScript, final Path... staleFiles)
    {
        if (process != null)
        {
            throw new IllegalStateException(hostname + " was started already");
        }
        try
        {
            Files.createDirectories(share);
            final List<Path> stale = new ArrayList<>(List.of(share.resolve("output"), share.resolve("status"),
                share.resolve("init.log"), console, monitorSocket));
            stale.addAll(List.of(staleFiles));
            for (final Path file : stale)
            {
                Files.deleteIfExists(file);
            }
            Files.writeString(share.resolve("job.sh"), jobScript);
            final List<String> command = command();
            Files.writeString(dir.resolve("qemu-command"), String.join(" ", command) + "\n");
            startNs = System.nanoTime();
            process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(qemuLog.toFile()).start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot start QEMU for " + hostname, ex);
        }
    }

    /**
     * Wait until the guest's init says it is up and starts the job (its line ends with {@link ReplicaVm#UP_MARKER}).
     *
     * @return the boot time, from QEMU's start to that line, in ns.
     */
    protected long awaitUp(final long timeoutMs)
    {
        return awaitConsole(hostname + ReplicaVm.UP_MARKER, timeoutMs) - startNs;
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
                throw new IllegalStateException(hostname + ": QEMU exited (" + process.exitValue() + ") before '" +
                    text + "' appeared on the console" + diagnostics());
            }
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException(hostname + ": '" + text + "' did not appear on the console within " +
                    timeoutMs + " ms" + diagnostics());
            }
            sleep(POLL_MS);
        }
    }

    /**
     * Wait for QEMU to end (the job powered the guest off, a panicked kernel reset, or QEMU was killed).
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
                throw new IllegalStateException(hostname + ": still running after " + timeoutMs + " ms" +
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
     * @return {@link System#nanoTime()} when it was seen (within {@value #POLL_MS} ms).
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
                throw new IllegalStateException(hostname + ": '" + text.strip() + "' not in the job's output " +
                    (process.isAlive() ? "within " + timeoutMs + " ms" : "before QEMU ended") + diagnostics());
            }
            sleep(POLL_MS);
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
            throw new IllegalStateException(hostname + ": QEMU ended (" + process.exitValue() + ") without the " +
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

    /**
     * What to show when something went wrong: QEMU's own output, the job's, what the guest adds
     * ({@link #moreDiagnostics()}) and the console's tail.
     */
    public String diagnostics()
    {
        final String qemuOut = read(qemuLog).strip();
        final String output = jobOutput().strip();
        return "\n--- " + hostname + " QEMU (" + qemuLog + "):\n" + (qemuOut.isEmpty() ? "(nothing)" : qemuOut) +
            (output.isEmpty() ? "" : "\n--- job output:\n" + tail(output, 40)) + moreDiagnostics() +
            "\n--- console tail (" + console + "):\n" + consoleTail(25);
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

    /** The guest's monitor, connected on first use. */
    public QemuMonitor monitor()
    {
        requireStarted();
        if (monitor == null)
        {
            monitor = QemuMonitor.connect(monitorSocket);
        }
        return monitor;
    }

    /** SIGKILL this guest's QEMU, by its pid, and wait for it to be gone. */
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

    protected void requireStarted()
    {
        if (process == null)
        {
            throw new IllegalStateException(hostname + " has not been started");
        }
    }

    protected static String tail(final String text, final int lines)
    {
        final List<String> all = text.strip().lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    protected static String read(final Path file)
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

    protected static void sleep(final long ms)
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
