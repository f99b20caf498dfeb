package io.replicore.coordinator;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code replicore signal HUP} delivers the signal at one logical point in every replica: the primary sends it to
 * a thread stopped in an intercepted call (or asleep in pause) and logs where, and every backup sends it to its
 * own thread at the same point. nd_signal prints where its handler ran; a backup whose handler ran elsewhere
 * would print other bytes, which the output check reports.
 */
class SignalReplicationTest
{
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aSignalLandsAtTheSameCallInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = signalled(replicas, mode, "loop");
        assertTrue(run.stdout.matches("ready\nhandler ran\nhup after \\d+ calls\n"), run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aSignalEndsPauseInEveryReplica(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = signalled(replicas, mode, "pause");
        assertEquals("ready\nhandler ran\npause returned: Interrupted system call, 1 hup\n", run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aSignalEndsAnEpollWaitWithEintrEvenUnderSaRestart(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = signalled(replicas, mode, "wait");
        assertEquals("ready\nhandler ran\nepoll_wait returned -1: Interrupted system call, 1 hup\n", run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel"})
    void aBlockedSignalIsTakenWhereTheProgramUnblocksIt(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = signalled(replicas, mode, "blocked");
        assertTrue(run.stdout.matches("ready\nunblocking after \\d+ calls, 0 hup so far\nhandler ran\n" +
            "unblocked, 1 hup\n"), run.stdout);
    }

    /**
     * A signal one of the application's processes sends another (kill) is delivered like the operator's: the
     * child, asleep in sigsuspend, takes it at the same point in every replica, instead of wherever the kernel would
     * have caught it.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aSignalBetweenTheApplicationsProcessesLandsAtTheSamePointInEveryReplica(final int replicas,
        final String mode) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of("--scheduling", mode), null,
            testProgram("nd_signal").toString(), "child").assertClean();
        assertEquals("handler ran\nchild: sigsuspend returned: Interrupted system call, 1 hup\n" +
            "parent: child exited with 0\n", run.stdout);
    }

    /**
     * lighttpd, unmodified: HUP cycles its logs and USR1 restarts it gracefully inside the same process. Each runs
     * its handler at the same point in every replica, so the backup stays in step through both and the service
     * goes on.
     */
    @Test
    void lighttpdCyclesItsLogsAndRestartsGracefullyInEveryReplica() throws Exception
    {
        final Path site = Files.createTempDirectory("replicore-lighttpd",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        final byte[] page = new byte[32768];
        ThreadLocalRandom.current().nextBytes(page);
        Files.write(site.resolve("page.bin"), page);
        final int port = ReplicatedRun.freePort();
        Files.writeString(site.resolve("lighttpd.conf"), String.join("\n",
            "server.document-root = \"" + site + "\"", "server.bind = \"127.0.0.1\"", "server.port = " + port,
            "server.errorlog = \"" + site.resolve("error.log") + "\"", "server.pid-file = \"\"", ""));
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--state-dir", site.toString()), null,
            "/usr/sbin/lighttpd", "-D", "-f", site.resolve("lighttpd.conf").toString());
        try
        {
            running.awaitListening(port);
            final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            final URI url = URI.create("http://127.0.0.1:" + port + "/page.bin");
            assertArrayEquals(page, fetch(http, url));
            for (final String signal : List.of("HUP", "USR1"))
            {
                assertEquals(0, ReplicatedRun.cli("signal", signal, "--mailbox", running.mailbox()), signal);
                assertArrayEquals(page, fetch(http, url), "served after " + signal);
            }
            running.awaitBackupsCaughtUp();
        }
        finally
        {
            running.stop();
        }
    }

    /**
     * GET {@code url}, trying again for a few seconds while a graceful restart has the server away.
     */
    private static byte[] fetch(final HttpClient http, final URI url) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true)
        {
            try
            {
                final HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(url)
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(200, response.statusCode());
                return response.body();
            }
            catch (final IOException ex)
            {
                if (System.nanoTime() > deadline)
                {
                    throw ex;
                }
                Thread.sleep(100);
            }
        }
    }

    /**
     * Run nd_signal in {@code mode}, send it HUP once it is ready, and check that every backup replayed it to the
     * end, handler included.
     */
    private static ReplicatedRun signalled(final int replicas, final String scheduling, final String mode)
        throws Exception
    {
        final ReplicatedRun.Running running = ReplicatedRun.start(replicas, List.of("--scheduling", scheduling), null,
            testProgram("nd_signal").toString(), mode);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.readString(running.stdoutFile()).contains("ready"))
        {
            assertTrue(running.process().isAlive() && System.nanoTime() < deadline, "nd_signal did not get ready");
            Thread.sleep(20);
        }
        assertEquals(0, ReplicatedRun.cli("signal", "HUP", "--mailbox", running.mailbox()));
        return running.finish().assertClean();
    }
}
