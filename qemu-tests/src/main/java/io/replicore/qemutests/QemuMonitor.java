package io.replicore.qemutests;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * QEMU's human monitor (HMP) of one VM, over the unix socket QEMU serves with
 * {@code -monitor unix:PATH,server,nowait}. HMP answers as a terminal would: it echoes what it is sent, redrawing
 * the line with escape sequences after every character, then prints the answer and the prompt {@code (qemu) }.
 * {@link #command} strips the escapes and the echo and returns the answer alone.
 */
public final class QemuMonitor implements AutoCloseable
{
    private static final String PROMPT = "(qemu) ";
    private static final Pattern ESCAPES = Pattern.compile("\u001b\\[[0-9;]*[A-Za-z]");
    private static final long TIMEOUT_MS = 10_000;

    private final Path socket;
    private final SocketChannel channel;
    private final Selector selector;
    private final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);

    private QemuMonitor(final Path socket, final SocketChannel channel) throws IOException
    {
        this.socket = socket;
        this.channel = channel;
        channel.configureBlocking(false);
        this.selector = Selector.open();
        channel.register(selector, SelectionKey.OP_READ);
    }

    /**
     * Connect and read the greeting up to the first prompt.
     *
     * @throws IllegalStateException naming the socket when QEMU does not serve it (not started, or gone).
     */
    public static QemuMonitor connect(final Path socket)
    {
        try
        {
            final SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            final QemuMonitor monitor = new QemuMonitor(socket, channel);
            monitor.readToPrompt();
            return monitor;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("QEMU monitor " + socket + " does not answer (" + ex.getMessage() +
                "): is the VM's QEMU running?", ex);
        }
    }

    /**
     * Send one HMP command and wait for its answer.
     *
     * @return what QEMU printed in answer, without the echo and the prompt (often empty).
     */
    public String command(final String command)
    {
        try
        {
            final ByteBuffer out = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.US_ASCII));
            while (out.hasRemaining())
            {
                channel.write(out);
            }
            final String raw = ESCAPES.matcher(readToPrompt()).replaceAll("");
            // The echo ends at the first line break; the answer follows it.
            final int echoEnd = raw.indexOf("\r\n");
            return (echoEnd < 0 ? "" : raw.substring(echoEnd + 2)).replace("\r", "").strip();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("QEMU monitor " + socket + ": '" + command + "' failed", ex);
        }
    }

    private String readToPrompt() throws IOException
    {
        final StringBuilder text = new StringBuilder();
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
        while (!text.toString().endsWith(PROMPT))
        {
            final long left = deadline - System.nanoTime();
            if (left <= 0)
            {
                throw new IOException("no prompt within " + TIMEOUT_MS + " ms; got: " + text);
            }
            selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            selector.selectedKeys().clear();
            buffer.clear();
            final int n = channel.read(buffer);
            if (n < 0)
            {
                throw new IOException("QEMU closed the monitor; got: " + text);
            }
            text.append(new String(buffer.array(), 0, n, StandardCharsets.UTF_8));
        }
        return text.substring(0, text.length() - PROMPT.length());
    }

    /** @return "running", "paused (guest-panicked)", ... from {@code info status}. */
    public String status()
    {
        return command("info status").replaceFirst("^VM status: ", "");
    }

    @Override
    public void close()
    {
        try
        {
            selector.close();
            channel.close();
        }
        catch (final IOException ignore)
        {
            // Nothing left to do with a monitor that is going away.
        }
    }
}
