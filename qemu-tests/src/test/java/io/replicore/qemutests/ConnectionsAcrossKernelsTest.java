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
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live TCP connections across the death of a whole replica kernel: lighttpd replicated over two replica kernels
 * (a coordinator in each with {@code --partition kernel}) serves the virtual IP to a client in its own namespace.
 * Replica 0's kernel dies in the middle of a long download, by each fault the rig injects; replica 1's kernel sees
 * its heartbeats stop, rebuilds the connection with TCP_REPAIR from the log, takes the virtual IP over, and the
 * client's download goes on to the last byte. The client-side pause and the throughput before and after are
 * printed. (A download depends on nothing the window of architecture 6c leaves open: the client only
 * acknowledges.)
 */
@Tag("qemu")
class ConnectionsAcrossKernelsTest
{
    private static final Path COORDINATOR = Path.of(System.getProperty("replicore.rig.coordinatorTarget",
        "../coordinator/target")).toAbsolutePath().normalize();
    private static final int PORT = 8080;
    private static final long HEARTBEAT_TIMEOUT_MS = 1500;
    private static final int FILE_LENGTH = 24 << 20;
    private static final int RATE = 2 << 20;
    private static final Pattern RESULT = Pattern.compile("bytes=(\\d+) sha256=(\\w+) longest_gap_ms=([\\d.]+)");

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"kill", "panic", "mce"})
    void aDownloadFromTheVirtualIpArrivesWholeWhenThePrimarysKernelDies(final String fault) throws Exception
    {
        final Path site = site();
        try (Rig rig = Rig.open(new RigContext()))
        {
            serve(rig, site, fault);
        }
        finally
        {
            try (var files = Files.list(site))
            {
                for (final Path file : files.toList())
                {
                    Files.delete(file);
                }
            }
            Files.delete(site);
        }
    }

    private static void serve(final Rig rig, final Path site, final String fault) throws Exception
    {
        for (final ReplicaVm vm : rig.vms())
        {
            vm.start(GuestJava.coordinatorJob(COORDINATOR, vm.id(), HEARTBEAT_TIMEOUT_MS,
                "--partition kernel --service-address " + RigNetwork.VIRTUAL_IP + "/" + RigNetwork.PREFIX_LENGTH +
                " --service-device eth0", "/usr/sbin/lighttpd -D -f " + site.resolve("lighttpd.conf")));
        }
        for (final ReplicaVm vm : rig.vms())
        {
            vm.awaitBoot();
        }
        awaitService(rig);
        final double before = requestsPerSecond(rig);

        final Process download = new ProcessBuilder(rig.network().inClient("python3",
            script("slow_download.py").toString(), url("big.bin"), String.valueOf(RATE)))
            .redirectErrorStream(true).start();
        Thread.sleep(4000);
        final FaultInjector.Injected injected = switch (fault)
        {
            case "kill" -> FaultInjector.kill(rig.vm(0));
            case "panic" -> FaultInjector.panic(rig.vm(0));
            default -> FaultInjector.machineCheck(rig.vm(0));
        };
        final String report = new String(download.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(download.waitFor(180, TimeUnit.SECONDS), "the download did not end");
        final ReplicaVm survivor = rig.vm(1);
        assertEquals(0, download.exitValue(), report + survivor.diagnostics());
        final Matcher result = RESULT.matcher(report);
        assertTrue(result.find(), report);
        assertEquals(FILE_LENGTH, Long.parseLong(result.group(1)), "bytes received" + survivor.diagnostics());
        assertEquals(sha256(site.resolve("big.bin")), result.group(2), "what the client received");
        try (Mailbox box = rig.openMailbox())
        {
            assertEquals(2, box.control().epoch(), survivor.diagnostics());
            assertEquals(1, box.control().primaryId(), survivor.diagnostics());
        }
        final String events = Files.readString(survivor.share().resolve("events.log"));
        assertTrue(events.contains("1 connections rebuilt with TCP_REPAIR"), events);
        final double after = requestsPerSecond(rig);
        System.err.printf("rig: %s (%s): the download paused at most %s ms; %.1f requests/s before, %.1f after; %s%n",
            fault, rig.accelerator().accelerator(), result.group(3), before, after,
            takeoverLines(events));
    }

    /**
     * A document root on the host's disk (the guests see it through their 9p root) with
     * a page, a file of {@link #FILE_LENGTH} random bytes and a lighttpd configuration on the virtual IP whose
     * error log is in the guest's /tmp (the overlay's upper layer, the guest's own).
     */
    private static Path site() throws IOException
    {
        final Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "replicore-rig-site");
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        final byte[] bytes = new byte[FILE_LENGTH];
        new Random(6).nextBytes(bytes);
        Files.write(dir.resolve("big.bin"), bytes);
        Files.write(dir.resolve("page.html"), new byte[4096]);
        Files.writeString(dir.resolve("lighttpd.conf"), String.join("\n",
            "server.document-root = \"" + dir + "\"",
            "server.bind = \"" + RigNetwork.VIRTUAL_IP + "\"",
            "server.port = " + PORT,
            "server.errorlog = \"/tmp/lighttpd-error.log\"",
            "server.pid-file = \"\"",
            ""));
        return dir;
    }

    private static String url(final String file)
    {
        return "http://" + RigNetwork.VIRTUAL_IP + ":" + PORT + "/" + file;
    }

    private static void awaitService(final Rig rig) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (!rig.network().runInClient(10_000, "curl", "-sf", "-o", "/dev/null", url("page.html")).ok())
        {
            assertTrue(System.nanoTime() < deadline, "lighttpd did not come up on the virtual IP" +
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
