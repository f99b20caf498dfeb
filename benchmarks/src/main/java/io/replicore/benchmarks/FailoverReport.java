package io.replicore.benchmarks;

import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.replicore.benchmarks.Reports.csv;
import static io.replicore.benchmarks.Reports.ratio;
import static io.replicore.benchmarks.Reports.readLines;
import static io.replicore.benchmarks.Reports.readString;
import static io.replicore.benchmarks.Reports.writeLines;

/**
 * The report of bin/bench-failover: lighttpd under {@code ab -c 20} unreplicated, replicated, and replicated with its
 * primary's partition killed half-way. Reads what the script saved for each run under {@code OUT/runs/CONFIG/}:
 * <ul>
 *   <li>{@code ab.txt}, ab's report: complete, failed and non-2xx requests, requests per second;</li>
 *   <li>{@code ab.tsv}, ab's {@code -g} file: each request's total time (ttime, ms), for the latency percentiles;</li>
 *   <li>{@code times.tsv}, each request's start and end (µs since the epoch), recorded inside ab by the script's
 *   preloaded shim when ab creates the request's socket and when it closes it. ab's own {@code -g} file gives the
 *   start only to the whole second ("seconds" is apr_time_sec) and lists the requests sorted by time taken, so
 *   it cannot place completions in 100 ms bins nor find the gap around the kill;</li>
 *   <li>{@code status.json}, {@code replicore status --json} before the run was stopped: for the killed run, when
 *   the backup saw the primary die and how long it took to take over.</li>
 * </ul>
 * Prints a table, writes {@code failover-summary.csv}, {@code failover-timeline.csv} (completions per 100 ms) and
 * {@code failover-throughput.png}.
 * <pre>
 *   java -cp benchmarks/target/benchmarks.jar io.replicore.benchmarks.FailoverReport OUT_DIR KILL_TIME \
 *       [KILL_RETURNED_TIME [SETTINGS [FAULT]]]
 * </pre>
 * KILL_TIME is when the script started the fault, FAULT ({@code replicore kill-replica 0} by default), and
 * KILL_RETURNED_TIME when it returned, in seconds since the epoch ({@code date +%s.%N}); the fault happened in
 * between. bin/bench-kernels reuses this report for replica kernels in the QEMU rig.
 */
public final class FailoverReport
{
    static final String SUMMARY_CSV = "failover-summary.csv";
    static final String TIMELINE_CSV = "failover-timeline.csv";
    static final String PNG = "failover-throughput.png";
    static final String RUNS = "runs";

    static final String UNREPLICATED = "unreplicated";
    static final String REPLICATED = "replicated";
    static final String KILLED = "primary-killed";
    /** The configurations in the order of the table, the CSV and the chart's series. */
    static final List<String> CONFIGS = List.of(UNREPLICATED, REPLICATED, KILLED);
    private static final List<String> LABELS = List.of(
        "unreplicated (1 CPU)", "replicated", "replicated, primary killed");
    private static final int KILLED_SERIES = CONFIGS.indexOf(KILLED);

    static final long BIN_US = 100_000;
    /** ab's -c: the clients, each with one request in flight. */
    private static final int CONCURRENCY = 20;
    private static final long US_PER_S = 1_000_000;
    private static final double US_PER_MS = 1000.0;
    /** The zoomed panel shows this much before and after the kill. */
    private static final double ZOOM_BEFORE_S = 2.0;
    private static final double ZOOM_AFTER_S = 3.0;

    /**
     * What ab's report says.
     */
    record AbReport(long complete, long failed, long non2xx, double requestsPerSecond, double seconds)
    {
    }

    /**
     * One request as the shim saw it: socket created, socket closed, µs since the epoch.
     */
    record Request(long startUs, long endUs)
    {
        long latencyUs()
        {
            return endUs - startUs;
        }
    }

    /**
     * One configuration's run: ab's report, the total times of its -g file (ms, sorted) and the shim's requests
     * (sorted by end).
     */
    record Run(String config, AbReport ab, long[] totalMs, List<Request> requests)
    {
        long firstStartUs()
        {
            long first = Long.MAX_VALUE;
            for (final Request request : requests)
            {
                first = Math.min(first, request.startUs());
            }
            return requests.isEmpty() ? 0 : first;
        }

        double percentileMs(final double percentile)
        {
            return totalMs.length == 0 ? Double.NaN : totalMs[rank(totalMs.length, percentile)];
        }

