package io.replicore.coordinator.cli;

import io.replicore.mailbox.HeartbeatMonitor;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * {@code replicore status}: the service's state, who is primary, the epoch and the failovers, and each replica's
 * state, heartbeat, log position and lag, read from the mailbox itself.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show the replicas of a service as its mailbox records them.")
final class StatusCommand implements Callable<Integer>
{
    @Option(names = "--mailbox", required = true, description = "The service's mailbox.")
    String mailbox;

    @Option(names = "--json", description = "One JSON object, for scripts.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call()
    {
        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            final StatusReport report = StatusReport.take(box, new HeartbeatMonitor(box, System.nanoTime()));
            final PrintWriter out = spec.commandLine().getOut();
            if (json)
            {
                out.println(report.toJson());
            }
            else
            {
                report.printText(out);
            }
            out.flush();
            return 0;
        }
    }
}
