package io.replicore.benchmarks;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs the mailbox benchmarks ({@link MailboxThroughputBenchmark}, {@link MailboxLatencyBenchmark}) through the
 * JMH Runner API in one go, then prints the comparison of our checked channel with the bare Agrona ring and
 * writes it as CSV and PNG ({@link MailboxReport}).
 * <pre>
 *   java --add-opens ... -jar benchmarks/target/benchmarks.jar [--quick] [--out DIR]
 * </pre>
 * The default run (1 fork, 3 x 2 s warm-up, 5 x 2 s measurement, 8 benchmarks) takes about 3 minutes; two
 * processes spin per benchmark, so a machine with fewer than 2 free CPUs gives meaningless numbers.
 */
public final class MailboxBenchmarkMain
{
    /** Agrona needs these in every JVM: the host, the JMH forks (given here) and the peers (copied from the fork). */
    static final String[] JVM_OPENS =
    {
        "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
        "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens", "java.base/java.nio=ALL-UNNAMED",
        "--add-opens", "java.base/java.util.zip=ALL-UNNAMED",
    };

    private static final String USAGE = String.join(System.lineSeparator(),
        "usage: bench-mailbox [--quick] [--out DIR]",
        "  Cross-process JMH benchmark of the mailbox channel against the bare Agrona ring:",
        "  one-way throughput (64 B, 1 KiB) and round-trip latency percentiles (64 B, 1 KiB).",
        "  --quick     smoke run, about 1 minute (1 x 1 s warm-up, 3 x 1 s measurement)",
        "  --out DIR   where the CSV, PNG, JMH JSON and histograms go (default " +
            RoundTripRecorder.DEFAULT_OUT + ")",
        "  -h, --help  this text");

    private MailboxBenchmarkMain()
    {
    }

    public static void main(final String[] args) throws RunnerException, IOException
    {
        boolean quick = false;
        Path out = Path.of(RoundTripRecorder.DEFAULT_OUT);
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--quick" -> quick = true;
                case "--out" ->
                {
                    if (i + 1 == args.length)
                    {
                        usageError("--out needs a directory");
                    }
                    out = Path.of(args[++i]);
                }
                case "-h", "--help" ->
                {
                    System.out.println(USAGE);
                    return;
                }
                default -> usageError("unknown option " + args[i]);
            }
        }

        out = out.toAbsolutePath().normalize();
        Files.createDirectories(out);
        deleteStaleHistograms(out);

        final RunSettings settings = quick ? RunSettings.QUICK : RunSettings.FULL;
        final ChainedOptionsBuilder options = new OptionsBuilder()
            .include(Pattern.quote(MailboxThroughputBenchmark.class.getName()) + "\\.")
            .include(Pattern.quote(MailboxLatencyBenchmark.class.getName()) + "\\.")
            .forks(1)
            .threads(1)
            .warmupIterations(settings.warmupIterations)
            .warmupTime(TimeValue.seconds(settings.iterationSeconds))
            .measurementIterations(settings.measurementIterations)
            .measurementTime(TimeValue.seconds(settings.iterationSeconds))
            .jvmArgsAppend(forkJvmArgs(out))
            .resultFormat(ResultFormatType.JSON)
            .result(out.resolve(MailboxReport.JMH_JSON).toString())
            .shouldFailOnError(true);

        final CpuInterference cpuBefore = CpuInterference.snapshot();
        final long startNs = System.nanoTime();
        final Collection<RunResult> results = new Runner(options.build()).run();
        final long elapsedSeconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - startNs);
        final double othersShare = CpuInterference.othersShare(cpuBefore, CpuInterference.snapshot());

        final MailboxReport report = MailboxReport.from(results, out);
        report.print(System.out, settings.describe(), elapsedSeconds, othersShare);
        report.writeCsv();
        report.writeHistograms();
        report.writePlots(settings.describe());
        System.out.println();
        System.out.println("Results in " + out + ": " + String.join(", ", report.fileNames()));
    }

    private static String[] forkJvmArgs(final Path out)
    {
        final String[] args = new String[JVM_OPENS.length + 1];
        System.arraycopy(JVM_OPENS, 0, args, 0, JVM_OPENS.length);
        args[JVM_OPENS.length] = "-D" + RoundTripRecorder.OUT_PROPERTY + "=" + out;
        return args;
    }

    /**
     * A histogram left by an earlier run must never be reported as this run's.
     */
    private static void deleteStaleHistograms(final Path out) throws IOException
    {
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(out, "latency-*.hlog"))
        {
            for (final Path file : stale)
            {
                Files.delete(file);
            }
        }
    }

    private static void usageError(final String message)
    {
        System.err.println("bench-mailbox: " + message);
        System.err.println(USAGE);
        System.exit(2);
    }

    /**
     * Iteration counts and lengths, sized for a 2-CPU machine.
     */
    private enum RunSettings
    {
        FULL(3, 5, 2),
        QUICK(1, 3, 1);

        final int warmupIterations;
        final int measurementIterations;
        final int iterationSeconds;

        RunSettings(final int warmupIterations, final int measurementIterations, final int iterationSeconds)
        {
            this.warmupIterations = warmupIterations;
            this.measurementIterations = measurementIterations;
            this.iterationSeconds = iterationSeconds;
        }

        String describe()
        {
            return (this == QUICK ? "quick run: " : "") + "1 fork, " + warmupIterations + " x " + iterationSeconds +
                " s warm-up, " + measurementIterations + " x " + iterationSeconds + " s measured";
        }
    }
}