        /**
         * @return requests completed in each 100 ms from the run's first request, empty bins included.
         */
        long[] bins()
        {
            final long first = firstStartUs();
            long last = -1;
            for (final Request request : requests)
            {
                last = Math.max(last, (request.endUs() - first) / BIN_US);
            }
            final long[] bins = new long[(int)(last + 1)];
            for (final Request request : requests)
            {
                bins[(int)((request.endUs() - first) / BIN_US)]++;
            }
            return bins;
        }
    }

    /**
     * The killed run around the kill. {@code killUs} is the best estimate of the SIGKILL: when the backup saw the
     * primary's partition die (it watches a pidfd) if the mailbox recorded the failover, else the start of the gap.
     * The gap is the longest interval in which no request completed that overlaps the time from the kill command's
     * start to its return or the takeover, whichever is later: the primary dies somewhere in there.
     */
    record Failover(long killIssuedUs, long killReturnedUs, long detectedUs, long takeoverUs, double takeoverMs,
        long gapStartUs, long gapEndUs, long killUs, long[] inFlightUs)
    {
        boolean detected()
        {
            return detectedUs > 0;
        }

        double gapMs()
        {
            return (gapEndUs - gapStartUs) / US_PER_MS;
        }

        double inFlightPercentileMs(final double percentile)
        {
            return inFlightUs.length == 0 ? Double.NaN : inFlightUs[rank(inFlightUs.length, percentile)] / US_PER_MS;
        }
    }

    private static final Pattern COMPLETE = Pattern.compile("^Complete requests:\\s+(\\d+)", Pattern.MULTILINE);
    private static final Pattern FAILED = Pattern.compile("^Failed requests:\\s+(\\d+)", Pattern.MULTILINE);
    private static final Pattern NON_2XX = Pattern.compile("^Non-2xx responses:\\s+(\\d+)", Pattern.MULTILINE);
    private static final Pattern RPS = Pattern.compile("^Requests per second:\\s+([0-9.]+)", Pattern.MULTILINE);
    private static final Pattern TAKEN = Pattern.compile("^Time taken for tests:\\s+([0-9.]+)", Pattern.MULTILINE);
    private static final Pattern FAILOVER_MS = Pattern.compile("\"lastFailoverMs\":([0-9.]+)");
    private static final Pattern FAILOVER_TIME = Pattern.compile("\"lastFailoverTime\":\"([^\"]+)\"");

    private final Path out;
    private final List<Run> runs;
    private final Failover failover;
    private final String settings;
    private final String fault;

    private FailoverReport(final Path out, final List<Run> runs, final Failover failover, final String settings,
        final String fault)
    {
        this.fault = fault;
        this.out = out;
        this.runs = runs;
        this.failover = failover;
        this.settings = settings;
    }

    public static void main(final String[] args)
    {
        if (args.length < 2 || args.length > 5)
        {
            System.err.println("usage: FailoverReport OUT_DIR KILL_TIME [KILL_RETURNED_TIME [SETTINGS [FAULT]]]   " +
                "(times in " +
                "seconds since the epoch; reads OUT_DIR/runs/{" + String.join(",", CONFIGS) + "}/, writes " +
                SUMMARY_CSV + ", " + TIMELINE_CSV + ", " + PNG + " in OUT_DIR)");
            System.exit(2);
        }
        final long killIssuedUs = epochMicros(args[1]);
        final long killReturnedUs = args.length > 2 ? epochMicros(args[2]) : killIssuedUs;
        final FailoverReport report = read(Path.of(args[0]), killIssuedUs, killReturnedUs,
            args.length > 3 ? args[3] : "", args.length > 4 ? args[4] : "kill-replica 0");
        report.print(System.out);
        report.writeCsv();
        report.writePlot();
    }

    static FailoverReport read(final Path out, final long killIssuedUs, final long killReturnedUs,
        final String settings, final String fault)
    {
        final List<Run> runs = new ArrayList<>();
        for (final String config : CONFIGS)
        {
            final Path dir = out.resolve(RUNS).resolve(config);
            runs.add(new Run(config, readAb(dir.resolve("ab.txt")), readTotalTimes(dir.resolve("ab.tsv")),
                readRequests(dir.resolve("times.tsv"))));
        }
        final Run killed = runs.get(KILLED_SERIES);
        final Failover failover = failover(killed, killIssuedUs, killReturnedUs,
            out.resolve(RUNS).resolve(KILLED).resolve("status.json"));
        return new FailoverReport(out, runs, failover, settings, fault);
    }

