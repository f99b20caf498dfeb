package io.replicore.coordinator;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A python3 line-echo server for replicated runs, and clients that stream lines through it.
 * <p>
 * {@code echo.py PORT WAIT SERVE}: WAIT is a class of {@code selectors} (EpollSelector, PollSelector,
 * SelectSelector) or {@code select} for {@code select.select} itself with a 50 ms timeout. The server exits after
 * SERVE connections that sent something have closed (0: never) and prints {@code served=N} and {@code timeouts=T},
 * T being the waits that ended with nothing ready.
 */
final class EchoServer
{
    private static final String SCRIPT = String.join("\n",
        "import select, selectors, socket, sys",
        "port, wait_with, serve = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])",
        "address = sys.argv[4] if len(sys.argv) > 4 else '127.0.0.1'",
        "server = socket.socket()",
        "server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        "server.bind((address, port))",
        "server.listen(128)",
        "server.setblocking(False)",
        "if wait_with == 'select':",
        "    watched = [server]",
        "    wait = lambda: select.select(watched, [], [], 0.05)[0]",
        "    watch, forget = watched.append, watched.remove",
        "else:",
        "    selector = getattr(selectors, wait_with)()",
        "    wait = lambda: [key.fileobj for key, _ in selector.select()]",
        "    watch = lambda sock: selector.register(sock, selectors.EVENT_READ)",
        "    forget = selector.unregister",
        "    watch(server)",
        "talked = set()",
        "served = timeouts = 0",
        "while serve == 0 or served < serve:",
        "    ready = wait()",
        "    timeouts += not ready",
        "    for sock in ready:",
        "        if sock is server:",
        "            conn, _ = server.accept()",
        "            conn.setblocking(False)",
        "            watch(conn)",
        "            continue",
        "        data = sock.recv(65536)",
        "        if data:",
        "            talked.add(sock)",
        "            sock.setblocking(True)",
        "            sock.sendall(data)",
        "            sock.setblocking(False)",
        "        else:",
        "            served += sock in talked",
        "            forget(sock)",
        "            sock.close()",
        "print('served=%d\\ntimeouts=%d' % (served, timeouts))",
        "");

    private EchoServer()
    {
    }

    /**
     * @return the python3 command line of a server on {@code port} waiting with {@code waitWith}, which exits after
     * serving {@code serve} clients (0: never).
     */
    static String[] command(final int port, final String waitWith, final int serve) throws IOException
    {
        return command("127.0.0.1", port, waitWith, serve);
    }

    /**
     * The same on {@code address}.
     */
    static String[] command(final String address, final int port, final String waitWith, final int serve)
        throws IOException
    {
        final Path script = Files.createTempDirectory("replicore-echo").resolve("echo.py");
        Files.writeString(script, SCRIPT);
        // python3 itself, not a pyenv shim: a shim forks.
        return new String[]{"/usr/bin/python3", script.toString(), String.valueOf(port), waitWith,
            String.valueOf(serve), address};
    }

    /**
     * Clients, each on its own connection, writing numbered lines a few milliseconds apart while reading the echo.
     */
    static final class Clients implements AutoCloseable
    {
        private final ExecutorService threads;
        private final List<Socket> sockets = new ArrayList<>();
        private final List<String> sent = new ArrayList<>();
        private final List<Future<String>> echoes = new ArrayList<>();

        Clients(final int port, final int clients, final int lines) throws IOException
        {
            threads = Executors.newFixedThreadPool(clients * 2);
            for (int c = 0; c < clients; c++)
            {
                final Socket socket = new Socket("127.0.0.1", port);
                socket.setSoTimeout(60_000);
                sockets.add(socket);
                final StringBuilder text = new StringBuilder();
                for (int i = 0; i < lines; i++)
                {
                    text.append("client ").append(c).append(" line ").append(i).append(" of ").append(lines)
                        .append('\n');
                }
                sent.add(text.toString());
                final int expected = text.length();
                echoes.add(threads.submit(() -> readExactly(socket.getInputStream(), expected)));
                threads.submit(() -> writeSlowly(socket.getOutputStream(), text.toString()));
            }
        }

        /**
         * Every client got back exactly what it sent, in order, on its connection.
         */
        void assertEachGotBackWhatItSent(final int timeoutSeconds) throws Exception
        {
            for (int c = 0; c < sent.size(); c++)
            {
                assertEquals(sent.get(c), echoes.get(c).get(timeoutSeconds, TimeUnit.SECONDS), "client " + c);
            }
        }

        /**
         * Close every connection: the server sees each client leave.
         */
        @Override
        public void close() throws IOException
        {
            threads.shutdownNow();
            for (final Socket socket : sockets)
            {
                socket.close();
            }
        }

        private static String readExactly(final InputStream in, final int length) throws IOException
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
         * A line at a time, a few milliseconds apart, so that the stream spans many waits (and a failover).
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
}
