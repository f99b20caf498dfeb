package io.replicore.benchmarks;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.HdrHistogram.HistogramLogWriter;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Every round trip of a latency benchmark, in nanoseconds, in an HdrHistogram.
 * <p>
 * JMH runs each benchmark in a forked JVM, so the histogram cannot be handed back in memory: the fork writes it
 * at tear-down as an HdrHistogram log to {@link #histogramFile} in the output directory (system property
 * {@link #OUT_PROPERTY}, which {@link MailboxBenchmarkMain} passes to the forks), and the main reads it back.
 * Only measurement iterations are recorded, the same ones JMH's own score covers.
 */
final class RoundTripRecorder
{
    /** System property naming the directory where results go. */
    static final String OUT_PROPERTY = "replicore.bench.out";
    static final String DEFAULT_OUT = "results/mailbox";
    /** Anything slower is recorded as this: a round trip of seconds means a descheduled process, not a channel. */
    static final long HIGHEST_TRACKABLE_NS = TimeUnit.SECONDS.toNanos(10);
    static final int SIGNIFICANT_DIGITS = 3;

    // Fixed range, no auto-resize: recording never allocates.
    private final Histogram histogram = new Histogram(HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS);
    private boolean recording;

    /**
     * Record during measurement iterations only; warm-up round trips run the same code but are not kept.
     */
    void startIteration(final IterationParams params)
    {
        recording = params.getType() == IterationType.MEASUREMENT;
    }

    void record(final long roundTripNs)
    {
        if (recording)
        {
            histogram.recordValue(Math.min(roundTripNs, HIGHEST_TRACKABLE_NS));
        }
    }

    /**
     * Write the histogram of {@code kind} and {@code payloadLength} for the main to read.
     */
    void dump(final String kind, final int payloadLength)
    {
        final Path file = histogramFile(outDirectory(), kind, payloadLength);
        try
        {
            Files.createDirectories(file.getParent());
            try (PrintStream out = new PrintStream(file.toFile(), "US-ASCII"))
            {
                final HistogramLogWriter writer = new HistogramLogWriter(out);
                writer.outputComment("round trips of " + kind + " with " + payloadLength + "-byte payloads, ns");
                writer.outputLogFormatVersion();
                writer.outputLegend();
                histogram.setStartTimeStamp(0);
                histogram.setEndTimeStamp(0);
                writer.outputIntervalHistogram(histogram);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot write " + file, ex);
        }
    }

    /**
     * @return the histogram a fork dumped, or null if there is none (the benchmark did not run or failed).
     */
    static Histogram load(final Path file)
    {
        if (!Files.isRegularFile(file))
        {
            return null;
        }
        try
        {
            final HistogramLogReader reader = new HistogramLogReader(file.toFile());
            return (Histogram)reader.nextIntervalHistogram();
        }
        catch (final FileNotFoundException ex)
        {
            return null;
        }
    }

    static Path outDirectory()
    {
        return Path.of(System.getProperty(OUT_PROPERTY, DEFAULT_OUT));
    }

    static Path histogramFile(final Path outDirectory, final String kind, final int payloadLength)
    {
        return outDirectory.resolve("latency-" + kind + "-" + payloadLength + ".hlog");
    }
}
