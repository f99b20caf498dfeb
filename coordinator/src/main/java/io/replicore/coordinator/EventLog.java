package io.replicore.coordinator;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * A replica's log of events (start, role, divergence, stop), one timestamped line each, in its work directory;
 * the lines that matter to the operator also go to standard error.
 */
public final class EventLog implements AutoCloseable
{
    private final PrintStream out;
    private final String prefix;

    public EventLog(final Path file, final int replicaId) throws IOException
    {
        this.prefix = "replica " + replicaId + ": ";
        this.out = file == null ? null : new PrintStream(Files.newOutputStream(file, StandardOpenOption.CREATE,
            StandardOpenOption.APPEND), true);
    }

    public void info(final String message)
    {
        if (out != null)
        {
            out.println(Instant.now() + " " + prefix + message);
        }
    }

    /**
     * An event the operator must see.
     */
    public void alert(final String message)
    {
        info(message);
        System.err.println("replicore: " + prefix + message);
    }

    @Override
    public void close()
    {
        if (out != null)
        {
            out.close();
        }
    }
}
