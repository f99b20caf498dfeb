package io.replicore.coordinator;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static io.replicore.coordinator.ReplicatedRun.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The primary's partition fails (killed, frozen) or is switched over on purpose while a program writes a
 * numbered line every 20 ms: the output goes on from a backup with every line exactly once, in order, and the
 * run ends with the program's own status. Faults and the switch-over go through the CLI, as an operator does.
 */
class FailoverTest
{
    private static final int TICKS = 150;
    private static final long WAIT_MS = 30_000;

    /**
     * An idle server waits in epoll_wait with no timeout: a planned failover still happens at once, inside the wait
     * (nothing was logged for it, so the successor's application makes it again), and the connection goes on.
     */
    @Test
    void aPlannedFailoverOfAnIdleServerHandsOverInsideItsEndlessWait() throws Exception
    {
        final int port = ReplicatedRun.freePort();
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--keep-mailbox"), null,
            EchoServer.command(port, "EpollSelector", 0));
        try
        {
            running.awaitListening(port);
            try (java.net.Socket client = new java.net.Socket("127.0.0.1", port))
            {
                client.setSoTimeout(20_000);
                final java.io.BufferedReader in = new java.io.BufferedReader(
                    new java.io.InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII));
                client.getOutputStream().write("before\n".getBytes(StandardCharsets.US_ASCII));
                assertEquals("before", in.readLine());
                final long startNs = System.nanoTime();
                assertEquals(0, cli("failover", "--timeout", "5000", "--mailbox", running.mailbox()));
                assertTrue(System.nanoTime() - startNs < TimeUnit.SECONDS.toNanos(5), "handed over within the wait");
                awaitEpoch(running, 2);
                client.getOutputStream().write("after\n".getBytes(StandardCharsets.US_ASCII));
                assertEquals("after", in.readLine(), "the new primary serves the same connection");
            }
        }
        finally
        {
            running.stop();
        }
    }

    @Test
    void aKilledPrimaryIsReplacedAndItsOutputGoesOnWithNoLineLostOrRepeated() throws Exception
    {
        final ReplicatedRun.Running running = startTicker(2);
        awaitLines(running, 30);
        assertEquals(0, cli("kill-replica", "0", "--mailbox", running.mailbox()));

        final ReplicatedRun run = running.finish();
        assertEveryTickOnceInOrder(run, TICKS);
        assertTrue(run.stderr.contains("replica 1: took over as primary of epoch 2"), run.stderr);
        assertTrue(run.events(1).contains("is gone"), run.events(1));
    }

    @Test
    void threeReplicasSurviveTheirPrimaryKilledTwiceInARow() throws Exception
    {
        final ReplicatedRun.Running running = startTicker(3);
        awaitLines(running, 20);
        assertEquals(0, cli("kill-replica", "0", "--mailbox", running.mailbox()));
        awaitEpoch(running, 2);
        awaitLines(running, 60);
        assertEquals(0, cli("kill-replica", "1", "--mailbox", running.mailbox()));

        final ReplicatedRun run = running.finish();
        assertEveryTickOnceInOrder(run, TICKS);
        assertTrue(run.stderr.contains("replica 2: took over as primary of epoch 3"), run.stderr);
        assertTrue(run.events(2).contains("following replica 1, primary of epoch 2"), run.events(2));
    }

    @Test
    void aFrozenPrimaryIsReplacedAfterItsHeartbeatsStopAndFencesItselfWhenThawed() throws Exception
    {
        final ReplicatedRun.Running running = startTicker(2);
        awaitLines(running, 30);
        assertEquals(0, cli("kill-replica", "0", "--freeze", "--mailbox", running.mailbox()));
        awaitEpoch(running, 2);
        assertEquals(0, cli("kill-replica", "0", "--thaw", "--mailbox", running.mailbox()));
        awaitState(running, 0, state -> state == ReplicaState.FENCED);

        final ReplicatedRun run = running.finish();
        assertEveryTickOnceInOrder(run, TICKS);
        assertTrue(run.stderr.contains("missed its heartbeats"), run.stderr);
        assertTrue(run.events(0).contains("fenced: replaced by replica 1, primary of epoch 2"), run.events(0));
    }

    @Test
    void aPlannedFailoverHandsOverBetweenTwoCallsWithNoLineLostOrRepeated() throws Exception
    {
        final ReplicatedRun.Running running = startTicker(2);
        awaitLines(running, 30);
        assertEquals(0, cli("failover", "--mailbox", running.mailbox()));

        final ReplicatedRun run = running.finish();
        assertEveryTickOnceInOrder(run, TICKS);
        assertTrue(run.events(0).contains("handed over in a planned failover"), run.events(0));
        assertTrue(run.stderr.contains("replica 1: took over as primary of epoch 2"), run.stderr);
    }

    /**
     * An interval timer's signal is posted by the primary's coordinator, which keeps the timer; every backup keeps
     * the same timer from the calls it replays, so the one that takes over goes on firing it.
     */
    @Test
    void anIntervalTimerGoesOnFiringFromTheBackupThatTakesOver() throws Exception
    {
        final int ticks = 100;
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of(), null,
            ReplicatedRun.testProgram("nd_timer").toString(), "ticks", String.valueOf(ticks));
        awaitLines(running, 30);
        assertEquals(0, cli("kill-replica", "0", "--mailbox", running.mailbox()));

        final ReplicatedRun run = running.finish();
        assertEveryTickOnceInOrder(run, ticks);
        assertTrue(run.stderr.contains("replica 1: took over as primary of epoch 2"), run.stderr);
    }

    private static ReplicatedRun.Running startTicker(final int replicas) throws IOException
    {
        return ReplicatedRun.start(replicas, List.of(), null,
            ReplicatedRun.testProgram("ft_ticker").toString(), String.valueOf(TICKS), "20");
    }

    private static void assertEveryTickOnceInOrder(final ReplicatedRun run, final int ticks)
    {
        final List<String> expected = new ArrayList<>();
        for (int i = 1; i <= ticks; i++)
        {
            expected.add("tick " + i);
        }
        expected.add("done");
        assertEquals(expected, run.lines(), "stderr:\n" + run.stderr);
        assertEquals(0, run.exitCode, run.stderr);
    }

    private static void awaitLines(final ReplicatedRun.Running running, final int lines) throws Exception
    {
        awaitTrue(running, () -> Files.exists(running.stdoutFile()) &&
            Files.readString(running.stdoutFile(), StandardCharsets.ISO_8859_1).lines().count() >= lines,
            lines + " lines of output");
    }

    private static void awaitEpoch(final ReplicatedRun.Running running, final int epoch) throws Exception
    {
        awaitTrue(running, () -> control(running).epoch() >= epoch, "epoch " + epoch);
    }

    private static void awaitState(
        final ReplicatedRun.Running running, final int replica, final Predicate<ReplicaState> wanted) throws Exception
    {
        awaitTrue(running, () ->
        {
            try (Mailbox box = Mailbox.open(new MailboxContext().path(running.mailbox())))
            {
                return wanted.test(box.slot(replica).state());
            }
        }, "replica " + replica + "'s state");
    }

    private static ControlBlockView control(final ReplicatedRun.Running running)
    {
        try (Mailbox box = Mailbox.open(new MailboxContext().path(running.mailbox())))
        {
            final ControlBlock control = box.control();
            return new ControlBlockView(control.epoch(), control.primaryId());
        }
    }

    private record ControlBlockView(int epoch, int primary)
    {
    }

    @FunctionalInterface
    private interface Condition
    {
        boolean holds() throws Exception;
    }

    private static void awaitTrue(final ReplicatedRun.Running running, final Condition condition, final String what)
        throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
        while (!condition.holds())
        {
            if (!running.process().isAlive() || System.nanoTime() > deadline)
            {
                throw new AssertionError("no " + what + " (run " + (running.process().isAlive() ? "still running" :
                    "ended") + ")");
            }
            Thread.sleep(10);
        }
    }
}
