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
 * The report of bin/bench-threads: each multi-threaded or multi-process server's throughput unreplicated and
 * replicated in each scheduling mode, with the log records per request and what became of the backup, read from
 * the {@code threads.csv} the script wrote. Prints a table with each run's ratio to the unreplicated one and plots
 * the throughputs as PNG.
 * <pre>
 *   java -cp benchmarks/target/benchmarks.jar io.replicore.benchmarks.ThreadsReport OUT_DIR
 * </pre>
 */
public final class ThreadsReport
{
    static final String CSV = "threads.csv";
    static final String PNG = "threads.png";
    private static final List<String> MODES = List.of("unreplicated", "parallel", "serial");

    /**
     * One line of the CSV: one server in one mode. {@code backup} is the backup's state at the end, or why the run
     * was refused.
     */
    record Row(String server, String mode, long requests, double seconds, double perSecond, String records,
        String recordsPerRequest, String backup)
    {
    }

    private final Path out;
    private final List<Row> rows;

    private ThreadsReport(final Path out, final List<Row> rows)
    {
        this.out = out;
        this.rows = rows;
    }

    public static void main(final String[] args)
    {
        if (args.length != 1)
        {
            System.err.println("usage: ThreadsReport OUT_DIR   (reads OUT_DIR/" + CSV + ", writes OUT_DIR/" + PNG + ")");
            System.exit(2);
        }
        final ThreadsReport report = read(Path.of(args[0]));
        report.print(System.out);
        report.writePlot();
    }

    static ThreadsReport read(final Path out)
    {
        final Path csv = out.resolve(CSV);
        final List<Row> rows = new ArrayList<>();
        try
        {
            final List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
            for (final String line : lines.subList(1, lines.size()))
            {
                final String[] f = line.split(",", -1);
                if (f.length != 8)
                {
                    throw new IllegalArgumentException(csv + ": expected 8 fields in '" + line + "'");
                }
                rows.add(new Row(f[0], f[1], Long.parseLong(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[4]),
                    f[5], f[6], f[7]));
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot read " + csv, ex);
        }
        return new ThreadsReport(out, rows);
    }

    void print(final PrintStream ps)
    {
        ps.println();
        ps.printf(Locale.ROOT, "Threaded and multi-process servers, 2 replicas; %d CPUs%n",
            Runtime.getRuntime().availableProcessors());
        ps.printf(Locale.ROOT, "%-10s %-13s %9s %10s %9s %12s %11s  %s%n", "server", "mode", "requests", "req/s",
            "x unrepl", "log records", "per request", "backup at the end");
        for (final Row row : rows)
        {
            final Row plain = find(row.server(), "unreplicated");
            ps.printf(Locale.ROOT, "%-10s %-13s %9d %10.0f %8.3fx %12s %11s  %s%n", row.server(), row.mode(),
                row.requests(), row.perSecond(), ratio(row.perSecond(), plain == null ? Double.NaN : plain.perSecond()),
                row.records(), row.recordsPerRequest(), row.backup());
        }
        ps.println();
        ps.println("Wrote " + out.resolve(PNG));
    }

    void writePlot()
    {
        final List<String> servers = rows.stream().map(Row::server).distinct().toList();
        final double[][] values = new double[MODES.size()][servers.size()];
        for (int m = 0; m < MODES.size(); m++)
        {
            for (int s = 0; s < servers.size(); s++)
            {
                final Row row = find(servers.get(s), MODES.get(m));
                values[m][s] = row == null || row.requests() == 0 ? Double.NaN : row.perSecond();
            }
        }
        final String subtitle = String.format(Locale.ROOT, "%d CPUs, 2 replicas; n/a: refused (threads.csv says why)",
            Runtime.getRuntime().availableProcessors());
        BarChart.write(out.resolve(PNG), "Threaded servers, replicated", subtitle, MODES,
            List.of(new BarChart.Panel("requests per second", "requests/s", servers, values, null, "%.0f", false)));
    }

    private Row find(final String server, final String mode)
    {
        for (final Row row : rows)
        {
            if (row.server().equals(server) && row.mode().equals(mode))
            {
                return row;
            }
        }
        return null;
    }
}
