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
 * A python3 line-echo server for replicated runs (the test resource {@code echo_server.py}, whose first lines say
 * how it is called), and clients that stream lines through it.
 */
final class EchoServer
{

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
        final Path script = resource("echo_server.py");
        // python3 itself, not a pyenv shim: a shim forks.
        return new String[]{"/usr/bin/python3", script.toString(), String.valueOf(port), waitWith,
            String.valueOf(serve), address};
    }

    /**
     * @return a copy of the test resource {@code name} (a python3 script) in a new temporary directory.
     */
    static Path resource(final String name) throws IOException
    {
        final Path file = Files.createTempDirectory("replicore-script").resolve(name);
        try (InputStream in = EchoServer.class.getResourceAsStream("/" + name))
        {
            if (in == null)
            {
                throw new IOException("no test resource " + name);
            }
            Files.copy(in, file);
        }
        return file;
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
