package io.replicore.coordinator.cli;

import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code replicore status} on a mailbox filled by hand: replica 0 is a primary that beats and has logged 10
 * records, three of them still in replica 1's channel; replica 1 is a backup that stopped beating two seconds ago;
 * replica 2 diverged. One failover has been recorded.
 */
class StatusCommandTest
{
    private static final long FAILOVER_NS = 12_345_678;

    private TestService service;
    private Thread beater;
    private final AtomicBoolean beating = new AtomicBoolean(true);
    private long failoverTimeMs;
    private long unreadBytes;

    @BeforeEach
    void fillMailbox()
    {
        service = new TestService(3);
        final ReplicaSlot primary = service.replica(0, ReplicaState.PRIMARY, 4000, 4001);
        primary.logSequence(10);
        final ReplicaSlot backup = service.replica(1, ReplicaState.BACKUP, 4010, 4011);
        backup.logSequence(7);
        backup.connections(12);
        backup.beat(System.nanoTime() - TimeUnit.SECONDS.toNanos(2));
        final ReplicaSlot diverged = service.replica(2, ReplicaState.DIVERGED, 4020, 4021);
        diverged.lastError(ReplicaState.DIVERGED.code(), "at log record 5, \"write\" differs\nsecond line");

        final ChannelWriter writer = service.mailbox.newWriter(0, 1);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[100]);
        for (int i = 0; i < 3; i++)
        {
            assertTrue(writer.tryWrite(1, payload, 0, payload.capacity()) > 0);
        }
        unreadBytes = service.mailbox.ring(0, 1).producerPosition();

        failoverTimeMs = System.currentTimeMillis();
        service.control.recordFailover(FAILOVER_NS, failoverTimeMs);

        beater = new Thread(() ->
        {
            while (beating.get())
            {
                primary.beat(System.nanoTime());
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            }
        });
        beater.start();
    }

    @AfterEach
    void removeMailbox() throws Exception
    {
        beating.set(false);
        beater.join();
        service.close();
    }

    @Test
    void jsonIsOneObjectWithServiceFailoverLagAndHeartbeats()
    {
        final CliRun run = CliRun.execute("status", "--mailbox", service.path, "--json");

        assertEquals(0, run.exitCode, run.toString());
        final List<String> lines = run.outLines();
        assertEquals(1, lines.size(), run.out);
        final String json = lines.get(0);
        assertTrue(Json.isOneObject(json), json);
        assertEquals("running", Json.field(json, "service"));
        assertEquals("1", Json.field(json, "epoch"));
        assertEquals("0", Json.field(json, "primary"));
        assertEquals("1", Json.field(json, "failovers"));
        assertEquals("12.346", Json.field(json, "lastFailoverMs"));
        assertEquals(Instant.ofEpochMilli(failoverTimeMs).toString(), Json.field(json, "lastFailoverTime"));

        final List<String> replicas = Json.replicas(json);
        assertEquals(3, replicas.size(), json);

        assertEquals("primary", Json.field(replicas.get(0), "state"));
        assertEquals("true", Json.field(replicas.get(0), "beating"));
        assertEquals("null", Json.field(replicas.get(0), "silentMs"));
        assertEquals("0", Json.field(replicas.get(0), "lagRecords"));

        assertEquals("backup", Json.field(replicas.get(1), "state"));
        assertEquals("false", Json.field(replicas.get(1), "beating"));
        assertTrue(Long.parseLong(Json.field(replicas.get(1), "silentMs")) >= 2000, replicas.get(1));
        assertEquals("3", Json.field(replicas.get(1), "lagRecords"));
        assertEquals(String.valueOf(unreadBytes), Json.field(replicas.get(1), "lagBytes"));
        assertTrue(unreadBytes >= 300, "three records of 100 bytes and their headers: " + unreadBytes);
        assertEquals("4011", Json.field(replicas.get(1), "appPid"));
        assertEquals("12", Json.field(replicas.get(1), "connections"));

        assertEquals("diverged", Json.field(replicas.get(2), "state"));
        assertEquals("null", Json.field(replicas.get(2), "beating"), "an ended replica is not expected to beat");
        assertEquals("at log record 5, \\\"write\\\" differs\\nsecond line", Json.field(replicas.get(2), "lastError"));
    }

    @Test
    void tableShowsServiceStateFailoverAndWhichReplicasBeat()
    {
        final CliRun run = CliRun.execute("status", "--mailbox", service.path);

        assertEquals(0, run.exitCode, run.toString());
        final List<String> lines = run.outLines();
        assertTrue(lines.get(0).contains("service running") && lines.get(0).contains("epoch 1") &&
            lines.get(0).contains("primary 0"), lines.get(0));
        assertEquals("failovers 1  last took 12.346 ms at " + Instant.ofEpochMilli(failoverTimeMs), lines.get(1));
        assertTrue(lines.get(2).startsWith("id  state"), lines.get(2));
        assertTrue(lines.get(3).matches("0\\s+primary\\s+4000\\s+4001\\s+\\d+\\s+beating\\s+10\\s+0\\s+0\\s.*"),
            lines.get(3));
        assertTrue(lines.get(4).matches("1\\s+backup\\s+4010\\s+4011\\s+1\\s+silent \\d{4,}ms\\s+7\\s+3\\s+" +
            unreadBytes + "\\s.*"), lines.get(4));
        assertTrue(lines.get(5).matches("2\\s+diverged\\s+4020\\s+4021\\s+0\\s+-\\s+.*at log record 5.*"),
            lines.get(5));
    }

    @Test
    void aMissingMailboxExits2NamingTheFileAndTheFix()
    {
        final CliRun run = CliRun.execute("status", "--mailbox", "/dev/shm/replicore-cli-test-missing", "--json");

        assertEquals(2, run.exitCode, run.toString());
        assertEquals("", run.out);
        assertTrue(run.err.contains("/dev/shm/replicore-cli-test-missing: does not exist; start the service first"),
            run.err);
    }
}
