package io.replicore.coordinator.cli;

import io.replicore.mailbox.HeartbeatMonitor;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code replicore watch}: the status, redrawn every interval until the service stops, so that a failover or a
 * replica that falls silent can be seen as it happens. One mapping and one heartbeat monitor serve every frame,
 * so a silence is measured from the last beat the watch saw.
 */
@Command(name = "watch", mixinStandardHelpOptions = true,
    description = "Show the status again every interval until the service stops or its mailbox is removed.")
final class WatchCommand implements Callable<Integer>
{
    static final String CLEAR_SCREEN = "\033[H\033[2J";

    @Option(names = "--mailbox", required = true, description = "The service's mailbox.")
    String mailbox;

    @Option(names = "--interval", defaultValue = "500", paramLabel = "MS",
        description = "Milliseconds between frames (default ${DEFAULT-VALUE}).")
    long intervalMs;

    @Option(names = "--count", defaultValue = "0", paramLabel = "N",
        description = "Stop after N frames (default: until the service stops).")
    long count;

    @Option(names = "--json", description = "One JSON object per frame, one per line (NDJSON).")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Whether frames redraw the screen; otherwise a separator line goes between them (a pipe, a file, a test). */
    private final boolean terminal = System.console() != null;

    @Override
    public Integer call()
    {
        if (intervalMs < 1)
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "--interval must be at least 1: " + intervalMs);
        }
        if (count < 0)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--count must not be negative: " + count);
        }

        final PrintWriter out = spec.commandLine().getOut();
        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            final Object fileKey = fileKey(Path.of(box.path()));
            final HeartbeatMonitor monitor = new HeartbeatMonitor(box, System.nanoTime());
            long frames = 0;
            while (true)
            {
                final long frameStartNs = System.nanoTime();
                if (!isSameFile(Path.of(box.path()), fileKey))
                {
                    // The run removes its mailbox when it ends; a new run may have put another in its place.
                    spec.commandLine().getErr().println("replicore watch: mailbox " + box.path() +
                        " was removed or replaced: the service it showed has ended");
                    return Outcome.DONE;
                }

                final StatusReport report = StatusReport.take(box, monitor);
                frames++;
                if (json)
                {
                    out.println(report.toJson());
                }
                else
                {
                    if (terminal)
                    {
                        out.print(CLEAR_SCREEN);
                    }
                    else
                    {
                        out.println("---- frame " + frames + " at " + report.takenAt + " ----");
                    }
                    report.printText(out);
                }
                out.flush();

                if (report.isServiceStopped() || (count > 0 && frames >= count))
                {
                    return Outcome.DONE;
                }
                final long deadlineNs = frameStartNs + TimeUnit.MILLISECONDS.toNanos(intervalMs);
                long remainingNs;
                while ((remainingNs = deadlineNs - System.nanoTime()) > 0)
                {
                    LockSupport.parkNanos(remainingNs);
                }
            }
        }
    }

    /**
     * @return true while the path still names the file that was opened (same device and inode when the file
     *         system tells them; the mapping itself stays valid after the file is removed).
     */
    private static boolean isSameFile(final Path path, final Object openedKey)
    {
        if (!Files.exists(path))
        {
            return false;
        }
        return openedKey == null || Objects.equals(openedKey, fileKey(path));
    }

    /**
     * @return what identifies the file itself (device and inode), or null if it is gone or the file system has
     *         no such key.
     */
    private static Object fileKey(final Path path)
    {
        try
        {
            return Files.readAttributes(path, BasicFileAttributes.class).fileKey();
        }
        catch (final NoSuchFileException ex)
        {
            return null;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot read " + path + ": " + ex.getMessage(), ex);
        }
    }
}
