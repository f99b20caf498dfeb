package io.replicore.coordinator.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

/**
 * Runs the CLI in this JVM, as {@code bin/replicore} would, keeping what it printed on each stream.
 */
final class CliRun
{
    final int exitCode;
    final String out;
    final String err;

    private CliRun(final int exitCode, final String out, final String err)
    {
        this.exitCode = exitCode;
        this.out = out;
        this.err = err;
    }

    static CliRun execute(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final picocli.CommandLine commandLine = ReplicoreCli.commandLine();
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        final int exitCode = commandLine.execute(args);
        return new CliRun(exitCode, out.toString(), err.toString());
    }

    List<String> outLines()
    {
        return out.lines().toList();
    }

    @Override
    public String toString()
    {
        return "exit " + exitCode + "\nstdout:\n" + out + "stderr:\n" + err;
    }
}
