package io.replicore.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Small helpers the benchmark reports share: reading and writing their text files, formatting CSV fields.
 */
final class Reports
{
    private Reports()
    {
    }

    static String readString(final Path file)
    {
        try
        {
            return Files.readString(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot read " + file, ex);
        }
    }

    static List<String> readLines(final Path file)
    {
        return readString(file).lines().toList();
    }

    static void writeLines(final Path file, final List<String> lines)
    {
        try
        {
            Files.write(file, lines, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot write " + file, ex);
        }
    }

    /**
     * @return the value with that many decimals, or an empty field for NaN.
     */
    static String csv(final double value, final int decimals)
    {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%." + decimals + "f", value) : "";
    }

    /**
     * @return value / base, or NaN when there is no base to compare with.
     */
    static double ratio(final double value, final double base)
    {
        return base > 0 ? value / base : Double.NaN;
    }
}
