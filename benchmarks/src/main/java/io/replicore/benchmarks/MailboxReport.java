package io.replicore.benchmarks;

import io.replicore.mailbox.MailboxContext;
import org.HdrHistogram.Histogram;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

import static io.replicore.benchmarks.Reports.csv;
import static io.replicore.benchmarks.Reports.ratio;
import static io.replicore.benchmarks.Reports.writeLines;

/**
 * The results of one run of {@link MailboxBenchmarkMain}: JMH's throughput scores and the round-trip histograms
 * the forks dumped, side by side for our channel and the bare ring, with the ratio of the two. Printed as a
 * table, written as CSV, plotted as PNG.
 */
final class MailboxReport
{
    static final String JMH_JSON = "mailbox-jmh.json";
    static final String THROUGHPUT_CSV = "mailbox-throughput.csv";
    static final String LATENCY_CSV = "mailbox-latency.csv";
    static final String THROUGHPUT_PNG = "mailbox-throughput.png";
    static final String LATENCY_PNG = "mailbox-latency.png";

    static final String CHANNEL = "channel";
    static final String BARE = "bare";
    /** Our channel first, then what it is compared against. */
    static final List<String> KINDS = List.of(CHANNEL, BARE);
    private static final List<String> KIND_LABELS = List.of("channel (seq + CRC32C)", "bare Agrona ring");

    private static final double[] PERCENTILES = { 50.0, 99.0, 99.9 };
    private static final List<String> PERCENTILE_LABELS = List.of("p50", "p99", "p99.9");
    private static final double NS_PER_US = 1000.0;
    /** The name of {@link MailboxThroughputBenchmark.Counters}'s counter among JMH's secondary results. */
    private static final String RING_FULL = "ringFull";
    /** Above this share of the CPU taken by others, a run's numbers say more about the machine than the mailbox. */
    private static final double INTERFERENCE_WARNING = 0.05;

    /**
     * Records per second with JMH's 99.9% confidence half-width, and how many of them found the ring full;
     * NaN where the benchmark did not run.
     */
    record Throughput(String kind, int size, double recordsPerSecond, double error, double ringFullPerSecond)
    {
        /**
         * @return records that had to wait for room, per million: near 0 means the writer sets the rate, not the
         * reader.
         */
        double ringFullPerMillion()
        {
            return recordsPerSecond > 0 ? ringFullPerSecond / recordsPerSecond * 1e6 : Double.NaN;
        }

        double megabytesPerSecond()
        {
            return recordsPerSecond * size / 1e6;
        }

        double megabytesError()
        {
            return error * size / 1e6;
        }
    }

    /**
     * Round trips of one (kind, size): the histogram the fork dumped (null if none) and JMH's mean score.
     */
    record Latency(String kind, int size, Histogram histogram, double jmhMeanUs, double jmhErrorUs)
    {
        double percentileUs(final double percentile)
        {
            return histogram == null ? Double.NaN : histogram.getValueAtPercentile(percentile) / NS_PER_US;
        }

        double meanUs()
        {
            return histogram == null ? Double.NaN : histogram.getMean() / NS_PER_US;
        }

        double maxUs()
        {
            return histogram == null ? Double.NaN : histogram.getMaxValue() / NS_PER_US;
        }

        long samples()
        {
            return histogram == null ? 0 : histogram.getTotalCount();
        }
    }

    private final Path out;
    private final List<Integer> throughputSizes;
    private final List<Integer> latencySizes;
    private final List<Throughput> throughput;
    private final List<Latency> latency;

    private MailboxReport(
        final Path out,
        final List<Integer> throughputSizes,
        final List<Integer> latencySizes,
        final List<Throughput> throughput,
        final List<Latency> latency)
    {
        this.out = out;
        this.throughputSizes = throughputSizes;
        this.latencySizes = latencySizes;
        this.throughput = throughput;
        this.latency = latency;
    }

