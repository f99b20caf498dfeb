package io.replicore.coordinator;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Programs of several threads and processes, replicated in parallel and serial mode: each thread's calls are
 * answered in the primary's log order, and threads and processes are created one at a time in that order so that
 * their ids inside each replica's pid namespace agree.
 */
class ThreadsAndProcessesReplicationTest
{
    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void everyThreadGetsThePrimarysClockAndRandomBytes(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, testProgram("nd_threads").toString()).assertClean();
        assertEquals(4, run.lines().size(), run.stdout);
        for (int thread = 0; thread < 4; thread++)
        {
            assertEquals(16, run.value("thread" + thread).length(), run.stdout);
        }
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void aForkedChildRunsInEveryReplicaAndItsParentReapsIt(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, testProgram("nd_fork").toString()).assertClean();
        assertEquals("hello", run.value("child"));
        assertEquals("0", run.value("child_status"));
    }

    @Test
    void aDataRaceThatMakesReplicasDifferIsReportedAsADivergence() throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(2, testProgram("nd_race").toString());
        assertEquals(0, run.exitCode, run.stderr);
        assertTrue(run.stdout.startsWith("counter="), run.stdout);
        final String said = "stdout: " + run.stdout + "\nstderr: " + run.stderr + "\nbackup's events:\n" +
            run.events(1);
        assertFalse(run.backupReplayedToTheEnd(1), said);
        assertTrue(run.events(1).contains("differ from the primary's"), said); // its output's bytes, or its length
        assertTrue(run.stderr.contains("replica 1 diverged"), run.stderr);
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void inSerialModeADataRaceReplaysExactly(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of("--scheduling", "serial"), null,
            testProgram("nd_race").toString()).assertClean();
        assertEquals("80000000 of 80000000", run.value("counter"), "one thread at a time: no increment is lost");
    }

    @Test
    void inSerialModeEveryThreadGetsThePrimarysInputs() throws Exception
    {
        ReplicatedRun.run(2, List.of("--scheduling", "serial"), null, testProgram("nd_threads").toString())
            .assertClean();
    }

    /**
     * A new thread's first stretch (to its first intercepted call) and its parent's run one after the other in every
     * replica (ThreadBirths): nd_births's threads each map an arena while the parent maps the next one's stack, and
     * print where each landed. Unordered, a backup laid its memory out differently in about one run in four.
     */
    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void inParallelModeThreadsBornInALoopMapTheirMemoryInThePrimarysOrder(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of(), null, testProgram("nd_births").toString())
            .assertClean();
        assertTrue(run.stdout.startsWith("thread 0: stack +0 MiB"), run.stdout);
        assertEquals(8, run.stdout.lines().count(), run.stdout);
    }

    /**
     * memcached -t 4 under load, its primary killed, in serial mode: in parallel mode its workers' first connections
     * map their malloc arenas side by side, which lays a backup's memory out differently now and then (9).
     */
    @Test
    void memcachedWithFourThreadsSurvivesItsPrimaryKilledUnderLoad() throws Exception
    {
        final int port = ReplicatedRun.freePort();
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--scheduling", "serial",
            "--keep-mailbox"), null, "/usr/bin/memcached", "-t", "4", "-p", String.valueOf(port), "-U", "0", "-l",
            "127.0.0.1", "-u", "nobody");
        try
        {
            running.awaitListening(port);
            final Process client = new ProcessBuilder("/usr/bin/python3", memcachedClient(), "127.0.0.1",
                String.valueOf(port), "8", "3000").redirectErrorStream(true).start();
            Thread.sleep(1500);
            assertEquals(0, ReplicatedRun.cli("kill-replica", "0", "--mailbox", running.mailbox()));
            assertTrue(client.waitFor(120, TimeUnit.SECONDS), "the clients finished");
            final String report = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, client.exitValue(), report);
            assertTrue(report.startsWith("ops=24000 errors=0"), report);
            assertTrue(running.events(1).contains("took over as primary of epoch 2"), running.events(1));
            assertFalse(running.events(1).contains("diverged"), running.events(1));
        }
        finally
        {
            running.stop();
        }
    }

    /**
     * nginx's master hands each worker its channel to the others over socketpairs (SCM_RIGHTS); the workers accept
     * on the listening socket they inherited and hold their connections in their own descriptor tables. Each
     * worker's sockets are taken over at its first call to the new primary.
     */
    @ParameterizedTest(name = "{0} mode")
    @ValueSource(strings = {"parallel", "serial"})
    void nginxWithAMasterAndTwoWorkersSurvivesItsPrimaryKilledUnderLoad(final String mode) throws Exception
    {
        final int port = ReplicatedRun.freePort();
        final Path site = nginxSite(port);
        final byte[] page = Files.readAllBytes(site.resolve("html/page.bin"));
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--scheduling", mode, "--state-dir",
            site.toString(), "--keep-mailbox"), null, "/usr/sbin/nginx", "-p", site.toString(), "-c",
            site.resolve("nginx.conf").toString());
        try
        {
            running.awaitListening(port);
            final Process ab = new ProcessBuilder("/usr/bin/ab", "-n", "6000", "-c", "20",
                "http://127.0.0.1:" + port + "/page.bin").redirectErrorStream(true).start();
            Thread.sleep(2000);
            assertEquals(0, ReplicatedRun.cli("kill-replica", "0", "--mailbox", running.mailbox()));
            assertTrue(ab.waitFor(120, TimeUnit.SECONDS), "ab finished");
            final String report = new String(ab.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, ab.exitValue(), report);
            assertTrue(report.matches("(?s).*Complete requests:\\s+6000\n.*"), report);
            assertTrue(report.matches("(?s).*Failed requests:\\s+0\n.*"), report);
            assertFalse(report.contains("Non-2xx"), report);
            final HttpResponse<byte[]> after = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/page.bin")).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
            assertArrayEquals(page, after.body(), "the new primary serves the page byte for byte");
            final String events = running.events(1);
            assertTrue(events.contains("took over as primary of epoch 2"), events);
            assertFalse(events.contains("diverged"), events);
        }
        finally
        {
            running.stop();
        }
    }

    /**
     * nginx's USR1: the master reopens its logs and passes the command to each worker over its channel (a
     * socketpair); the signal reaches the master asleep in rt_sigsuspend at the same point in every replica, and the
     * backup stays in step.
     */
    @Test
    void nginxReopensItsLogsOnUsr1InEveryReplica() throws Exception
    {
        final int port = ReplicatedRun.freePort();
        final Path site = nginxSite(port);
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--state-dir", site.toString()), null,
            "/usr/sbin/nginx", "-p", site.toString(), "-c", site.resolve("nginx.conf").toString());
        try
        {
            running.awaitListening(port);
            assertServesThePage(site, port);
            assertEquals(0, ReplicatedRun.cli("signal", "USR1", "--mailbox", running.mailbox()));
            assertServesThePage(site, port);
            running.awaitBackupsCaughtUp();
        }
        finally
        {
            running.stop();
        }
    }

    /**
     * nginx's HUP: the master reads its configuration again, starts two new workers and tells the old ones to quit
     * over their channels. The old workers' ends reach the master (SIGCHLD, then its waitpid) at the same point in
     * every replica (ChildEnds), and the backup stays in step through two reloads and takes over after them.
     */
    @Test
    void nginxReloadsOnHupInEveryReplicaAndItsBackupTakesOverAfterwards() throws Exception
    {
        final int port = ReplicatedRun.freePort();
        final Path site = nginxSite(port);
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--state-dir", site.toString(),
            "--keep-mailbox"), null, "/usr/sbin/nginx", "-p", site.toString(), "-c",
            site.resolve("nginx.conf").toString());
        try
        {
            running.awaitListening(port);
            for (int reload = 0; reload < 2; reload++)
            {
                assertServesThePage(site, port);
                assertEquals(0, ReplicatedRun.cli("signal", "HUP", "--mailbox", running.mailbox()));
                Thread.sleep(1500); // the old workers quit once their connections are done
            }
            assertServesThePage(site, port);
            running.awaitBackupsCaughtUp();
            assertEquals(0, ReplicatedRun.cli("kill-replica", "0", "--mailbox", running.mailbox()));
            assertServesThePage(site, port);
            final String events = running.events(1);
            assertTrue(events.contains("took over as primary of epoch 2"), events);
            assertFalse(events.contains("diverged"), events);
        }
        finally
        {
            running.stop();
        }
    }

    /**
     * nginx on {@code port} serves the site's page byte for byte, on a connection of its own.
     */
    private static void assertServesThePage(final Path site, final int port) throws Exception
    {
        final HttpResponse<byte[]> response = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
            .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/page.bin"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertArrayEquals(Files.readAllBytes(site.resolve("html/page.bin")), response.body());
    }

    /**
     * A state directory for nginx with a master and two workers on {@code port}, serving a 32 KiB random page.
     */
    private static Path nginxSite(final int port) throws Exception
    {
        // nginx's workers run as nobody: the site must be readable by others.
        final Path site = Files.createTempDirectory("replicore-nginx",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Files.createDirectories(site.resolve("html"));
        Files.createDirectories(site.resolve("logs"));
        Files.createDirectories(site.resolve("tmp"));
        final byte[] page = new byte[32768];
        ThreadLocalRandom.current().nextBytes(page);
        Files.write(site.resolve("html/page.bin"), page);
        Files.writeString(site.resolve("nginx.conf"), String.join("\n",
            "daemon off;", "master_process on;", "worker_processes 2;", "pid " + site.resolve("nginx.pid") + ";",
            "error_log " + site.resolve("logs/error.log") + " warn;", "events { worker_connections 256; }",
            "http {", "  access_log off;",
            "  client_body_temp_path " + site.resolve("tmp/body") + "; proxy_temp_path " + site.resolve("tmp/proxy") +
            "; fastcgi_temp_path " + site.resolve("tmp/fastcgi") + ";",
            "  uwsgi_temp_path " + site.resolve("tmp/uwsgi") + "; scgi_temp_path " + site.resolve("tmp/scgi") + ";",
            "  server { listen 127.0.0.1:" + port + "; root " + site.resolve("html") + "; }", "}", ""));
        return site;
    }

    @Test
    void pythonsThreadingHttpServerServesTwentyConcurrentClientsInSerialMode() throws Exception
    {
        final Path site = Files.createTempDirectory("replicore-site");
        final List<byte[]> files = new ArrayList<>();
        for (int i = 0; i < 20; i++)
        {
            final byte[] bytes = new byte[3000 * (i + 1)];
            ThreadLocalRandom.current().nextBytes(bytes);
            Files.write(site.resolve("f" + i), bytes);
            files.add(bytes);
        }
        final int port = ReplicatedRun.freePort();
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--scheduling", "serial"), null,
            "/usr/bin/python3", "-m", "http.server", String.valueOf(port), "--bind", "127.0.0.1", "--directory",
            site.toString());
        try
        {
            running.awaitListening(port);
            final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            final List<CompletableFuture<HttpResponse<byte[]>>> responses = new ArrayList<>();
            for (int i = 0; i < 20; i++)
            {
                responses.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/f" + i))
                    .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray()));
            }
            for (int i = 0; i < 20; i++)
            {
                final HttpResponse<byte[]> response = responses.get(i).get(60, TimeUnit.SECONDS);
                assertEquals(200, response.statusCode());
                assertArrayEquals(files.get(i), response.body(), "file " + i);
            }
        }
        finally
        {
            running.stop();
        }
    }

    private static String memcachedClient() throws Exception
    {
        return Path.of(ThreadsAndProcessesReplicationTest.class.getResource("/memcached_client.py").toURI()).toString();
    }
}