    static Failover failover(final Run run, final long killIssuedUs, final long killReturnedUs, final Path status)
    {
        long takeoverUs = 0;
        double takeoverMs = Double.NaN;
        long detectedUs = 0;
        final String json = Files.exists(status) ? readString(status) : "";
        final Matcher time = FAILOVER_TIME.matcher(json);
        final Matcher took = FAILOVER_MS.matcher(json);
        if (time.find() && took.find())
        {
            final Instant at = Instant.parse(time.group(1));
            takeoverUs = at.getEpochSecond() * US_PER_S + at.getNano() / 1000;
            takeoverMs = Double.parseDouble(took.group(1));
            detectedUs = takeoverUs - Math.round(takeoverMs * US_PER_MS);
        }

        final long[] ends = new long[run.requests().size()];
        for (int i = 0; i < ends.length; i++)
        {
            ends[i] = run.requests().get(i).endUs();
        }
        final long windowStart = killIssuedUs;
        final long windowEnd = Math.max(killReturnedUs, takeoverUs);
        // Intervals between consecutive completions, and from the first request's start to the first completion.
        long gapStart = -1;
        long gapEnd = -1;
        long previous = run.firstStartUs();
        for (final long end : ends)
        {
            if (end >= windowStart && previous <= windowEnd && end - previous > gapEnd - gapStart)
            {
                gapStart = previous;
                gapEnd = end;
            }
            previous = end;
        }
        if (gapEnd < 0)
        {
            throw new IllegalStateException(String.format(Locale.ROOT, "%s: no request completed after the kill " +
                "(kill command at %.6f s, last completion at %.6f s)", KILLED, killIssuedUs / 1e6,
                ends.length == 0 ? Double.NaN : ends[ends.length - 1] / 1e6));
        }

        final long killUs = detectedUs > 0 ? detectedUs : gapStart;
        final List<Long> inFlight = new ArrayList<>();
        for (final Request request : run.requests())
        {
            if (request.startUs() <= killUs && request.endUs() > killUs)
            {
                inFlight.add(request.latencyUs());
            }
        }
        final long[] inFlightUs = inFlight.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Failover(killIssuedUs, killReturnedUs, detectedUs, takeoverUs, takeoverMs, gapStart, gapEnd, killUs,
            inFlightUs);
    }