    static MailboxReport from(final Collection<RunResult> results, final Path out)
    {
        final TreeSet<Integer> throughputSizes = new TreeSet<>();
        final TreeSet<Integer> latencySizes = new TreeSet<>();
        for (final RunResult result : results)
        {
            final BenchmarkParams params = result.getParams();
            final int size = Integer.parseInt(params.getParam("size"));
            (isLatency(params) ? latencySizes : throughputSizes).add(size);
        }

        final List<Throughput> throughput = new ArrayList<>();
        for (final int size : throughputSizes)
        {
            for (final String kind : KINDS)
            {
                final RunResult result = findResult(results, MailboxThroughputBenchmark.class, kind, size);
                final Result<?> score = result == null ? null : result.getPrimaryResult();
                final Result<?> ringFull = result == null ? null : result.getSecondaryResults().get(RING_FULL);
                throughput.add(new Throughput(kind, size,
                    score == null ? Double.NaN : score.getScore(), score == null ? Double.NaN : score.getScoreError(),
                    ringFull == null ? Double.NaN : ringFull.getScore()));
            }
        }

        final List<Latency> latency = new ArrayList<>();
        for (final int size : latencySizes)
        {
            for (final String kind : KINDS)
            {
                final RunResult result = findResult(results, MailboxLatencyBenchmark.class, kind, size);
                final Result<?> score = result == null ? null : result.getPrimaryResult();
                latency.add(new Latency(kind, size,
                    RoundTripRecorder.load(RoundTripRecorder.histogramFile(out, kind, size)),
                    score == null ? Double.NaN : score.getScore(), score == null ? Double.NaN : score.getScoreError()));
            }
        }
        return new MailboxReport(
            out, List.copyOf(throughputSizes), List.copyOf(latencySizes), throughput, latency);
    }

    /**
     * @param othersShare the share of the machine's CPU that other processes took during the run, or NaN.
     */
    void print(final PrintStream ps, final String settings, final long elapsedSeconds, final double othersShare)
    {
        ps.println();
        ps.println("Replicore mailbox: our channel (sequence + CRC32C per record) vs the bare Agrona ring, cross-process");
        ps.printf(Locale.ROOT, "%d CPUs (the JMH fork and the peer process both spin), channel capacity %d KiB, %s, " +
            "run took %d min %02d s%n", Runtime.getRuntime().availableProcessors(),
            MailboxContext.DEFAULT_CHANNEL_CAPACITY / 1024, settings, elapsedSeconds / 60, elapsedSeconds % 60);
        if (Double.isFinite(othersShare))
        {
            ps.printf(Locale.ROOT, "Other processes took %.1f%% of the machine's CPU during the run%s%n",
                othersShare * 100, othersShare > INTERFERENCE_WARNING ?
                " -- WARNING: both benchmark processes spin, so the numbers below are distorted; rerun when the " +
                "machine is quiet" : "");
        }

        ps.println();
        ps.println("One-way throughput (benchmark writes, peer process drains and copies each payload out; MB = 10^6 payload bytes; +- is JMH's 99.9% CI)");
        ps.printf(Locale.ROOT, "%-8s %8s %20s %22s %9s %15s%n",
            "kind", "payload", "Mrecords/s", "MB/s", "vs bare", "ring full/Mrec");
        for (final Throughput row : throughput)
        {
            ps.printf(Locale.ROOT, "%-8s %6d B %10.3f +- %6.3f %12.1f +- %6.1f %9.2f %15.1f%n",
                row.kind(), row.size(), row.recordsPerSecond() / 1e6, row.error() / 1e6,
                row.megabytesPerSecond(), row.megabytesError(), throughputRatio(row), row.ringFullPerMillion());
        }
        ps.println("(ring full/Mrec: records per million that found the ring full; near 0 = the writer sets the rate)");

        ps.println();
        ps.println("Round-trip latency, us (send, peer echoes on the reverse channel; every round trip in HdrHistogram)");
        ps.printf(Locale.ROOT, "%-8s %8s %11s %8s %8s %8s %8s %9s   %s%n",
            "kind", "payload", "samples", "mean", "p50", "p99", "p99.9", "max", "vs bare: p50 / p99 / p99.9");
        for (final Latency row : latency)
        {
            ps.printf(Locale.ROOT, "%-8s %6d B %11d %8.3f %8.3f %8.3f %8.3f %9.1f   %.2fx / %.2fx / %.2fx%n",
                row.kind(), row.size(), row.samples(), row.meanUs(),
                row.percentileUs(PERCENTILES[0]), row.percentileUs(PERCENTILES[1]), row.percentileUs(PERCENTILES[2]),
                row.maxUs(), latencyRatio(row, PERCENTILES[0]), latencyRatio(row, PERCENTILES[1]),
                latencyRatio(row, PERCENTILES[2]));
        }

        ps.println();
        final List<String> summary = new ArrayList<>();
        for (final int size : throughputSizes)
        {
            summary.add(String.format(Locale.ROOT, "throughput %.2f (%d B)",
                throughputRatio(findThroughput(throughput, CHANNEL, size)), size));
        }
        for (final int size : latencySizes)
        {
            final Latency row = findLatency(latency, CHANNEL, size);
            summary.add(String.format(Locale.ROOT, "p50 latency %.2fx, p99 %.2fx (%d B)",
                latencyRatio(row, PERCENTILES[0]), latencyRatio(row, PERCENTILES[1]), size));
        }
        ps.println("channel/bare: " + String.join("; ", summary));
    }

