package io.replicore.qemutests;

import io.replicore.mailbox.Mailbox;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Tag;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live TCP connections across the death of a whole replica kernel: a server replicated over two replica kernels (a
 * coordinator in each with {@code --partition kernel}) serves the virtual IP to clients in their own namespace.
 * Replica 0's kernel dies while the clients are in the middle, by each fault the rig injects; replica 1's kernel
 * sees its heartbeats stop, rebuilds the connections with TCP_REPAIR from the log, takes the virtual IP over, and
 * the clients go on: a long download from lighttpd arrives whole, long-lived echo connections get every byte back
 * in order, and a run of many HTTP requests has none fail, which needs the acknowledgement gate (architecture 6d):
 * requests the dying kernel had and connections it had opened are in the log. The client-side pause and lighttpd's
 * throughput before and after are printed.
 */
@Tag("qemu")
class ConnectionsAcrossKernelsTest
{
    private static final Path COORDINATOR = Path.of(System.getProperty("replicore.rig.coordinatorTarget",
        "../coordinator/target")).toAbsolutePath().normalize();
    private static final long HEARTBEAT_TIMEOUT_MS = 1500;
    private static final int FILE_LENGTH = 24 << 20;
    private static final int RATE = 2 << 20;
    private static final Pattern RESULT = Pattern.compile("bytes=(\\d+) sha256=(\\w+) longest_gap_ms=([\\d.]+)");
    /** The echo server and its clients, shared with the coordinator's tests of kernel partitions in namespaces. */
    private static final Path COORDINATOR_TEST_RESOURCES = Path.of(System.getProperty(
        "replicore.rig.coordinatorTestResources", "../coordinator/src/test/resources")).toAbsolutePath().normalize();
    private static final int ECHO_PORT = 7070;
    private static final int ECHO_CLIENTS = 12;
    private static final int ECHO_SECONDS = 30;
    /**
     * How long an echo client waits for a silent connection. A line the dying kernel never acknowledged comes to the
     * new primary only when the client's retransmission timer fires; under TCG that timer starts at several seconds
     * (round trips of a second or more under load) and doubles through the takeover (about 9 s), so the line can
     * arrive 25 s and more after it was first sent, which TCP itself allows for minutes. The test is about bytes
     * lost or reordered, which no patience hides; the longest round trip is printed.
     */
    private static final int ECHO_PATIENCE_SECONDS = 90;
    private static final int AB_REQUESTS = 1500;
    /** Segments of a stalled echo connection a failure shows, from the capture in the client namespace. */
    private static final int STALL_SEGMENTS = 40;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"kill", "panic", "mce"})
    void aDownloadFromTheVirtualIpArrivesWholeWhenThePrimarysKernelDies(final String fault) throws Exception
    {
        try (RigSite site = site(); Rig rig = Rig.open(new RigContext()))
        {
            startLighttpd(rig, site);
            final double before = requestsPerSecond(rig);
            final Process download = new ProcessBuilder(rig.network().inClient("python3",
                script("slow_download.py").toString(), url("big.bin"), String.valueOf(RATE)))
                .redirectErrorStream(true).start();
            Thread.sleep(4000);
            inject(rig, fault);
            final String report = new String(download.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(download.waitFor(180, TimeUnit.SECONDS), "the download did not end");
            final ReplicaVm survivor = rig.vm(1);
            assertEquals(0, download.exitValue(), () -> report + survivor.diagnostics());
            final Matcher result = RESULT.matcher(report);
            assertTrue(result.find(), report);
            assertEquals(FILE_LENGTH, Long.parseLong(result.group(1)), () -> "bytes received" + survivor.diagnostics());
            assertEquals(sha256(site.dir().resolve("big.bin")), result.group(2), "what the client received");
            final String events = assertTookOver(rig, 1);
            final double after = requestsPerSecond(rig);
            System.err.printf("rig: %s (%s): the download paused at most %s ms; %.1f requests/s before, %.1f " +
                "after; %s%n", fault, rig.accelerator().accelerator(), result.group(3), before, after,
                takeoverLines(events));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"kill", "panic", "mce"})
    void longLivedEchoConnectionsGetEveryByteBackInOrderWhenThePrimarysKernelDies(final String fault)
        throws Exception
    {
        try (Rig rig = Rig.open(new RigContext()))
        {
            startReplicas(rig, "/usr/bin/python3 " + COORDINATOR_TEST_RESOURCES.resolve("echo_server.py") + " " +
                ECHO_PORT + " EpollSelector 0 " + RigNetwork.VIRTUAL_IP);
            awaitClientSucceeds(rig, "python3", "-c", "import socket; socket.create_connection(('" +
                RigNetwork.VIRTUAL_IP + "', " + ECHO_PORT + "), 5).close()");
            final String report;
            try (ClientCapture capture = ClientCapture.start(rig.network(), rig.context().workDir()
                .resolve("client-" + ECHO_PORT + ".pcap"), ECHO_PORT))
            {
                final Process clients = new ProcessBuilder(rig.network().inClient("python3",
                    COORDINATOR_TEST_RESOURCES.resolve("echo_clients.py").toString(), RigNetwork.VIRTUAL_IP,
                    String.valueOf(ECHO_PORT), String.valueOf(ECHO_CLIENTS), String.valueOf(ECHO_SECONDS),
                    String.valueOf(ECHO_PATIENCE_SECONDS)))
                    .redirectErrorStream(true).start();
                Thread.sleep(6000);
                inject(rig, fault);
                report = new String(clients.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(clients.waitFor(ECHO_SECONDS + 2L * ECHO_PATIENCE_SECONDS, TimeUnit.SECONDS),
                    "the clients did not finish");
                assertEquals(0, clients.exitValue(), () -> report + rig.vm(1).diagnostics() +
                    "\n--- the client's connections:\n" + rig.network().runInClient(10_000, "ss", "-tnie").stdout() +
                    capture.lastSegments(failedPorts(report), STALL_SEGMENTS));
            }
            assertTrue(report.contains("clients=" + ECHO_CLIENTS + " errors=0"), report);
            final String events = assertTookOver(rig, ECHO_CLIENTS);
            System.err.printf("rig: %s (%s): echo connections: %s; %s%n", fault, rig.accelerator().accelerator(),
                report.lines().findFirst().orElse(""), takeoverLines(events));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"kill", "panic", "mce"})
    void everyRequestOfARunOfManyIsServedWhenThePrimarysKernelDies(final String fault) throws Exception
    {
        try (RigSite site = site(); Rig rig = Rig.open(new RigContext()))
        {
            startLighttpd(rig, site);
            final Process ab = new ProcessBuilder(rig.network().inClient("ab", "-n", String.valueOf(AB_REQUESTS),
                "-c", "8", "-s", "60", url("page.html"))).redirectErrorStream(true).start();
            Thread.sleep(6000);
            inject(rig, fault);
            final String report = new String(ab.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(ab.waitFor(300, TimeUnit.SECONDS), "ab did not end");
            assertEquals(0, ab.exitValue(), () -> report + rig.vm(1).diagnostics());
            assertTrue(report.contains("Complete requests:      " + AB_REQUESTS), report);
            assertTrue(report.contains("Failed requests:        0"), report);
            final String events = assertTookOver(rig, 0);
            System.err.printf("rig: %s (%s): %d requests under ab -c 8, none failed; %s%n", fault,
                rig.accelerator().accelerator(), AB_REQUESTS, takeoverLines(events));
        }
    }

    /**
     * @return the client ports echo_clients.py names in its errors.
     */
    private static List<Integer> failedPorts(final String report)
    {
        return Pattern.compile("\\(port (\\d+)\\)").matcher(report).results()
            .map(port -> Integer.parseInt(port.group(1))).toList();
    }

    private static void startLighttpd(final Rig rig, final RigSite site) throws Exception
    {
        startReplicas(rig, site.lighttpd());
        awaitClientSucceeds(rig, "curl", "-sf", "-o", "/dev/null", url("page.html"));
    }

    private static void startReplicas(final Rig rig, final String program)
    {
        for (final ReplicaVm vm : rig.vms())
        {
            vm.start(GuestJava.coordinatorJob(COORDINATOR, vm.id(), HEARTBEAT_TIMEOUT_MS,
                "--service-address " + RigNetwork.VIRTUAL_IP + "/" + RigNetwork.PREFIX_LENGTH +
                " --service-device eth0", program));
        }
        for (final ReplicaVm vm : rig.vms())
        {
            vm.awaitBoot();
        }
    }

    private static void inject(final Rig rig, final String fault) throws Exception
    {
        switch (fault)
        {
            case "kill" -> FaultInjector.kill(rig.vm(0));
            case "panic" -> FaultInjector.panic(rig.vm(0));
            default -> FaultInjector.machineCheck(rig.vm(0));
        }
    }

    /**
     * Replica 1 leads epoch 2 and rebuilt at least {@code connections} connections in its kernel: the application's,
     * and those the dead kernel had opened and the application not accepted yet (a slow machine has some).
     *
     * @return its event log.
     */
    private static String assertTookOver(final Rig rig, final int connections) throws IOException
    {
        final ReplicaVm survivor = rig.vm(1);
        try (Mailbox box = rig.openMailbox())
        {
            assertEquals(2, box.control().epoch(), survivor::diagnostics);
            assertEquals(1, box.control().primaryId(), survivor::diagnostics);
        }
        final String events = Files.readString(survivor.share().resolve("events.log"));
        final Matcher rebuilt = Pattern.compile("(\\d+) connections rebuilt with TCP_REPAIR .*?, (\\d+) opened but " +
            "not accepted rebuilt").matcher(events);
        assertTrue(rebuilt.find() &&
            Integer.parseInt(rebuilt.group(1)) + Integer.parseInt(rebuilt.group(2)) >= connections, events);
        return events;
    }

    /**
     * A site with a page and a file of {@link #FILE_LENGTH} random bytes.
     */
    private static RigSite site() throws IOException
    {
        final byte[] bytes = new byte[FILE_LENGTH];
        new Random(6).nextBytes(bytes);
        return RigSite.create().file("big.bin", bytes).file("page.html", new byte[4096]);
    }

    private static String url(final String file)
    {
        return RigSite.url(file);
    }

    private static void awaitClientSucceeds(final Rig rig, final String... command) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (!rig.network().runInClient(10_000, command).ok())
        {
            assertTrue(System.nanoTime() < deadline, () -> "the service did not come up on the virtual IP" +
                rig.vm(0).diagnostics() + rig.vm(1).diagnostics());
            Thread.sleep(500);
        }
    }

    /**
     * Throughput of the replicated lighttpd seen by the client, with no fault during the run.
     */
    private static double requestsPerSecond(final Rig rig)
    {
        final Exec.Result ab = rig.network().runInClient(120_000, "ab", "-q", "-n", "200", "-c", "4",
            url("page.html"));
        assertTrue(ab.ok() && ab.stdout().contains("Failed requests:        0"), ab.stdout() + ab.stderr());
        final Matcher rate = Pattern.compile("Requests per second:\\s+([\\d.]+)").matcher(ab.stdout());
        assertTrue(rate.find(), ab.stdout());
        return Double.parseDouble(rate.group(1));
    }

    private static String takeoverLines(final String events)
    {
        return String.join("; ", events.lines().filter(line -> line.contains("took over as primary") ||
            line.contains("service address")).map(line -> line.substring(line.indexOf("replica"))).toList());
    }

    private static Path script(final String name) throws IOException
    {
        final Path file = Files.createTempDirectory("replicore-rig-client").resolve(name);
        try (InputStream in = ConnectionsAcrossKernelsTest.class.getResourceAsStream(name))
        {
            Files.copy(in, file);
        }
        return file;
    }

    private static String sha256(final Path file) throws Exception
    {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
