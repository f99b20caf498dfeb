package io.replicore.coordinator;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kernel partitions' takeover, on one machine: two replicas that share only the mailbox, each in its own network
 * stack ({@link NamespacePartitions}), so that no socket can pass from one to the other. The primary logs each
 * connection's TCP state with its accept; when its partition dies, the backup claims the service address, announces
 * it, and rebuilds every live connection with TCP_REPAIR from the log. The clients, in their own namespace, must
 * see nothing but a pause. The QEMU rig (qemu-tests) runs the same with a kernel per replica.
 * {@link AcknowledgementGateTest} shows what the acknowledgement gate does on its own.
 */
class KernelPartitionTakeoverTest
{
    private static final int PORT = 8080;

    /**
     * Under ab -c 20 most connections hold a request the primary's kernel has but the application has not read, or
     * are opened and not accepted yet, when the partition dies: the acknowledgement gate (architecture 6d) kept the
     * kernel from telling the clients more than the log holds, so the new primary has every one of them. In the
     * fault campaign ({@code bin/test --faults}).
     */
    @Tag("faults")
    @Test
    void lighttpdServesEveryRequestUnderAbWhileThePrimarysPartitionDies() throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(21, 0, "writev", NamespacePartitions.SERVICE_ADDRESS, PORT);
        try (NamespacePartitions partitions = new NamespacePartitions(2))
        {
            partitions.startAll(site.command(), PORT);
            final int requests = 20000;
            final Process ab = partitions.inClient("ab", "-n", String.valueOf(requests), "-c", "20", "-s", "20",
                site.url("page.html")).start();
            partitions.awaitPrimaryLogPast(15000);
            partitions.killPartition(0);
            final String report = new String(ab.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(ab.waitFor(120, TimeUnit.SECONDS), "ab did not finish");
            assertEquals(0, ab.exitValue(), report);
            LighttpdSite.assertAbServedEverything(report, requests);
            assertTookOver(partitions);
        }
    }

    @Test
    void aDownloadArrivesWholeAcrossThePrimarysPartitionDeath() throws Exception
    {
        final LighttpdSite site = LighttpdSite.create(22, 50_000_000, "sendfile", NamespacePartitions.SERVICE_ADDRESS,
            PORT);
        try (NamespacePartitions partitions = new NamespacePartitions(2))
        {
            partitions.startAll(site.command(), PORT);
            final Path got = site.dir().resolve("got.bin");
            // slow enough that the kill finds it half done, with megabytes in flight
            final Process curl = partitions.inClient("curl", "-sS", "--limit-rate", "8M", "-o", got.toString(),
                site.url("big.bin")).start();
            Thread.sleep(2000);
            partitions.killPartition(0);
            assertTrue(curl.waitFor(120, TimeUnit.SECONDS), "curl did not finish");
            assertEquals(0, curl.exitValue(), new String(curl.getInputStream().readAllBytes()));
            assertEquals(LighttpdSite.sha256(site.dir().resolve("big.bin")), LighttpdSite.sha256(got),
                "what curl received");
            assertTookOver(partitions);
        }
    }

    @Test
    void longLivedConnectionsKeepEveryByteInOrderAcrossThePrimarysPartitionDeath() throws Exception
    {
        try (NamespacePartitions partitions = new NamespacePartitions(2))
        {
            partitions.startAll(List.of(EchoServer.command(NamespacePartitions.SERVICE_ADDRESS, PORT,
                "EpollSelector", 0)), PORT);
            partitions.echoClientsAcrossPrimaryDeath(PORT, 12, 8, 3000);
            assertTookOver(partitions);
            assertTrue(partitions.eventsOf(1).contains("12 connections rebuilt with TCP_REPAIR"),
                partitions.eventsOf(1));
        }
    }

    private static void assertTookOver(final NamespacePartitions partitions) throws Exception
    {
        assertEquals("epoch 2 primary 1", partitions.leadership(), partitions.eventsOf(1));
        final String events = partitions.eventsOf(1);
        assertTrue(events.contains("service address " + NamespacePartitions.SERVICE_ADDRESS + "/24 claimed"), events);
        assertTrue(events.contains("rebuilt with TCP_REPAIR"), events);
    }
}