    void print(final PrintStream ps)
    {
        final Run base = runs.get(0);
        ps.println();
        ps.println("lighttpd serving a 32 KiB page to ab -c " + CONCURRENCY + " (a new connection per request), " +
            "unreplicated and replicated");
        if (!settings.isEmpty())
        {
            ps.println(settings);
        }
        ps.println("(x unrepl: requests/s over the unreplicated run's; +p50/+p99: latency added to the unreplicated " +
            "run's; p50/p99 from ab's -g total times, ms)");
        ps.printf(Locale.ROOT, "%-15s %9s %7s %8s %10s %9s %7s %7s %8s %8s %12s%n",
            "config", "requests", "failed", "non-2xx", "req/s", "x unrepl", "p50 ms", "p99 ms", "+p50", "+p99",
            "failover ms");
        for (final Run run : runs)
        {
            final boolean isBase = run == base;
            ps.printf(Locale.ROOT, "%-15s %9d %7d %8d %10.1f %8.3fx %7.0f %7.0f %8s %8s %12s%n",
                run.config(), run.ab().complete(), run.ab().failed(), run.ab().non2xx(),
                run.ab().requestsPerSecond(), ratio(run.ab().requestsPerSecond(), base.ab().requestsPerSecond()),
                run.percentileMs(50), run.percentileMs(99),
                isBase ? "-" : signed(run.percentileMs(50) - base.percentileMs(50)),
                isBase ? "-" : signed(run.percentileMs(99) - base.percentileMs(99)),
                run.config().equals(KILLED) ? String.format(Locale.ROOT, "%.1f", failover.gapMs()) : "-");
        }

        final Run killed = runs.get(KILLED_SERIES);
        final long origin = killed.firstStartUs();
        ps.println();
        ps.printf(Locale.ROOT, "%s, seconds from its first request: %s started at %.3f s and returned at %.3f s%n",
            KILLED, fault, seconds(failover.killIssuedUs() - origin), seconds(failover.killReturnedUs() - origin));
        if (failover.detected())
        {
            ps.printf(Locale.ROOT, "  the backup saw the primary die at %.3f s (%.0f ms after the command started: " +
                "mostly its JVM starting) and took over in %.3f ms%n", seconds(failover.detectedUs() - origin),
                (failover.detectedUs() - failover.killIssuedUs()) / US_PER_MS, failover.takeoverMs());
        }
        else
        {
            ps.println("  the mailbox recorded no failover time; the kill is taken to be the gap's start");
        }
        long before = 0;
        for (final Request request : killed.requests())
        {
            before += request.endUs() <= failover.killUs() ? 1 : 0;
        }
        ps.printf(Locale.ROOT, "  %d of the %d requests had completed by then (%.0f%%)%n", before,
            killed.requests().size(), 100.0 * before / Math.max(1, killed.requests().size()));
        ps.printf(Locale.ROOT, "  no request completed from %.3f s to %.3f s: %.1f ms (failover_ms); the first " +
            "completion came %.1f ms after the kill%n", seconds(failover.gapStartUs() - origin),
            seconds(failover.gapEndUs() - origin), failover.gapMs(),
            (failover.gapEndUs() - failover.killUs()) / US_PER_MS);
        if (failover.detected() &&
            (failover.detectedUs() < failover.gapStartUs() || failover.detectedUs() > failover.gapEndUs()))
        {
            ps.println("  WARNING: the backup saw the kill outside that gap: the longest pause near the kill was " +
                "not the failover, so failover_ms is not the failover's");
        }
        ps.printf(Locale.ROOT, "  %d requests were in flight at the kill; their latency p50 %.1f ms, p99 %.1f ms, " +
            "max %.1f ms%n", failover.inFlightUs().length, failover.inFlightPercentileMs(50),
            failover.inFlightPercentileMs(99), failover.inFlightPercentileMs(100));

        for (final Run run : runs)
        {
            // ab may open a few connections more than it counts as requests near the end, one per client at most.
            final long recorded = run.requests().size();
            final long counted = run.ab().complete() + run.ab().failed();
            if (recorded < run.ab().complete() || recorded > counted + CONCURRENCY ||
                run.totalMs().length != run.ab().complete())
            {
                ps.printf(Locale.ROOT, "WARNING: %s: ab reports %d complete requests, its -g file has %d, the " +
                    "shim recorded %d sockets closed%n", run.config(), run.ab().complete(), run.totalMs().length,
                    recorded);
            }
        }
        ps.println();
        ps.println("Wrote " + out.resolve(SUMMARY_CSV) + ", " + out.resolve(TIMELINE_CSV) + ", " + out.resolve(PNG));
    }

    void writeCsv()
    {
        final List<String> lines = new ArrayList<>();
        lines.add("config,requests,failed,non2xx,rps,p50_ms,p99_ms,failover_ms,inflight_requests,inflight_p99_ms," +
            "takeover_ms");
        for (final Run run : runs)
        {
            final boolean killed = run.config().equals(KILLED);
            lines.add(String.join(",", run.config(), Long.toString(run.ab().complete()),
                Long.toString(run.ab().failed()), Long.toString(run.ab().non2xx()),
                csv(run.ab().requestsPerSecond(), 2), csv(run.percentileMs(50), 0), csv(run.percentileMs(99), 0),
                killed ? csv(failover.gapMs(), 1) : "", killed ? Integer.toString(failover.inFlightUs().length) : "",
                killed ? csv(failover.inFlightPercentileMs(99), 1) : "", killed ? csv(failover.takeoverMs(), 3) : ""));
        }
        writeLines(out.resolve(SUMMARY_CSV), lines);

        lines.clear();
        lines.add("config,t_s,requests_completed_in_bin");
        for (final Run run : runs)
        {
            final long[] bins = run.bins();
            for (int i = 0; i < bins.length; i++)
            {
                lines.add(run.config() + "," + csv(i * BIN_US / (double)US_PER_S, 1) + "," + bins[i]);
            }
        }
        writeLines(out.resolve(TIMELINE_CSV), lines);
    }

