package io.replicore.coordinator;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scatter-gather socket calls under replication, with a real python3 server: recvmsg and sendmsg (several
 * iovecs out, the peer's address asked for in) on one connection, readv and writev on the next. Each client gets
 * back exactly what it sent, and the backups replay every call without a divergence.
 */
class MessageCallsReplicationTest
{
    private static final int CLIENTS = 6;

    private static final String ECHO_SERVER = String.join("\n",
        "import os, socket, sys",
        "server = socket.socket()",
        "server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        "server.bind(('127.0.0.1', int(sys.argv[1])))",
        "server.listen(16)",
        "for i in range(int(sys.argv[2])):",
        "    conn, _ = server.accept()",
        "    while True:",
        "        if i % 2 == 0:",
        "            data, ancillary, flags, address = conn.recvmsg(3000)",
        "            if data:",
        "                conn.sendmsg([data[:1], data[1:]])",
        "        else:",
        "            head, rest = bytearray(5), bytearray(2000)",
        "            n = os.readv(conn.fileno(), [head, rest])",
        "            data = (bytes(head) + bytes(rest))[:n]",
        "            if data:",
        "                os.writev(conn.fileno(), [data[:3], data[3:]])",
        "        if not data:",
        "            break",
        "    conn.close()",
        "    print('connection', i, 'done', flush=True)",
        "");

    @Test
    void recvmsgSendmsgReadvAndWritevOnConnectionsReplayOnEveryBackup() throws Exception
    {
        final Path dir = Files.createTempDirectory("replicore-msg");
        final Path script = dir.resolve("echo.py");
        Files.writeString(script, ECHO_SERVER);
        final int port = ReplicatedRun.freePort();
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--keep-mailbox"), null,
            "/usr/bin/python3", script.toString(), String.valueOf(port), String.valueOf(CLIENTS + 1));
        try
        {
            running.awaitListening(port); // connection 0: it connects and closes
            for (int c = 0; c < CLIENTS; c++)
            {
                final StringBuilder text = new StringBuilder();
                for (int line = 0; line < 300; line++)
                {
                    text.append("client ").append(c).append(" line ").append(line).append('\n');
                }
                assertEquals(text.toString(), echo(port, text.toString(), running), "client " + c);
            }
            final ReplicatedRun finished = running.finish();
            assertEquals(0, finished.exitCode, finished.stderr);
            assertTrue(finished.events(1).contains("replayed to the end: application exited with status 0"),
                finished.events(1));
            for (int c = 0; c <= CLIENTS; c++)
            {
                assertEquals(1, finished.stdout.split("connection " + c + " done\n", -1).length - 1,
                    finished.stdout);
            }
        }
        finally
        {
            running.stop();
        }
    }

    /**
     * Send {@code text} in pieces while reading the echo, then close the sending side and read to the end. Once the
     * first piece is back, both replicas count the one connection open.
     */
    private static String echo(final int port, final String text, final ReplicatedRun.Running running)
        throws Exception
    {
        try (Socket socket = new Socket("127.0.0.1", port))
        {
            socket.setSoTimeout(30_000);
            final byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
            final InputStream in = socket.getInputStream();
            final ByteArrayOutputStream received = new ByteArrayOutputStream();
            final byte[] buffer = new byte[4096];
            for (int offset = 0; offset < bytes.length; offset += 1000)
            {
                final int length = Math.min(1000, bytes.length - offset);
                socket.getOutputStream().write(bytes, offset, length);
                while (received.size() < offset + length)
                {
                    final int n = in.read(buffer);
                    if (n < 0)
                    {
                        break;
                    }
                    received.write(buffer, 0, n);
                }
                if (offset == 0)
                {
                    running.awaitConnections(1);
                }
            }
            socket.shutdownOutput();
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer))
            {
                received.write(buffer, 0, n);
            }
            return received.toString(StandardCharsets.US_ASCII);
        }
    }
}
