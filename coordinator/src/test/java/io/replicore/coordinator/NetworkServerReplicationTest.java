package io.replicore.coordinator;

import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * lighttpd from Debian, unmodified, replicated: the primary owns the listening socket and every connection, the
 * backups answer socket calls, accept and epoll_wait from the log with stand-in sockets, and every response's bytes
 * are compared. Clients are curl and ab on loopback.
 */
class NetworkServerReplicationTest
{
    private static final int PAGE_LENGTH = 32 * 1024;

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void lighttpdServesEveryRequestAndItsBackupsReplayEveryConnection(final int replicas) throws Exception
    {
        final Path site = Files.createTempDirectory("replicore-lighttpd");
        final byte[] page = new byte[PAGE_LENGTH];
        final Random random = new Random(replicas);
        for (int i = 0; i < page.length; i++)
        {
            page[i] = (byte)('a' + random.nextInt(26));
        }
        Files.write(site.resolve("page.html"), page);
        final int port = freePort();
        final Path config = site.resolve("lighttpd.conf");
        Files.writeString(config, String.join("\n",
            "server.document-root = \"" + site + "\"",
            "server.bind = \"127.0.0.1\"",
            "server.port = " + port,
            "server.errorlog = \"" + site.resolve("error.log") + "\"",
            "server.pid-file = \"\"",
            "server.network-backend = \"writev\"",
            ""));

        final ReplicatedRun.Running running = ReplicatedRun.start(replicas, List.of("--keep-mailbox"), null,
            "/usr/sbin/lighttpd", "-D", "-f", config.toString());
        try
        {
            awaitListening(running, port);
            for (int i = 0; i < 10; i++)
            {
                final Path body = site.resolve("got-" + i);
                final Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "10", "-o", body.toString(),
                    "http://127.0.0.1:" + port + "/page.html").redirectErrorStream(true).start();
                assertEquals(0, curl.waitFor(), new String(curl.getInputStream().readAllBytes()));
                assertArrayEquals(page, Files.readAllBytes(body), "response " + i);
            }
            final Process ab = new ProcessBuilder("ab", "-n", "400", "-c", "20", "-s", "20",
                "http://127.0.0.1:" + port + "/page.html").redirectErrorStream(true).start();
            final String report = new String(ab.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(ab.waitFor(60, TimeUnit.SECONDS) && ab.exitValue() == 0, report);
            assertTrue(report.contains("Complete requests:      400"), report);
            assertTrue(report.contains("Failed requests:        0"), report);
            assertTrue(!report.contains("Non-2xx"), report);

            awaitBackupsCaughtUp(running, replicas);
        }
        finally
        {
            running.process().destroy();
            running.process().waitFor(30, TimeUnit.SECONDS);
            Files.deleteIfExists(Path.of(running.mailbox()));
        }
    }

    private static int freePort() throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0))
        {
            return socket.getLocalPort();
        }
    }

    private static void awaitListening(final ReplicatedRun.Running running, final int port) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true)
        {
            try (Socket socket = new Socket())
            {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            }
            catch (final IOException ex)
            {
                if (!running.process().isAlive() || System.nanoTime() > deadline)
                {
                    throw new AssertionError("lighttpd is not listening on " + port + ": " +
                        Files.readString(running.workDir().resolve("run.err")), ex);
                }
                Thread.sleep(50);
            }
        }
    }

    /**
     * Every backup is live, has not diverged and has replayed the primary's log up to its end.
     */
    private static void awaitBackupsCaughtUp(final ReplicatedRun.Running running, final int replicas)
        throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (Mailbox box = Mailbox.open(new MailboxContext().path(running.mailbox())))
        {
            while (true)
            {
                final long primary = box.slot(box.control().primaryId()).logSequence();
                boolean caughtUp = true;
                for (int id = 0; id < replicas; id++)
                {
                    final ReplicaSlot slot = box.slot(id);
                    if (id == box.control().primaryId())
                    {
                        assertEquals(ReplicaState.PRIMARY, slot.state());
                        continue;
                    }
                    assertEquals(ReplicaState.BACKUP, slot.state(), "replica " + id + ": " + slot.lastErrorMessage());
                    assertEquals(0, slot.divergenceCount());
                    caughtUp &= slot.logSequence() == primary;
                }
                if (caughtUp)
                {
                    return;
                }
                assertTrue(System.nanoTime() < deadline, "the backups did not catch up with the primary");
                Thread.sleep(20);
            }
        }
    }
}