    void writeCsv()
    {
        final List<String> lines = new ArrayList<>();
        lines.add("kind,payload_bytes,mrecords_per_s,mrecords_per_s_error,mb_per_s,mb_per_s_error,ratio_to_bare," +
            "ring_full_per_million");
        for (final Throughput row : throughput)
        {
            lines.add(String.join(",", row.kind(), Integer.toString(row.size()),
                csv(row.recordsPerSecond() / 1e6, 4), csv(row.error() / 1e6, 4),
                csv(row.megabytesPerSecond(), 2), csv(row.megabytesError(), 2), csv(throughputRatio(row), 4),
                csv(row.ringFullPerMillion(), 2)));
        }
        writeLines(out.resolve(THROUGHPUT_CSV), lines);

        lines.clear();
        lines.add("kind,payload_bytes,samples,mean_us,p50_us,p99_us,p999_us,max_us,jmh_mean_us,jmh_mean_error_us," +
            "mean_ratio_to_bare,p50_ratio_to_bare,p99_ratio_to_bare,p999_ratio_to_bare");
        for (final Latency row : latency)
        {
            final Latency bare = findLatency(latency, BARE, row.size());
            lines.add(String.join(",", row.kind(), Integer.toString(row.size()), Long.toString(row.samples()),
                csv(row.meanUs(), 4), csv(row.percentileUs(PERCENTILES[0]), 4),
                csv(row.percentileUs(PERCENTILES[1]), 4), csv(row.percentileUs(PERCENTILES[2]), 4),
                csv(row.maxUs(), 4), csv(row.jmhMeanUs(), 4), csv(row.jmhErrorUs(), 4),
                csv(ratio(row.meanUs(), bare == null ? Double.NaN : bare.meanUs()), 4),
                csv(latencyRatio(row, PERCENTILES[0]), 4), csv(latencyRatio(row, PERCENTILES[1]), 4),
                csv(latencyRatio(row, PERCENTILES[2]), 4)));
        }
        writeLines(out.resolve(LATENCY_CSV), lines);
    }

    /**
     * The full percentile distribution of each histogram in µs, in HdrHistogram's usual text form, for a closer look
     * than the table gives.
     */
    void writeHistograms()
    {
        for (final Latency row : latency)
        {
            if (row.histogram() == null)
            {
                continue;
            }
            final Path file = out.resolve("latency-" + row.kind() + "-" + row.size() + ".hgrm");
            try (PrintStream ps = new PrintStream(Files.newOutputStream(file), false, StandardCharsets.US_ASCII))
            {
                row.histogram().outputPercentileDistribution(ps, NS_PER_US);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot write " + file, ex);
            }
        }
    }

