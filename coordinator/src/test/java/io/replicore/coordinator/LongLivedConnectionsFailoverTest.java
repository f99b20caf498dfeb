package io.replicore.coordinator;

import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.util.List;

import static io.replicore.coordinator.ReplicatedRun.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * In the fault campaign ({@code bin/test --faults}): a kill under load. Many clients hold connections to a
 * replicated line-echo server (python3 waiting with an epoll or a poll selector) and stream lines through it while
 * its primary is killed: every client gets back exactly what it sent, in order, on the same connection.
 */
class LongLivedConnectionsFailoverTest
{
    private static final int CLIENTS = 12;
    private static final int LINES = 400;

    @Tag("faults")
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"EpollSelector", "PollSelector"})
    void everyClientGetsBackExactlyWhatItSentAcrossTheKillOfThePrimary(final String selector) throws Exception
    {
        final int port = ReplicatedRun.freePort();
        final ReplicatedRun.Running running = ReplicatedRun.start(2, List.of("--keep-mailbox"), null,
            EchoServer.command(port, selector, 0));
        try
        {
            running.awaitListening(port);
            try (EchoServer.Clients clients = new EchoServer.Clients(port, CLIENTS, LINES))
            {
                running.awaitConnections(CLIENTS);
                Thread.sleep(800);
                assertEquals(0, cli("kill-replica", "0", "--mailbox", running.mailbox()));
                clients.assertEachGotBackWhatItSent(90);
                running.awaitConnections(CLIENTS); // the new primary owns them all
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
            running.stop();
        }
    }
}
