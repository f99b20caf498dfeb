package io.replicore.qemutests;

import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.fail;

/** What the kernel suite's tests read in a machine's console and output, and the times they print. */
final class KernelTestText
{
    private static final long POLL_MS = 20;

    private KernelTestText()
    {
    }

    static long ms(final long fromNs, final long toNs)
    {
        return TimeUnit.NANOSECONDS.toMillis(toNs - fromNs);
    }

    /** How many times {@code line} stands in {@code text}. */
    static int count(final String text, final String line)
    {
        int n = 0;
        for (int at = text.indexOf(line); at >= 0; at = text.indexOf(line, at + 1))
        {
            n++;
        }
        return n;
    }

    /** The first line of {@code text} that holds {@code part}, or a line saying there is none. */
    static String lineOf(final String text, final String part)
    {
        return text.lines().filter(l -> l.contains(part)).findFirst().orElse("(no line with '" + part + "')");
    }

    /**
     * Wait until {@code text} ({@code where}: the machine's console or job output) holds {@code line} {@code n}
     * times; fails when the machine ends first or after {@code timeoutMs}.
     *
     * @return {@link System#nanoTime()} then.
     */
    static long awaitCount(final KernelMachine machine, final Supplier<String> text, final String where,
        final String line, final int n, final long timeoutMs)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (count(text.get(), line) < n)
        {
            if (System.nanoTime() > deadline || !machine.isAlive())
            {
                fail(machine.hostname() + ": '" + line + "' not seen " + n + " times in its " + where +
                    machine.diagnostics() + "\n--- ttyS1 tail:\n" + QemuGuest.tail(machine.secondConsole(), 30));
            }
            try
            {
                Thread.sleep(POLL_MS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(ex);
            }
        }
        return System.nanoTime();
    }
}
