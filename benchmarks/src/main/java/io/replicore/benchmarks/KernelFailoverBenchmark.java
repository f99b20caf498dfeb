package io.replicore.benchmarks;

import io.replicore.qemutests.Exec;
import io.replicore.qemutests.FaultInjector;
import io.replicore.qemutests.GuestJava;
import io.replicore.qemutests.ReplicaVm;
import io.replicore.qemutests.Rig;
import io.replicore.qemutests.RigContext;
import io.replicore.qemutests.RigNetwork;
import io.replicore.qemutests.RigSite;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * FT-Popcorn's failover figure across replica kernels (the QEMU rig, bin/bench-kernels): lighttpd serving a 32 KiB
 * page on the service address to {@code ab -c 20} in the client's namespace, a new connection per request, in the
 * three runs {@link FailoverReport} reads and reports:
 * <ul>
 *   <li>unreplicated: lighttpd alone in one replica kernel (one virtual CPU), holding the service address itself;</li>
 *   <li>replicated: lighttpd over two replica kernels, a coordinator in each ({@code --partition kernel}, the
 *   service address, the acknowledgement gate unless {@code --no-ack-gate});</li>
 *   <li>primary-killed: the same, and the primary's kernel dies by FAULT (kill, panic or mce, as the rig injects
 *   them) once ab reports half of the requests done.</li>
 * </ul>
 * Each run boots its own kernels. ab runs with the shim of bin/bench-failover preloaded, which records each request's
 * start and end on the host's clock, the clock the kill is timed with. Fails if a run does not complete every
 * request or the replicas do not end in the expected roles.
 * <pre>
 *   java -cp benchmarks.jar io.replicore.benchmarks.KernelFailoverBenchmark OUT REQUESTS FAULT SHIM COORDINATOR_TARGET
 *       [--no-ack-gate]
 * </pre>
 */
public final class KernelFailoverBenchmark
{
    private static final int CONCURRENCY = 20;
    private static final int PAGE_BYTES = 32 * 1024;
    private static final String PAGE = "page.html";
    private static final long HEARTBEAT_TIMEOUT_MS = 1500;
    private static final long UP_TIMEOUT_MS = TimeUnit.MINUTES.toMillis(4);
    private static final long AB_TIMEOUT_MS = TimeUnit.MINUTES.toMillis(15);

    private final Path out;
    private final int requests;
    private final String fault;
    private final Path shim;
    private final Path coordinatorTarget;
    private final boolean gate;
    private final RigSite site;
    private String accelerator = "?";

