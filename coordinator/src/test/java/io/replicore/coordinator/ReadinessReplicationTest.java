package io.replicore.coordinator;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * poll, ppoll, select and pselect6 replicated: the primary waits on duplicates of the application's descriptors,
 * and what it saw (revents, the three sets, the time left of the timeout) reaches every backup, so that every
 * replica takes the same path. Each run must end with every backup having replayed the whole log with the same
 * outputs.
 */
class ReadinessReplicationTest
{
    private static final int CLIENTS = 4;
    private static final int LINES = 100;
    private static final int BURSTS = 20;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"PollSelector", "SelectSelector", "select"})
    void anEchoServerWaitingWithPollOrSelectServesEveryClientAndItsBackupReplaysIt(final String waitWith)
        throws Exception
    {
        final int port = ReplicatedRun.freePort();
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of(), null,
            EchoServer.command(port, waitWith, CLIENTS));
        try
        {
            running.awaitListening(port);
            try (EchoServer.Clients clients = new EchoServer.Clients(port, CLIENTS, LINES))
            {
                clients.assertEachGotBackWhatItSent(60);
                // Idle longer than select.select's timeout (50 ms) before the clients leave.
                Thread.sleep(300);
            }
            final ReplicatedRun run = running.finish().assertClean();
            assertEquals(CLIENTS, Integer.parseInt(run.value("served")));
            final int timeouts = Integer.parseInt(run.value("timeouts"));
            if (waitWith.equals("select"))
            {
                assertTrue(timeouts > 0, "select.select's timeout never ran out");
            }
            else
            {
                assertEquals(0, timeouts, "a wait without a timeout ended with nothing ready");
            }
        }
        finally
        {
            running.stop();
        }
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void ppollPselectAndSelectOnAPipeSeeTheSameInEveryReplica(final int replicas) throws Exception
    {
        final ReplicatedRun.Running running = ReplicatedRun.startWithInput(replicas,
            testProgram("nd_poll").toString());
        final StringBuilder fed = new StringBuilder();
        final ReplicatedRun run;
        try
        {
            try (OutputStream stdin = running.process().getOutputStream())
            {
                awaitOutput(running, "pselect_out=");
                // Bursts further apart than a round of waits (30 + 20 + 25 ms): each wait ends on input sometimes,
                // and on its timeout between bursts.
                for (int i = 0; i < BURSTS; i++)
                {
                    final String burst = "burst " + i + "\n";
                    stdin.write(burst.getBytes(StandardCharsets.US_ASCII));
                    stdin.flush();
                    fed.append(burst);
                    Thread.sleep(100);
                }
            }
            run = running.finish().assertClean();
        }
        finally
        {
            running.stop();
        }
        assertEquals("1 revents=0x20,0", run.value("ppoll_closed"), "a closed descriptor is POLLNVAL");
        assertEquals("-1 errno=9", run.value("select_closed"), "a closed descriptor in a set is EBADF");
        assertEquals("1 in=1 out=1", run.value("select_beyond_table"),
            "a bit beyond the descriptor table is neither looked at nor written");
        assertEquals("1 out=1", run.value("pselect_out"));
        assertEquals(String.valueOf(fed.length()), run.value("bytes"));
        for (final String call : List.of("ppoll=0 ", "pselect=0 ", "select=0 "))
        {
            assertTrue(run.lines().stream().anyMatch(line -> line.startsWith(call)), call + " never timed out:\n" +
                run.stdout);
        }
        assertFalse(run.lines().stream().anyMatch(line -> line.startsWith("ppoll=0 ") &&
            !line.endsWith("left=0.000000000")), "a ppoll that timed out has no time left:\n" + run.stdout);
        assertFalse(run.lines().stream().anyMatch(line -> line.startsWith("select=0 ") &&
            !line.endsWith("left=0.000000")), "a select that timed out has no time left:\n" + run.stdout);
        assertTrue(run.lines().stream().anyMatch(line -> line.matches("ppoll=1 .* left=0\\.0[0-2][0-9]{7}") &&
            !line.endsWith("left=0.030000000")), "a ppoll that saw input has less than its timeout left:\n" +
            run.stdout);
    }

    private static void awaitOutput(final ReplicatedRun.Running running, final String text) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.readString(running.stdoutFile()).contains(text))
        {
            assertTrue(running.process().isAlive() && System.nanoTime() < deadline, "no " + text + " in:\n" +
                Files.readString(running.stdoutFile()) + Files.readString(running.workDir().resolve("run.err")));
            Thread.sleep(20);
        }
    }
}