    void writePlot()
    {
        final double perSecond = (double)US_PER_S / BIN_US;
        final Run killed = runs.get(KILLED_SERIES);
        final double killS = seconds(failover.killUs() - killed.firstStartUs());

        final List<LineChart.Line> whole = new ArrayList<>();
        final List<LineChart.Line> zoom = new ArrayList<>();
        for (int s = 0; s < runs.size(); s++)
        {
            final long[] bins = runs.get(s).bins();
            final double[] x = new double[bins.length];
            final double[] y = new double[bins.length];
            for (int i = 0; i < bins.length; i++)
            {
                x[i] = (i + 0.5) * BIN_US / US_PER_S;
                y[i] = bins[i] * perSecond;
            }
            whole.add(new LineChart.Line(s, x, y));
            if (runs.get(s).config().equals(UNREPLICATED))
            {
                continue;
            }
            // The same stretch of each replicated run, in seconds from the kill in the killed run.
            final int from = Math.max(0, (int)Math.ceil((killS - ZOOM_BEFORE_S) * perSecond));
            final int to = Math.min(bins.length, (int)Math.ceil((killS + ZOOM_AFTER_S) * perSecond));
            if (from < to)
            {
                final double[] zx = new double[to - from];
                for (int i = from; i < to; i++)
                {
                    zx[i - from] = x[i] - killS;
                }
                zoom.add(new LineChart.Line(s, zx, Arrays.copyOfRange(y, from, to)));
            }
        }
        final String rate = "requests completed / s (100 ms bins)";
        final String gap = String.format(Locale.ROOT, "no completion for %.0f ms", failover.gapMs());
        final List<LineChart.Panel> panels = List.of(
            new LineChart.Panel("Whole runs", "seconds from the run's first request", rate, whole,
                List.of(new LineChart.Marker(killS, KILLED_SERIES, "primary killed"))),
            new LineChart.Panel("Replicated runs around the kill (" + gap + ")", "seconds from the kill", rate, zoom,
                List.of(new LineChart.Marker(0, KILLED_SERIES, "primary killed"))));
        final Run base = runs.get(0);
        final String subtitle = String.format(Locale.ROOT, "lighttpd, 32 KiB page, ab -n %d -c %d, a connection " +
            "per request; %d CPUs%s", base.ab().complete() + base.ab().failed(), CONCURRENCY,
            Runtime.getRuntime().availableProcessors(), settings.isEmpty() ? "" : "; " + settings);
        LineChart.write(out.resolve(PNG), "lighttpd throughput: unreplicated, replicated, primary killed", subtitle,
            LABELS, panels);
    }

    static AbReport readAb(final Path file)
    {
        final String text = readString(file);
        final long complete = (long)find(COMPLETE, text, file, true);
        final double taken = find(TAKEN, text, file, true);
        return new AbReport(complete, (long)find(FAILED, text, file, true), (long)find(NON_2XX, text, file, false),
            find(RPS, text, file, true), taken);
    }

    /**
     * @return the total times (ttime, ms) of ab's -g file, sorted.
     */
    static long[] readTotalTimes(final Path file)
    {
        final List<String> lines = readLines(file);
        final long[] times = new long[Math.max(0, lines.size() - 1)];
        for (int i = 1; i < lines.size(); i++)
        {
            final String[] f = lines.get(i).split("\t");
            if (f.length != 6)
            {
                throw new IllegalArgumentException(file + ": expected 6 tab-separated fields in '" + lines.get(i) + "'");
            }
            times[i - 1] = Long.parseLong(f[4].trim());
        }
        Arrays.sort(times);
        return times;
    }

    /**
     * @return the shim's requests, sorted by end.
     */
    static List<Request> readRequests(final Path file)
    {
        final List<String> lines = readLines(file);
        final List<Request> requests = new ArrayList<>();
        for (final String line : lines.subList(Math.min(1, lines.size()), lines.size()))
        {
            final String[] f = line.split("\t");
            if (f.length != 2)
            {
                throw new IllegalArgumentException(file + ": expected start_us<TAB>end_us in '" + line + "'");
            }
            requests.add(new Request(Long.parseLong(f[0]), Long.parseLong(f[1])));
        }
        requests.sort(Comparator.comparingLong(Request::endUs));
        return requests;
    }

    /**
     * @return the index of the nearest-rank percentile in a sorted array of {@code length} values.
     */
    static int rank(final int length, final double percentile)
    {
        return Math.max(0, Math.min(length - 1, (int)Math.ceil(percentile / 100 * length) - 1));
    }

    static long epochMicros(final String seconds)
    {
        return new BigDecimal(seconds.trim()).movePointRight(6).longValue();
    }

    private static double find(final Pattern pattern, final String text, final Path file, final boolean required)
    {
        final Matcher matcher = pattern.matcher(text);
        if (matcher.find())
        {
            return Double.parseDouble(matcher.group(1));
        }
        if (required)
        {
            throw new IllegalArgumentException(file + ": no line matching " + pattern.pattern());
        }
        return 0;
    }

    private static double seconds(final long micros)
    {
        return micros / (double)US_PER_S;
    }

    private static String signed(final double value)
    {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%+.0f", value) : "n/a";
    }
}