    private KernelFailoverBenchmark(final Path out, final int requests, final String fault, final Path shim,
        final Path coordinatorTarget, final boolean gate) throws IOException
    {
        this.out = out;
        this.requests = requests;
        this.fault = fault;
        this.shim = shim;
        this.coordinatorTarget = coordinatorTarget;
        this.gate = gate;
        final byte[] random = new byte[PAGE_BYTES * 3 / 4];
        new Random().nextBytes(random);
        this.site = RigSite.create().file(PAGE, Base64.getEncoder().encode(random)); // 32 KiB of printable bytes
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length < 5 || args.length > 6 || (args.length == 6 && !"--no-ack-gate".equals(args[5])) ||
            !List.of("kill", "panic", "mce").contains(args[2]))
        {
            System.err.println("usage: KernelFailoverBenchmark OUT REQUESTS kill|panic|mce SHIM COORDINATOR_TARGET " +
                "[--no-ack-gate]");
            System.exit(2);
        }
        final KernelFailoverBenchmark benchmark = new KernelFailoverBenchmark(Path.of(args[0]).toAbsolutePath(),
            Integer.parseInt(args[1]), args[2], Path.of(args[3]).toAbsolutePath(), Path.of(args[4]).toAbsolutePath(),
            args.length == 5);
        try
        {
            benchmark.unreplicated();
            benchmark.replicated(false);
            final long[] kill = benchmark.replicated(true);
            FailoverReport.main(new String[]{args[0], seconds(kill[0]), seconds(kill[1]), String.format(Locale.ROOT,
                "replica kernels under QEMU (%s), one virtual CPU each, %s", benchmark.accelerator,
                benchmark.gate ? "acknowledgement gate" : "no acknowledgement gate"),
                "the " + benchmark.fault + " of replica-0's kernel"});
        }
        finally
        {
            benchmark.site.close();
        }
    }

    private void unreplicated() throws Exception
    {
        final Path dir = runDir(FailoverReport.UNREPLICATED);
        try (Rig rig = Rig.open(new RigContext()))
        {
            accelerator = rig.accelerator().accelerator().toString();
            say(FailoverReport.UNREPLICATED + ": lighttpd alone in replica-0's kernel, on " + RigNetwork.VIRTUAL_IP +
                " (replica-1's kernel is not started)");
            rig.vm(0).start("ip address add " + RigNetwork.VIRTUAL_IP + "/" + RigNetwork.PREFIX_LENGTH +
                " dev eth0\nexec " + site.lighttpd() + "\n");
            rig.vm(0).awaitBoot();
            awaitUp(rig);
            final Process ab = startAb(rig, dir);
            finishAb(ab, dir, rig);
        }
    }

    /**
     * @return for the killed run, when the fault was injected and when the injection returned, in µs since the
     * epoch; otherwise nothing.
     */
    private long[] replicated(final boolean kill) throws Exception
    {
        final String config = kill ? FailoverReport.KILLED : FailoverReport.REPLICATED;
        final Path dir = runDir(config);
        try (Rig rig = Rig.open(new RigContext()))
        {
            say(config + ": lighttpd over two replica kernels" + (kill ? ", the primary's kernel hit by " + fault +
                " when half the requests are done" : ""));
            for (final ReplicaVm vm : rig.vms())
            {
                vm.start(GuestJava.coordinatorJob(coordinatorTarget, vm.id(), HEARTBEAT_TIMEOUT_MS,
                    "--service-address " + RigNetwork.VIRTUAL_IP + "/" + RigNetwork.PREFIX_LENGTH +
                    " --service-device eth0" + (gate ? "" : " --no-ack-gate"),
                    site.lighttpd()));
            }
            for (final ReplicaVm vm : rig.vms())
            {
                vm.awaitBoot();
            }
            awaitUp(rig);
            final Process ab = startAb(rig, dir);
            long[] killed = new long[0];
            if (kill)
            {
                awaitHalf(ab, dir);
                final long issued = nowUs();
                switch (fault)
                {
                    case "kill" -> FaultInjector.kill(rig.vm(0));
                    case "panic" -> FaultInjector.panic(rig.vm(0));
                    default -> FaultInjector.machineCheck(rig.vm(0));
                }
                killed = new long[]{issued, nowUs()};
                say(config + ": " + fault + " injected into replica-0's kernel");
            }
            finishAb(ab, dir, rig);
            final Exec.Result status = Exec.run(30_000, "bin/replicore", "status", "--mailbox",
                rig.mailboxPath().toString(), "--json");
            // The failover's time is the new primary's kernel's clock, not this host's: the report is left the
            // client's gap to time it by.
            Files.writeString(dir.resolve("status.json"),
                status.stdout().replaceAll("\"lastFailoverTime\":\"[^\"]*\"", "\"lastFailoverTime\":null"));
            final String expected = kill ? "\"epoch\":2" : "\"epoch\":1";
            if (!status.stdout().contains(expected) || !status.stdout().contains("\"primary\":" + (kill ? 1 : 0)))
            {
                throw new IllegalStateException(config + ": the replicas are not where they should be, the figures " +
                    "are not valid: " + status.stdout() + status.stderr() + rig.vm(1).diagnostics());
            }
            Files.copy(rig.vm(kill ? 1 : 0).share().resolve("events.log"), dir.resolve("events.log"));
            final Matcher records = Pattern.compile("\"logSequence\":(\\d+)").matcher(status.stdout());
            if (!kill && records.find())
            {
                // the primary's slot comes first: records it appended for this run's requests and the first ones
                say(String.format(Locale.ROOT, "%s: %d log records, %.1f per request (the probes' and the set-up's "
                    + "included)", config, Long.parseLong(records.group(1)),
                    Long.parseLong(records.group(1)) / (double)requests));
            }
            return killed;
        }
    }

    private static long nowUs()
    {
        final java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }

    private static String seconds(final long us)
    {
        return String.format(Locale.ROOT, "%d.%06d", us / 1_000_000, us % 1_000_000);
    }

    private void awaitUp(final Rig rig) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(UP_TIMEOUT_MS);
        while (!rig.network().runInClient(10_000, "curl", "-sf", "-o", "/dev/null", url()).ok())
        {
            if (System.nanoTime() - deadline > 0)
            {
                throw new IllegalStateException("the service did not come up on " + url() + rig.vm(0).diagnostics());
            }
            Thread.sleep(500);
        }
    }

    private Process startAb(final Rig rig, final Path dir) throws IOException
    {
        return new ProcessBuilder(rig.network().inClient("env", "AB_TIMES=" + dir.resolve("times.tsv"),
            "LD_PRELOAD=" + shim, "ab", "-n", String.valueOf(requests), "-c", String.valueOf(CONCURRENCY), "-s", "60",
            "-g", dir.resolve("ab.tsv").toString(), url()))
            .redirectOutput(dir.resolve("ab.txt").toFile()).redirectError(dir.resolve("ab.err").toFile()).start();
    }

    /**
     * ab reports on standard error every tenth of the requests (or every 100).
     */
    private void awaitHalf(final Process ab, final Path dir) throws IOException, InterruptedException
    {
        final int heartbeat = Math.max(requests / 10, 100);
        final String half = "Completed " + (requests / 2 / heartbeat * heartbeat) + " requests";
        while (!Files.readString(dir.resolve("ab.err")).contains(half))
        {
            if (!ab.isAlive())
            {
                throw new IllegalStateException("ab ended before it reported: " + half);
            }
            Thread.sleep(20);
        }
    }

    private void finishAb(final Process ab, final Path dir, final Rig rig) throws IOException, InterruptedException
    {
        if (!ab.waitFor(AB_TIMEOUT_MS, TimeUnit.MILLISECONDS))
        {
            ab.destroyForcibly();
            throw new IllegalStateException(dir.getFileName() + ": ab did not finish" + rig.vm(1).diagnostics());
        }
        final String report = Files.readString(dir.resolve("ab.txt"));
        if (ab.exitValue() != 0 || !report.contains("Complete requests:      " + requests))
        {
            throw new IllegalStateException(dir.getFileName() + ": ab exited " + ab.exitValue() + ": " + report +
                Files.readString(dir.resolve("ab.err")) + rig.vm(1).diagnostics());
        }
        say(dir.getFileName() + ": " + report.lines().filter(line -> line.startsWith("Failed requests") ||
            line.startsWith("Requests per second")).map(String::trim).reduce((a, b) -> a + "; " + b).orElse(""));
    }

    private Path runDir(final String config) throws IOException
    {
        final Path dir = out.resolve(FailoverReport.RUNS).resolve(config);
        Files.createDirectories(dir);
        return dir;
    }

    private static String url()
    {
        return RigSite.url(PAGE);
    }

    private static void say(final String line)
    {
        System.out.println("bench-kernels: " + line);
    }
}
