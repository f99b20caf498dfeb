package io.replicore.benchmarks;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static io.replicore.benchmarks.Reports.ratio;

/**
 * The report of bin/bench-calls: what one system call costs the application unintercepted, and as a replica on the
 * primary and on a backup, read from the {@code call-cost.csv} the script gathered from call_cost's own files.
 * Prints a table with each call's ratio to the same call unintercepted and plots the medians and tails as PNG.
 * <pre>
 *   java -cp benchmarks/target/benchmarks.jar io.replicore.benchmarks.CallCostReport OUT_DIR
 * </pre>
 */
public final class CallCostReport
{
    static final String CSV = "call-cost.csv";
    static final String PNG = "call-cost.png";

    private static final double NS_PER_US = 1000.0;

    static final String UNINTERCEPTED = "unintercepted";
    static final String DIRECT = "direct";
    /** The (config, role) pairs in the order of the table and the chart's series: the floor first. */
    private static final List<String[]> SERIES = List.of(
        new String[]{UNINTERCEPTED, DIRECT},
        new String[]{"one-core", "primary"},
        new String[]{"one-core", "backup"},
        new String[]{"across-cores", "primary"},
        new String[]{"across-cores", "backup"});
    private static final List<String> SERIES_LABELS = List.of(
        "unintercepted", "one core: primary", "one core: backup", "across cores: primary", "across cores: backup");
    private static final List<String> CALLS = List.of("time", "clock_gettime", "getuid");
    private static final List<String> CALL_TITLES = List.of(
        "time: answered with a logged value", "clock_gettime: performed, 16 bytes logged",
        "getuid: never intercepted (the floor)");

    /**
     * One line of the CSV: one call in one configuration and role, in nanoseconds.
     */
    record Row(String config, String role, String call, long iterations, double meanNs, double p50Ns, double p99Ns)
    {
    }

    private final Path out;
    private final List<Row> rows;

    private CallCostReport(final Path out, final List<Row> rows)
    {
        this.out = out;
        this.rows = rows;
    }

    public static void main(final String[] args)
    {
        if (args.length != 1)
        {
            System.err.println("usage: CallCostReport OUT_DIR   (reads OUT_DIR/" + CSV + ", writes OUT_DIR/" + PNG + ")");
            System.exit(2);
        }
        final CallCostReport report = read(Path.of(args[0]));
        report.print(System.out);
        report.writePlot();
    }

    static CallCostReport read(final Path out)
    {
        final Path csv = out.resolve(CSV);
        final List<Row> rows = new ArrayList<>();
        try
        {
            final List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
            for (final String line : lines.subList(1, lines.size()))
            {
                final String[] f = line.trim().split(",");
                if (f.length != 7)
                {
                    throw new IllegalArgumentException(csv + ": expected 7 fields in '" + line + "'");
                }
                rows.add(new Row(f[0], f[1], f[2], Long.parseLong(f[3]), Double.parseDouble(f[4]),
                    Double.parseDouble(f[5]), Double.parseDouble(f[6])));
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot read " + csv, ex);
        }
        return new CallCostReport(out, rows);
    }

    void print(final PrintStream ps)
    {
        final Row any = rows.isEmpty() ? null : rows.get(0);
        ps.println();
        ps.printf(Locale.ROOT, "Cost of one system call, ns: %d calls each after a warm-up of %d, timed with the " +
            "TSC in the application; %d CPUs%n", any == null ? 0 : any.iterations(),
            any == null ? 0 : any.iterations() / 10, Runtime.getRuntime().availableProcessors());
        ps.println("one core: each replica's application and coordinator share one core; across cores: they are " +
            "on different cores");
        ps.println("(x direct: this p50 or mean over the same call's unintercepted one; +p50: the p50 it adds)");
        ps.printf(Locale.ROOT, "%-13s %-8s %-14s %10s %10s %10s %11s %11s %10s%n",
            "config", "role", "call", "mean", "p50", "p99", "p50 x dir", "mean x dir", "+p50");
        for (final String call : CALLS)
        {
            final Row direct = find(UNINTERCEPTED, DIRECT, call);
            for (final String[] series : SERIES)
            {
                final Row row = find(series[0], series[1], call);
                if (row == null)
                {
                    continue;
                }
                ps.printf(Locale.ROOT, "%-13s %-8s %-14s %10.1f %10.1f %10.1f %10.1fx %10.1fx %10.0f%n",
                    row.config(), row.role(), row.call(), row.meanNs(), row.p50Ns(), row.p99Ns(),
                    ratio(row.p50Ns(), direct == null ? Double.NaN : direct.p50Ns()),
                    ratio(row.meanNs(), direct == null ? Double.NaN : direct.meanNs()),
                    direct == null ? Double.NaN : row.p50Ns() - direct.p50Ns());
            }
        }
        ps.println();
        ps.println("Wrote " + out.resolve(PNG));
    }

    void writePlot()
    {
        final List<String> percentiles = List.of("p50", "p99");
        final List<BarChart.Panel> panels = new ArrayList<>();
        for (int c = 0; c < CALLS.size(); c++)
        {
            final double[][] values = new double[SERIES.size()][percentiles.size()];
            double maxP50 = 0;
            for (int s = 0; s < SERIES.size(); s++)
            {
                final Row row = find(SERIES.get(s)[0], SERIES.get(s)[1], CALLS.get(c));
                values[s][0] = row == null ? Double.NaN : row.p50Ns();
                values[s][1] = row == null ? Double.NaN : row.p99Ns();
                maxP50 = Math.max(maxP50, row == null ? 0 : row.p50Ns());
            }
            // Five bars a group leave room for labels of about four characters side by side: ns while the medians
            // fit, else µs (a long label on a tail far above its neighbours does not collide).
            final boolean micros = maxP50 >= NS_PER_US;
            for (final double[] series : values)
            {
                for (int p = 0; micros && p < series.length; p++)
                {
                    series[p] /= NS_PER_US;
                }
            }
            panels.add(new BarChart.Panel(CALL_TITLES.get(c), (micros ? "µs" : "ns") + " per call (log scale)",
                percentiles, values, null, micros ? "%.3g" : "%.0f", true));
        }
        final Row any = rows.isEmpty() ? null : rows.get(0);
        final String subtitle = String.format(Locale.ROOT, "%d CPUs; %d calls each, TSC-timed in the application; " +
            "one core: application and coordinator share the replica's core; across cores: each on its own",
            Runtime.getRuntime().availableProcessors(), any == null ? 0 : any.iterations());
        BarChart.write(out.resolve(PNG), "Cost of one system call: unintercepted, and as a replica", subtitle,
            SERIES_LABELS, panels);
    }

    private Row find(final String config, final String role, final String call)
    {
        for (final Row row : rows)
        {
            if (row.config().equals(config) && row.role().equals(role) && row.call().equals(call))
            {
                return row;
            }
        }
        return null;
    }
}
