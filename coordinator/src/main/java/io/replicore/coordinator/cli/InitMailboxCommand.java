package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/**
 * {@code replicore init-mailbox}: make and format a service's mailbox, for replicas that are started one by one
 * (kernel partitions: one {@code replicore replica} in each replica kernel), so that the first to join as replica 0
 * is the primary of epoch 0.
 */
@Command(name = "init-mailbox", mixinStandardHelpOptions = true,
    description = "Create a service's mailbox for replicas started one by one ('replicore replica' in each " +
        "kernel partition); replica 0 is the first primary.")
final class InitMailboxCommand implements Callable<Integer>
{
    @Option(names = "--mailbox", required = true, description = "The mailbox file (e.g. /dev/shm/web).")
    String mailbox;

    @Option(names = "--replicas", defaultValue = "2", description = "Number of replicas, 2 to 8 (default ${DEFAULT-VALUE}).")
    int replicas;

    @Option(names = "--channel-capacity", defaultValue = "1048576",
        description = "Bytes of log each replica pair's channel holds, a power of two (default ${DEFAULT-VALUE}).")
    int channelCapacity;

    @Option(names = "--reset", description = "Replace a mailbox left by a previous run (never one in use).")
    boolean reset;

    @Option(names = "--json", description = "Print the mailbox's run id and length as JSON.")
    boolean json;

    @Override
    public Integer call()
    {
        try (Mailbox box = Mailbox.create(new MailboxContext().path(mailbox).replicaCount(replicas)
            .channelCapacity(channelCapacity).reset(reset)))
        {
            box.control().compareAndSetEpoch(box.control().epochWord(), 0);
            box.control().serviceState(ControlBlock.SERVICE_RUNNING);
            final String runId = Long.toHexString(box.runId());
            if (json)
            {
                System.out.println(new JsonObject().put("mailbox", mailbox).put("runId", runId)
                    .put("replicas", replicas).put("totalLength", box.totalLength()));
            }
            else
            {
                System.out.println("mailbox " + mailbox + ": " + replicas + " replicas, run " + runId + ", " +
                    box.totalLength() + " bytes; start each with: replicore replica --id N --mailbox " +
                    mailbox + " --partition kernel -- PROGRAM");
            }
            return 0;
        }
    }
}
