package io.replicore.qemutests;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A packet capture (tcpdump) of one service port in the rig's client namespace, for a failure's report: when a
 * client's connection stalls across a takeover, its segments and the new primary's answers tell which side dropped
 * what, which neither kernel's counters say afterwards. Headers only; the file lives in the rig's work directory.
 */
public final class ClientCapture implements AutoCloseable
{
    private static final long READ_TIMEOUT_MS = 30_000;
    private static final int SNAP_LENGTH = 128;

    private final Path file;
    private final Process tcpdump;

    private ClientCapture(final Path file, final Process tcpdump)
    {
        this.file = file;
        this.tcpdump = tcpdump;
    }

    /**
     * Capture TCP port {@code port} in {@code network}'s client namespace into {@code file}, packet by packet.
     */
    public static ClientCapture start(final RigNetwork network, final Path file, final int port) throws IOException
    {
        final Process tcpdump = new ProcessBuilder(network.inClient("tcpdump", "-U", "-i", "any", "-s",
            String.valueOf(SNAP_LENGTH), "-w", file.toString(), "tcp port " + port))
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return new ClientCapture(file, tcpdump);
    }

    /**
     * @return the last {@code count} segments of each of the connections from client port {@code clientPorts}, one
     * line each, or why they cannot be read.
     */
    public String lastSegments(final List<Integer> clientPorts, final int count)
    {
        final StringBuilder report = new StringBuilder();
        for (final int port : clientPorts)
        {
            final Exec.Result read = Exec.run(READ_TIMEOUT_MS, "tcpdump", "-r", file.toString(), "-nn",
                "tcp port " + port);
            report.append("--- client port ").append(port).append(", its last ").append(count)
                .append(" segments of ").append(read.stdout().lines().count()).append(" (").append(file)
                .append("):\n").append(QemuGuest.tail(read.stdout(), count)).append('\n');
            if (!read.ok())
            {
                report.append(read.stderr());
            }
        }
        return report.toString();
    }

    @Override
    public void close() throws InterruptedException
    {
        tcpdump.destroy();
        if (!tcpdump.waitFor(5, TimeUnit.SECONDS))
        {
            tcpdump.destroyForcibly();
        }
    }
}
