package io.replicore.coordinator;

import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.replicore.coordinator.ReplicatedRun.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * In the fault campaign ({@code bin/test --faults}): a kill under load. Many clients hold connections to a replicated line-echo server (python3 with an epoll selector) and stream
 * lines through it while its primary is killed: every client gets back exactly what it sent, in order, on the
 * same connection.
 */
class LongLivedConnectionsFailoverTest
{
    private static final int CLIENTS = 12;
    private static final int LINES = 400;

    private static final String ECHO_SERVER = String.join("\n",
        "import selectors, socket, sys",
        "sel = selectors.EpollSelector()",
        "server = socket.socket()",
        "server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        "server.bind(('127.0.0.1', int(sys.argv[1])))",
        "server.listen(128)",
        "server.setblocking(False)",
        "sel.register(server, selectors.EVENT_READ)",
        "while True:",
        "    for key, _ in sel.select():",
        "        if key.fileobj is server:",
        "            conn, _ = server.accept()",
        "            conn.setblocking(False)",
        "            sel.register(conn, selectors.EVENT_READ)",
        "        else:",
        "            data = key.fileobj.recv(65536)",
        "            if data:",
        "                key.fileobj.setblocking(True)",
        "                key.fileobj.sendall(data)",
        "                key.fileobj.setblocking(False)",
        "            else:",
        "                sel.unregister(key.fileobj)",
        "                key.fileobj.close()",
        "");

    @Tag("faults")
    @Test
    void everyClientGetsBackExactlyWhatItSentAcrossTheKillOfThePrimary() throws Exception
    {
        final Path dir = Files.createTempDirectory("replicore-echo");
        final Path script = dir.resolve("echo.py");
        Files.writeString(script, ECHO_SERVER);
        final int port;
        try (ServerSocket probe = new ServerSocket(0))
        {
            port = probe.getLocalPort();
        }
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--keep-mailbox"), null,
            "/usr/bin/python3", script.toString(), String.valueOf(port));
        final ExecutorService clients = Executors.newFixedThreadPool(CLIENTS * 2);
        try
        {
            running.awaitListening(port);
            final List<Future<String>> echoes = new ArrayList<>();
            final List<String> sent = new ArrayList<>();
            final List<Socket> sockets = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++)
            {
                final Socket socket = new Socket("127.0.0.1", port);
                socket.setSoTimeout(60_000);
                sockets.add(socket);
                final StringBuilder lines = new StringBuilder();
                for (int i = 0; i < LINES; i++)
                {
                    lines.append("client ").append(c).append(" line ").append(i).append(" of ").append(LINES)
                        .append('\n');
                }
                final String text = lines.toString();
                sent.add(text);
                final int expected = text.getBytes(StandardCharsets.US_ASCII).length;
                echoes.add(clients.submit(() -> readExactly(socket.getInputStream(), expected)));
                clients.submit(() -> writeSlowly(socket.getOutputStream(), text));
            }
            running.awaitConnections(CLIENTS);
            Thread.sleep(800);
            assertEquals(0, cli("kill-replica", "0", "--mailbox", running.mailbox()));
            for (int c = 0; c < CLIENTS; c++)
            {
                assertEquals(sent.get(c), echoes.get(c).get(90, TimeUnit.SECONDS), "client " + c);
            }
            running.awaitConnections(CLIENTS); // the new primary owns them all
            for (final Socket socket : sockets)
            {
                socket.close();
            }
            try (Mailbox box = Mailbox.open(new MailboxContext().path(running.mailbox())))
            {
                assertEquals(2, box.control().epoch(), "one failover: " +
                    Files.readString(running.workDir().resolve("run.err")) + "replica 1: " +
                    Files.readString(running.workDir().resolve("replica-1").resolve("events.log")));
            }
            assertTrue(running.process().isAlive(), "the service still runs");
        }
        finally
        {
            clients.shutdownNow();
            running.process().destroy();
            running.process().waitFor(30, TimeUnit.SECONDS);
            Files.deleteIfExists(Path.of(running.mailbox()));
        }
    }

    private static String readExactly(final InputStream in, final int length) throws Exception
    {
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final byte[] buffer = new byte[4096];
        while (received.size() < length)
        {
            final int n = in.read(buffer);
            if (n < 0)
            {
                break;
            }
            received.write(buffer, 0, n);
        }
        return received.toString(StandardCharsets.US_ASCII);
    }

    /**
     * A line at a time, a few milliseconds apart, so the stream spans the failover.
     */
    private static Void writeSlowly(final OutputStream out, final String text) throws Exception
    {
        for (final String line : text.split("(?<=\n)"))
        {
            out.write(line.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread.sleep(5);
        }
        return null;
    }

}
