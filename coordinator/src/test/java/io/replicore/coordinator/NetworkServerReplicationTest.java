package io.replicore.coordinator;

import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.replicore.coordinator.ReplicatedRun.cli;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * lighttpd from Debian, unmodified, replicated: the primary owns the listening socket and every connection, the
 * backups answer socket calls, accept and epoll_wait from the log with stand-in sockets and hold duplicates of the
 * real ones, and every response's bytes are compared. When the primary is killed a backup takes the sockets over
 * and the clients (curl and ab on loopback) see no error and lose no byte.
 */
class NetworkServerReplicationTest
{

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void lighttpdServesEveryRequestAndItsBackupsReplayEveryConnection(final int replicas) throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(replicas, 0, "writev");
        final ReplicatedRun.Running running = site.start(replicas);
        try
        {
            for (int i = 0; i < 10; i++)
            {
                final Path body = site.dir().resolve("got-" + i);
                final Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "10", "-o", body.toString(),
                    site.url("page.html")).redirectErrorStream(true).start();
                assertEquals(0, curl.waitFor(), new String(curl.getInputStream().readAllBytes()));
                assertArrayEquals(site.page(), Files.readAllBytes(body), "response " + i);
            }
            LighttpdSite.assertAbServedEverything(startAb(site, 400).finish(), 400);
            running.awaitBackupsCaughtUp();
        }
        finally
        {
            running.stop();
        }
    }

    @Tag("faults")
    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void abSeesNoFailedRequestWhileItsPrimaryIsKilled(final int replicas) throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(replicas, 0, "writev");
        final ReplicatedRun.Running running = site.start(replicas);
        try
        {
            final int requests = 1500 * replicas;
            final Ab ab = startAb(site, requests);
            for (int kill = 0; kill < replicas - 1; kill++)
            {
                awaitPrimaryLogPast(running, 3000L * (kill + 1));
                assertEquals(0, cli("kill-replica", String.valueOf(kill), "--mailbox", running.mailbox()));
            }
            LighttpdSite.assertAbServedEverything(ab.finish(), requests);
            assertEquals(replicas - 1, epochOf(running) - 1, "one failover per kill");
        }
        finally
        {
            running.stop();
        }
    }

    @Tag("faults")
    @Test
    void wrkOnKeepAliveConnectionsSeesNoErrorWhileThePrimaryIsKilled() throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(9, 0, "writev");
        final ReplicatedRun.Running running = site.start(2);
        try
        {
            final Process wrk = new ProcessBuilder("wrk", "-t2", "-c20", "-d5s", "--timeout", "10s",
                site.url("page.html")).redirectErrorStream(true).start();
            awaitPrimaryLogPast(running, 3000);
            assertEquals(0, cli("kill-replica", "0", "--mailbox", running.mailbox()));
            final String report = new String(wrk.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(wrk.waitFor(60, TimeUnit.SECONDS) && wrk.exitValue() == 0, report);
            assertTrue(report.contains("requests in"), report);
            assertTrue(!report.contains("Socket errors") && !report.contains("Non-2xx"), report);
            assertEquals(2, epochOf(running));
        }
        finally
        {
            running.stop();
        }
    }

    @Test
    void aPlannedFailoverUnderLoadCostsNoRequest() throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(7, 0, "writev");
        final ReplicatedRun.Running running = site.start(2);
        try
        {
            final Ab ab = startAb(site, 3000);
            awaitPrimaryLogPast(running, 3000);
            assertEquals(0, cli("failover", "--mailbox", running.mailbox()));
            LighttpdSite.assertAbServedEverything(ab.finish(), 3000);
            assertEquals(2, epochOf(running));
        }
        finally
        {
            running.stop();
        }
    }

    @Test
    void aFrozenPrimaryIsReplacedUnderLoadAndWritesNothingWhenThawed() throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(8, 0, "writev");
        final ReplicatedRun.Running running = site.start(2);
        try
        {
            final Ab ab = startAb(site, 3000);
            awaitPrimaryLogPast(running, 3000);
            assertEquals(0, cli("kill-replica", "0", "--freeze", "--mailbox", running.mailbox()));
            awaitEpoch(running, 2);
            assertEquals(0, cli("kill-replica", "0", "--thaw", "--mailbox", running.mailbox()));
            LighttpdSite.assertAbServedEverything(ab.finish(), 3000);
            try (Mailbox box = Mailbox.open(new MailboxContext().path(running.mailbox())))
            {
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (box.slot(0).state() != ReplicaState.FENCED)
                {
                    assertTrue(System.nanoTime() < deadline, "the thawed primary did not fence itself: " +
                        box.slot(0).state());
                    Thread.sleep(10);
                }
            }
        }
        finally
        {
            running.stop();
        }
    }

    /**
     * The primary dies right after an accept, before it hands the connection over (fault injection): the
     * connection waits in the primary's accept ring, which the backup holds, and the new primary serves it. The
     * first accept is the readiness probe's connection; the fourth is the second request's.
     */
    @Test
    void aConnectionAcceptedAsThePrimaryDiesIsServedByTheNewPrimary() throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(11, 0, "writev");
        final ReplicatedRun.Running running = site.start(2, "--fault-die-in-accept", "0:4");
        try
        {
            for (int i = 0; i < 6; i++)
            {
                final Path body = site.dir().resolve("got-" + i);
                final Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "20", "-o", body.toString(),
                    site.url("page.html")).redirectErrorStream(true).start();
                assertEquals(0, curl.waitFor(), "request " + i + ": " +
                    new String(curl.getInputStream().readAllBytes()));
                assertArrayEquals(site.page(), Files.readAllBytes(body), "response " + i);
            }
            assertEquals(2, epochOf(running));
            final String events = Files.readString(running.workDir().resolve("replica-1").resolve("events.log"));
            assertTrue(events.contains("was taken from its accept ring"), events);
        }
        finally
        {
            running.stop();
        }
    }

    /**
     * With lighttpd's own choice, sendfile, and with writev: the kernel or the application copies the file's bytes.
     */
    @ParameterizedTest(name = "network backend {0}")
    @ValueSource(strings = {"sendfile", "writev"})
    void aLongDownloadSpanningTheKillOfThePrimaryArrivesWhole(final String backend) throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(2, 200_000_000, backend);
        final ReplicatedRun.Running running = site.start(2);
        try
        {
            final Path got = site.dir().resolve("got.bin");
            final Process curl = new ProcessBuilder("curl", "-sS", "--limit-rate", "40M", "-o", got.toString(),
                site.url("big.bin")).redirectErrorStream(true).start();
            awaitPrimaryLogPast(running, 2000);
            assertEquals(0, cli("kill-replica", "0", "--mailbox", running.mailbox()));
            assertTrue(curl.waitFor(120, TimeUnit.SECONDS), "curl did not finish");
            assertEquals(0, curl.exitValue(), new String(curl.getInputStream().readAllBytes()));
            assertEquals(LighttpdSite.sha256(site.dir().resolve("big.bin")), LighttpdSite.sha256(got), "what curl received");
            assertEquals(2, epochOf(running));
        }
        finally
        {
            running.stop();
        }
    }

    private record Ab(Process process)
    {
        String finish() throws Exception
        {
            final String report = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(process.waitFor(120, TimeUnit.SECONDS) && process.exitValue() == 0, report);
            return report;
        }
    }

    private static Ab startAb(final LighttpdSite site, final int requests) throws IOException
    {
        return new Ab(new ProcessBuilder("ab", "-n", String.valueOf(requests), "-c", "20", "-s", "20",
            site.url("page.html")).redirectErrorStream(true).start());
    }

    private static int epochOf(final ReplicatedRun.Running running)
    {
        try (Mailbox box = Mailbox.open(new MailboxContext().path(running.mailbox())))
        {
            return box.control().epoch();
        }
    }

    private static void awaitEpoch(final ReplicatedRun.Running running, final int epoch) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (epochOf(running) < epoch)
        {
            assertTrue(System.nanoTime() < deadline, "no epoch " + epoch);
            Thread.sleep(5);
        }
    }

    private static void awaitPrimaryLogPast(final ReplicatedRun.Running running, final long records) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (Mailbox box = Mailbox.open(new MailboxContext().path(running.mailbox())))
        {
            while (box.slot(box.control().primaryId()).logSequence() < records)
            {
                assertTrue(System.nanoTime() < deadline, "the primary's log did not reach " + records);
                Thread.sleep(5);
            }
        }
    }


}
