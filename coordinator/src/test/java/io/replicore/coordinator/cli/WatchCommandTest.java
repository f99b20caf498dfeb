package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.ReplicaState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code replicore watch}: frames of the status until a count, the service's stop or the mailbox's removal.
 */
class WatchCommandTest
{
    private TestService service;

    @BeforeEach
    void fillMailbox()
    {
        service = new TestService(2);
        service.replica(0, ReplicaState.PRIMARY, 4000, 4001);
        service.replica(1, ReplicaState.BACKUP, 4010, 4011);
    }

    @AfterEach
    void removeMailbox() throws Exception
    {
        service.close();
    }

    @Test
    void countTwoPrintsTwoFramesSeparatedByALineThenExits0()
    {
        final CliRun run = CliRun.execute("watch", "--mailbox", service.path, "--interval", "50", "--count", "2");

        assertEquals(0, run.exitCode, run.toString());
        final List<String> lines = run.outLines();
        assertEquals(2, lines.stream().filter(line -> line.startsWith("---- frame ")).count(), run.out);
        assertEquals(2, lines.stream().filter(line -> line.startsWith("mailbox " + service.path)).count(), run.out);
        assertFalse(run.out.contains(WatchCommand.CLEAR_SCREEN), "not a terminal: no escape sequences");
        assertEquals(2 * (1 + 1 + 1 + 1 + 2), lines.size(), "each frame: separator, header, failovers, table of 2");
    }

    @Test
    void jsonPrintsOneStatusObjectPerLinePerFrame()
    {
        final CliRun run = CliRun.execute("watch", "--mailbox", service.path, "--interval", "20", "--count", "3",
            "--json");

        assertEquals(0, run.exitCode, run.toString());
        final List<String> lines = run.outLines();
        assertEquals(3, lines.size(), run.out);
        for (final String line : lines)
        {
            assertTrue(Json.isOneObject(line), line);
            assertEquals("running", Json.field(line, "service"));
            assertEquals(2, Json.replicas(line).size(), line);
        }
    }

    @Test
    void endsWith0OnTheFrameThatShowsTheServiceStopped() throws Exception
    {
        final Thread stopper = new Thread(() ->
        {
            sleepMs(300);
            service.control.exitStatus(0);
            service.control.serviceState(ControlBlock.SERVICE_STOPPED);
        });
        stopper.start();
        final long start = System.nanoTime();
        final CliRun run = CliRun.execute("watch", "--mailbox", service.path, "--interval", "50", "--json");
        stopper.join();

        assertEquals(0, run.exitCode, run.toString());
        final List<String> lines = run.outLines();
        assertTrue(lines.size() >= 2, run.out);
        assertEquals("stopped", Json.field(lines.get(lines.size() - 1), "service"));
        assertTrue(lines.subList(0, lines.size() - 1).stream()
            .allMatch(line -> "running".equals(Json.field(line, "service"))), run.out);
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10));
    }

    @Test
    void endsWith0WhenTheMailboxIsRemoved() throws Exception
    {
        final Thread remover = new Thread(() ->
        {
            sleepMs(300);
            try
            {
                Files.delete(Path.of(service.path));
            }
            catch (final Exception ex)
            {
                throw new IllegalStateException(ex);
            }
        });
        remover.start();
        final CliRun run = CliRun.execute("watch", "--mailbox", service.path, "--interval", "50");
        remover.join();

        assertEquals(0, run.exitCode, run.toString());
        assertTrue(run.err.contains("was removed or replaced: the service it showed has ended"), run.err);
        assertTrue(run.out.contains("---- frame 2 "), "it watched until then:\n" + run.out);
    }

    @Test
    void aMissingMailboxExits2()
    {
        final CliRun run = CliRun.execute("watch", "--mailbox", "/dev/shm/replicore-cli-test-missing");

        assertEquals(2, run.exitCode, run.toString());
        assertTrue(run.err.contains("does not exist"), run.err);
    }

    private static void sleepMs(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
