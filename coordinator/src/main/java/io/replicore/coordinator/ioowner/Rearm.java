package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.replay.ReplicaStop;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The conversation with {@code replicore-rearm} around the installation of the real sockets: started while the
 * stand-ins are still in place, it reads their epoll registrations and descriptor flags from /proc (one native
 * pass, where the coordinator would pay for a Java read per descriptor) and reports which are close-on-exec; once
 * the coordinator has put the real sockets in place and says "go", it registers them again at the application's
 * numbers.
 */
final class Rearm implements AutoCloseable
{
    private static final String CLOSE_ON_EXEC = "cloexec";
    private static final long FINISH_TIMEOUT_MS = 10_000;

    private final Process process;
    private final BufferedReader output;
    private final BitSet closeOnExec = new BitSet();
    private final String command;

    private Rearm(final Process process, final String command)
    {
        this.process = process;
        this.command = command;
        this.output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /**
     * Start the helper on the application's descriptors {@code held} and wait until it has read them.
     */
    static Rearm start(final Path helper, final int appPid, final BitSet held) throws ReplicaStop
    {
        final List<String> command = new ArrayList<>(List.of(helper.toString(), String.valueOf(appPid)));
        held.stream().forEach(fd -> command.add(String.valueOf(fd)));
        final Rearm rearm;
        try
        {
            rearm = new Rearm(new ProcessBuilder(command).redirectErrorStream(true).start(), helper.toString());
        }
        catch (final IOException ex)
        {
            throw new ReplicaStop(-1, "cannot run " + helper + ": " + ex.getMessage());
        }
        rearm.readCloseOnExec();
        return rearm;
    }

    private void readCloseOnExec() throws ReplicaStop
    {
        final String line = readLine();
        final String[] words = line == null ? new String[0] : line.trim().split(" ");
        if (words.length == 0 || !CLOSE_ON_EXEC.equals(words[0]))
        {
            throw failed(line);
        }
        for (int i = 1; i < words.length; i++)
        {
            closeOnExec.set(Integer.parseInt(words[i]));
        }
    }

    boolean closeOnExec(final int fd)
    {
        return closeOnExec.get(fd);
    }

    /**
     * The real sockets are in place: let the helper register them.
     *
     * @return what was done, for the event log.
     */
    String finish() throws ReplicaStop
    {
        try
        {
            final OutputStream input = process.getOutputStream();
            input.write("go\n".getBytes(StandardCharsets.US_ASCII));
            input.close();
            final String rest = readRest();
            if (!process.waitFor(FINISH_TIMEOUT_MS, TimeUnit.MILLISECONDS) || process.exitValue() != 0)
            {
                throw failed(rest);
            }
            return "epoll registrations made again by " + command;
        }
        catch (final IOException ex)
        {
            throw failed(ex.getMessage());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new ReplicaStop(-1, "interrupted while registering the taken-over sockets");
        }
    }

    private String readLine() throws ReplicaStop
    {
        try
        {
            return output.readLine();
        }
        catch (final IOException ex)
        {
            throw failed(ex.getMessage());
        }
    }

    private String readRest()
    {
        final StringBuilder rest = new StringBuilder();
        try
        {
            for (String line = output.readLine(); line != null; line = output.readLine())
            {
                rest.append(line).append('\n');
            }
        }
        catch (final IOException ex)
        {
            rest.append(ex.getMessage());
        }
        return rest.toString().trim();
    }

    private ReplicaStop failed(final String said)
    {
        return new ReplicaStop(-1, "cannot register the taken-over sockets in the application's epoll sets: " +
            command + " said: " + (said == null || said.isBlank() ? "nothing" : said.trim() + " " + readRest()));
    }

    /**
     * Ends the helper if the takeover failed before it finished.
     */
    @Override
    public void close()
    {
        if (process.isAlive())
        {
            process.destroyForcibly();
        }
    }
}