    void writePlots(final String settings)
    {
        final String subtitle = Runtime.getRuntime().availableProcessors() + " CPUs, writer and peer in separate " +
            "processes sharing /dev/shm; " + settings;

        final List<String> sizeLabels = new ArrayList<>();
        final double[][] records = new double[KINDS.size()][throughputSizes.size()];
        final double[][] recordsError = new double[KINDS.size()][throughputSizes.size()];
        final double[][] megabytes = new double[KINDS.size()][throughputSizes.size()];
        final double[][] megabytesError = new double[KINDS.size()][throughputSizes.size()];
        for (int c = 0; c < throughputSizes.size(); c++)
        {
            sizeLabels.add(sizeLabel(throughputSizes.get(c)) + " payload");
            for (int s = 0; s < KINDS.size(); s++)
            {
                final Throughput row = findThroughput(throughput, KINDS.get(s), throughputSizes.get(c));
                records[s][c] = row.recordsPerSecond() / 1e6;
                recordsError[s][c] = row.error() / 1e6;
                megabytes[s][c] = row.megabytesPerSecond();
                megabytesError[s][c] = row.megabytesError();
            }
        }
        BarChart.write(out.resolve(THROUGHPUT_PNG), "Mailbox one-way throughput", subtitle, KIND_LABELS, List.of(
            new BarChart.Panel("Records per second", "million records / s", sizeLabels, records, recordsError, "%.2f",
                false),
            new BarChart.Panel("Payload bytes per second", "MB / s (10^6 bytes)", sizeLabels, megabytes,
                megabytesError, "%.0f", false)));

        final List<BarChart.Panel> panels = new ArrayList<>();
        final List<String> percentileLabels = new ArrayList<>(PERCENTILE_LABELS);
        percentileLabels.add("mean");
        for (final int size : latencySizes)
        {
            final double[][] values = new double[KINDS.size()][percentileLabels.size()];
            for (int s = 0; s < KINDS.size(); s++)
            {
                final Latency row = findLatency(latency, KINDS.get(s), size);
                for (int p = 0; p < PERCENTILES.length; p++)
                {
                    values[s][p] = row.percentileUs(PERCENTILES[p]);
                }
                values[s][PERCENTILES.length] = row.meanUs();
            }
            panels.add(new BarChart.Panel(
                sizeLabel(size) + " payload", "round trip, µs (log scale)", percentileLabels, values, null, "%.2f",
                true));
        }
        BarChart.write(out.resolve(LATENCY_PNG), "Mailbox round-trip latency (send + echo)", subtitle, KIND_LABELS,
            panels);
    }

    List<String> fileNames()
    {
        return List.of(THROUGHPUT_CSV, LATENCY_CSV, THROUGHPUT_PNG, LATENCY_PNG, JMH_JSON, "latency-*.hlog/.hgrm");
    }

    private double throughputRatio(final Throughput row)
    {
        final Throughput bare = findThroughput(throughput, BARE, row.size());
        return ratio(row.recordsPerSecond(), bare == null ? Double.NaN : bare.recordsPerSecond());
    }

    private double latencyRatio(final Latency row, final double percentile)
    {
        final Latency bare = findLatency(latency, BARE, row.size());
        return ratio(row.percentileUs(percentile), bare == null ? Double.NaN : bare.percentileUs(percentile));
    }

    private static boolean isLatency(final BenchmarkParams params)
    {
        return params.getBenchmark().startsWith(MailboxLatencyBenchmark.class.getName() + ".");
    }

    private static RunResult findResult(
        final Collection<RunResult> results, final Class<?> benchmarkClass, final String kind, final int size)
    {
        final String benchmark = benchmarkClass.getName() + "." + kind;
        for (final RunResult result : results)
        {
            final BenchmarkParams params = result.getParams();
            if (params.getBenchmark().equals(benchmark) && Integer.parseInt(params.getParam("size")) == size)
            {
                return result;
            }
        }
        return null;
    }

    private static Throughput findThroughput(final List<Throughput> rows, final String kind, final int size)
    {
        for (final Throughput row : rows)
        {
            if (row.kind().equals(kind) && row.size() == size)
            {
                return row;
            }
        }
        return null;
    }

    private static Latency findLatency(final List<Latency> rows, final String kind, final int size)
    {
        for (final Latency row : rows)
        {
            if (row.kind().equals(kind) && row.size() == size)
            {
                return row;
            }
        }
        return null;
    }

    private static String sizeLabel(final int size)
    {
        return size % 1024 == 0 ? (size / 1024) + " KiB" : size + " B";
    }
}
