package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaSlot;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code replicore status}: who is primary, the epoch, and each replica's state, heartbeat and log position, read
 * from the mailbox itself.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show the replicas of a service as its mailbox records them.")
final class StatusCommand implements Callable<Integer>
{
    @Option(names = "--mailbox", required = true, description = "The service's mailbox.")
    String mailbox;

    @Option(names = "--json", description = "One JSON object, for scripts.")
    boolean json;

    @Override
    public Integer call()
    {
        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            final ControlBlock control = box.control();
            final long primarySequence = control.primaryId() >= 0 ? box.slot(control.primaryId()).logSequence() : 0;
            final List<String> rows = new ArrayList<>();
            for (int id = 0; id < box.replicaCount(); id++)
            {
                final ReplicaSlot slot = box.slot(id);
                final long lag = id == control.primaryId() ? 0 : Math.max(0, primarySequence - slot.logSequence());
                rows.add(json ?
                    String.format("{\"id\":%d,\"state\":\"%s\",\"pid\":%d,\"appPid\":%d,\"heartbeat\":%d," +
                        "\"logSequence\":%d,\"lagRecords\":%d,\"interceptedCalls\":%d,\"divergences\":%d," +
                        "\"lastError\":\"%s\"}", id, slot.state().name().toLowerCase(), slot.pid(), slot.appPid(),
                        slot.heartbeat(), slot.logSequence(), lag, slot.interceptedCalls(), slot.divergenceCount(),
                        escape(slot.lastErrorMessage())) :
                    String.format("%-3d %-9s %-8d %-8d %-10d %-10d %-6d %-10d %-4d %s", id,
                        slot.state().name().toLowerCase(), slot.pid(), slot.appPid(), slot.heartbeat(),
                        slot.logSequence(), lag, slot.interceptedCalls(), slot.divergenceCount(),
                        slot.lastErrorMessage()));
            }
            if (json)
            {
                System.out.printf("{\"mailbox\":\"%s\",\"runId\":\"%s\",\"epoch\":%d,\"primary\":%d," +
                    "\"exitStatus\":%d,\"replicas\":[%s]}%n", escape(box.path()), Long.toHexString(box.runId()),
                    control.epoch(), control.primaryId(), control.exitStatus(), String.join(",", rows));
            }
            else
            {
                System.out.printf("mailbox %s  run %s  epoch %d  primary %d%n", box.path(),
                    Long.toHexString(box.runId()), control.epoch(), control.primaryId());
                System.out.println("id  state     pid      app-pid  heartbeat  log-seq    lag    calls      div  " +
                    "last error");
                rows.forEach(System.out::println);
            }
            return 0;
        }
    }

    private static String escape(final String text)
    {
        return text.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
