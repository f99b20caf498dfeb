package io.replicore.qemutests;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Short host commands (ip, cpio, readelf) run to completion, with their output kept for the error message.
 */
public final class Exec
{
    public record Result(List<String> command, int exitCode, String stdout, String stderr)
    {
        public boolean ok()
        {
            return exitCode == 0;
        }

        /** @throws IllegalStateException naming the command, its exit code and what it printed. */
        public Result orThrow()
        {
            if (exitCode != 0)
            {
                throw new IllegalStateException(String.join(" ", command) + " failed (exit " + exitCode + "): " +
                    (stderr.isBlank() ? stdout : stderr).trim());
            }
            return this;
        }
    }

    private Exec()
    {
    }

    public static Result run(final long timeoutMs, final String... command)
    {
        return run(timeoutMs, List.of(command));
    }

    public static Result run(final long timeoutMs, final List<String> command)
    {
        final Process process;
        try
        {
            process = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        }
        catch (final IOException ex)
        {
            return new Result(command, 127, "", "cannot start: " + ex.getMessage());
        }
        final CompletableFuture<String> out = drain(process, false);
        final CompletableFuture<String> err = drain(process, true);
        try
        {
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly().waitFor();
                return new Result(command, 124, out.join(), "timed out after " + timeoutMs + " ms; " + err.join());
            }
            return new Result(command, process.exitValue(), out.join(), err.join());
        }
        catch (final InterruptedException ex)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + String.join(" ", command), ex);
        }
    }

    private static CompletableFuture<String> drain(final Process process, final boolean stderr)
    {
        return CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return new String((stderr ? process.getErrorStream() : process.getInputStream()).readAllBytes(),
                    StandardCharsets.UTF_8);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        });
    }

    /** SIGKILL a process this rig started (by its pid, never by name) and wait for it to be gone. */
    static void killAndWait(final Process process)
    {
        if (process == null || !process.isAlive())
        {
            return;
        }
        process.destroyForcibly();
        try
        {
            process.waitFor(10, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** @return the executable {@code name} resolves to on PATH, or null. */
    static Path which(final String name)
    {
        if (name.contains("/"))
        {
            return Files.isExecutable(Path.of(name)) ? Path.of(name) : null;
        }
        for (final String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":"))
        {
            final Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
