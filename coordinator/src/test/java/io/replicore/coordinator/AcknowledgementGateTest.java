package io.replicore.coordinator;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The acknowledgement gate of kernel partitions (architecture 6d), seen from the client's TCP: the primary's kernel
 * tells a client nothing the log does not hold. Replicas in network namespaces of their own
 * ({@link NamespacePartitions}), real python3 programs on both ends; the client reads its own kernel's TCP_INFO to see
 * what the server's kernel acknowledged.
 */
class AcknowledgementGateTest
{
    private static final int PORT = 8080;
    private static final int BYTES = 20_000;
    /** What TCP_INFO counts once everything the client sent is acknowledged: the SYN and the FIN count one each. */
    private static final long ACKED_ALL = BYTES + 2;
    /** ready_then_read.py's sleep between its epoll wait and its read. */
    private static final long TOLD_DELAY_S = 4;
    private static final Pattern PROBE = Pattern.compile("acked_early=(\\d+) acked_after=(\\d+) answer=got (\\d+)");

    @Test
    void noByteIsAcknowledgedToTheClientBeforeTheApplicationReadIt() throws Exception
    {
        try (NamespacePartitions partitions = new NamespacePartitions(2))
        {
            final long[] acked = probeSlowReader(partitions);
            assertEquals(1, acked[0], "bytes acknowledged (the SYN counts one) while the server had read none");
            assertEquals(ACKED_ALL, acked[1], "bytes acknowledged once the server had read them");
            assertEquals(0, partitions.awaitEnd(0, 30));
            final String events = partitions.eventsOf(0);
            final Matcher held = Pattern.compile("the acknowledgement gate held (\\d+) handshakes until logged, " +
                "lowered (\\d+) acknowledgements").matcher(events);
            assertTrue(held.find() && Integer.parseInt(held.group(1)) >= 2 && Integer.parseInt(held.group(2)) > 0,
                events);
            assertTrue(events.contains("acknowledgement gate on eth0 for " + NamespacePartitions.SERVICE_ADDRESS),
                events);
        }
    }

    /**
     * The window the gate closes, shown by the same probe: without the gate the kernel acknowledges what the
     * application has not read (so a kernel that died then would lose it).
     */
    @Test
    void withoutTheGateTheKernelAcknowledgesBytesTheApplicationHasNotRead() throws Exception
    {
        try (NamespacePartitions partitions = new NamespacePartitions(2, List.of("--no-ack-gate")))
        {
            final long[] acked = probeSlowReader(partitions);
            assertEquals(ACKED_ALL, acked[0], "bytes acknowledged while the server had read none");
            assertTrue(partitions.eventsOf(0).contains("no acknowledgement gate"), partitions.eventsOf(0));
        }
    }

    /**
     * A connection the primary's kernel opened (the handshake done, the request sent) that the application had not
     * accepted when the kernel died: its handshake is in the log, so the new primary rebuilds it and the
     * application's next accept gets it.
     */
    @Test
    void connectionsTheDeadKernelOpenedButTheApplicationHadNotAcceptedAreServedByTheNewPrimary() throws Exception
    {
        try (NamespacePartitions partitions = new NamespacePartitions(2))
        {
            final List<String> late = new ArrayList<>(List.of(EchoServer.command(
                NamespacePartitions.SERVICE_ADDRESS, PORT, "EpollSelector", 0)));
            late.add("6"); // the application sleeps before its first accept
            partitions.startAll(late, PORT);
            partitions.echoClientsAcrossPrimaryDeath(PORT, 5, 1, 1500);
            final String events = partitions.eventsOf(1);
            final Matcher opened = Pattern.compile("(\\d+) opened but not accepted rebuilt").matcher(events);
            assertTrue(opened.find() && Integer.parseInt(opened.group(1)) >= 5, events);
            assertTrue(events.contains("knocks on the listening sockets") &&
                events.contains("opened but not accepted, given to an accept"), events);
        }
    }

    /**
     * The application was told a connection's line was there (its epoll wait returned) and the primary's kernel died
     * before it read it: the line was logged with that answer, the dead kernel acknowledged it, and the new primary
     * puts it back in the rebuilt connection's queue, so the application's non-blocking read finds it at once.
     */
    @Test
    void inputTheApplicationWasToldOfIsInTheNewPrimarysQueueWhenItReadsIt() throws Exception
    {
        try (NamespacePartitions partitions = new NamespacePartitions(2))
        {
            partitions.startAll(List.of("/usr/bin/python3", EchoServer.resource("ready_then_read.py").toString(),
                String.valueOf(PORT), NamespacePartitions.SERVICE_ADDRESS, String.valueOf(TOLD_DELAY_S)), PORT);
            Thread.sleep(TimeUnit.SECONDS.toMillis(TOLD_DELAY_S + 1)); // startAll's own probe has been served
            final Process client = partitions.inClient("/usr/bin/python3", "-c", String.join("\n",
                "import socket",
                "conn = socket.create_connection(('" + NamespacePartitions.SERVICE_ADDRESS + "', " + PORT + "), 60)",
                "conn.sendall(b'told and not read\\n')",
                "got = b''",
                "while not got.endswith(b'\\n'): got += conn.recv(100) or b'\\n'",
                "print('echo=' + got.decode().strip())")).start();
            Thread.sleep(TimeUnit.SECONDS.toMillis(TOLD_DELAY_S) / 2); // the server sleeps between epoll and recv
            partitions.killPartition(0);
            final String report = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(client.waitFor(60, TimeUnit.SECONDS), "the client did not finish");
            assertEquals("echo=told and not read", report.trim(), partitions.eventsOf(1));
            assertEquals("epoch 2 primary 1", partitions.leadership());
        }
    }

    /**
     * Start the slow reader (it lets each connection's input wait 2 s before reading it) and probe it once.
     *
     * @return the bytes its kernel acknowledged before it read them, and after.
     */
    private static long[] probeSlowReader(final NamespacePartitions partitions) throws Exception
    {
        partitions.startAll(List.of("/usr/bin/python3", EchoServer.resource("slow_reader.py").toString(),
            String.valueOf(PORT), NamespacePartitions.SERVICE_ADDRESS, "2", "1"), PORT);
        final Process probe = partitions.inClient("/usr/bin/python3",
            EchoServer.resource("acked_probe.py").toString(), NamespacePartitions.SERVICE_ADDRESS,
            String.valueOf(PORT), String.valueOf(BYTES), "1.5").start();
        final String report = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(probe.waitFor(60, TimeUnit.SECONDS), "the probe did not finish");
        assertEquals(0, probe.exitValue(), report + partitions.eventsOf(0));
        final Matcher result = PROBE.matcher(report);
        assertTrue(result.find(), report);
        assertEquals(BYTES, Integer.parseInt(result.group(3)), "what the server read");
        return new long[]{Long.parseLong(result.group(1)), Long.parseLong(result.group(2))};
    }
}
