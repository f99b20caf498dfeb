package io.replicore.coordinator.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code replicore}: run a program as replicas, inspect them, and switch or break them on purpose.
 */
@Command(
    name = "replicore",
    mixinStandardHelpOptions = true,
    versionProvider = ReplicoreCli.Version.class,
    description = "Transparent fault tolerance for an unmodified program: replicas in partitions of one machine.",
    subcommands = {RunCommand.class, StatusCommand.class, WatchCommand.class, FailoverCommand.class,
        KillReplicaCommand.class, SignalCommand.class, InitMailboxCommand.class, ReplicaCommand.class, CommandLine.HelpCommand.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:the program exited with 0 (run), or the command succeeded",
        "1-123:the program's own exit status (run)",
        "124:a replica diverged and was stopped",
        "125:a replica could not start or stopped on a call it cannot replicate",
        "2:bad arguments or a mailbox that cannot be used",
        "3:the request cannot be carried out now (no live backup, replica already ended, not our process)",
        "4:timed out waiting for the change"})
public final class ReplicoreCli
{
    private ReplicoreCli()
    {
    }

    public static void main(final String[] args)
    {
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine()
    {
        final CommandLine commandLine = new CommandLine(new ReplicoreCli());
        commandLine.setExecutionExceptionHandler((ex, cmd, parseResult) ->
        {
            cmd.getErr().println("replicore: " + ex.getMessage());
            if (ex instanceof NullPointerException || ex instanceof IndexOutOfBoundsException ||
                ex instanceof ClassCastException || ex instanceof ArithmeticException)
            {
                // A defect, not an error the message explains: its trace says where.
                ex.printStackTrace(new java.io.PrintWriter(cmd.getErr(), true));
            }
            return 2;
        });
        return commandLine;
    }

    static final class Version implements CommandLine.IVersionProvider
    {
        @Override
        public String[] getVersion()
        {
            final String version = ReplicoreCli.class.getPackage().getImplementationVersion();
            return new String[]{"replicore " + (version == null ? "development build" : version)};
        }
    }
}
