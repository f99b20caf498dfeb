package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code replicore failover}: a planned switch-over, posted as {@link ControlBlock#COMMAND_FAILOVER} in the
 * mailbox's command word. The primary hands over to the lowest-id live backup, which names itself primary of the
 * next epoch; the command waits for that epoch word, so that it reports a switch-over that happened, and how long
 * it took from the request, not merely that it was asked for.
 */
@Command(name = "failover", mixinStandardHelpOptions = true,
    description = "Make the primary hand over to the lowest-id live backup, and wait until it has.")
final class FailoverCommand implements Callable<Integer>
{
    private static final long POLL_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long RECORD_WAIT_NS = TimeUnit.SECONDS.toNanos(1);

    @Option(names = "--mailbox", required = true, description = "The service's mailbox.")
    String mailbox;

    @Option(names = "--timeout", defaultValue = "5000", paramLabel = "MS",
        description = "Milliseconds to wait for the new primary (default ${DEFAULT-VALUE}).")
    long timeoutMs;

    @Option(names = "--json", description = "One JSON object, for scripts.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call()
    {
        if (timeoutMs < 1)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--timeout must be at least 1: " + timeoutMs);
        }

        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            final ControlBlock control = box.control();
            final long epochWord = control.epochWord();
            final int epoch = ControlBlock.epochOf(epochWord);
            final int primary = ControlBlock.primaryOf(epochWord);

            final String refusal = refusal(box, primary);
            if (refusal != null)
            {
                return Outcome.notDone(spec, json, Outcome.REFUSED, Outcome.RESULT_REFUSED, "failover: " + refusal);
            }

            final long failoversBefore = control.failoverCount();
            final long startNs = System.nanoTime();
            final long deadlineNs = startNs + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            final int sequence = control.postCommand(ControlBlock.COMMAND_FAILOVER, 0);

            long nowNs;
            long word;
            while (true)
            {
                word = control.epochWord();
                nowNs = System.nanoTime();
                if (ControlBlock.epochOf(word) > epoch && ControlBlock.primaryOf(word) != primary)
                {
                    break;
                }
                if (nowNs - deadlineNs >= 0)
                {
                    return Outcome.notDone(spec, json, Outcome.TIMED_OUT, Outcome.RESULT_TIMEOUT,
                        "failover: timed out after " + timeoutMs + " ms waiting for a new primary; " +
                        describe(box, word, sequence), stateJson(box, word, sequence));
                }
                LockSupport.parkNanos(POLL_NS);
            }
            final long tookNs = nowNs - startNs;

            // The new primary records the failover just after it has won the epoch: allow it a moment.
            final long recordDeadlineNs = Math.min(deadlineNs, nowNs + RECORD_WAIT_NS);
            while (control.failoverCount() == failoversBefore && System.nanoTime() - recordDeadlineNs < 0)
            {
                LockSupport.parkNanos(POLL_NS);
            }
            final boolean recorded = control.failoverCount() != failoversBefore;
            final long recordedNs = control.lastFailoverDurationNs();

            final int newPrimary = ControlBlock.primaryOf(word);
            final int newEpoch = ControlBlock.epochOf(word);
            final String message = "failover: replica " + primary + " handed over to replica " + newPrimary +
                ", epoch " + newEpoch + ", took " + StatusReport.millis(tookNs) + " ms" + (recorded ?
                " (the replicas recorded " + StatusReport.millis(recordedNs) + " ms)" :
                " (the replicas have not recorded it yet)");
            return Outcome.done(spec, json, message, new JsonObject()
                .put("from", primary)
                .put("to", newPrimary)
                .put("epoch", newEpoch)
                .putMillis("tookMs", tookNs / 1e6)
                .putMillis("recordedMs", recorded ? recordedNs / 1e6 : null)
                .put("failovers", control.failoverCount()));
        }
    }

    /**
     * @return why a failover cannot be asked for now, or null if it can.
     */
    static String refusal(final Mailbox box, final int primary)
    {
        final ControlBlock control = box.control();
        if (control.serviceState() == ControlBlock.SERVICE_STOPPED)
        {
            return "the service has stopped";
        }
        if (primary < 0 || primary >= box.replicaCount())
        {
            return "there is no primary (the epoch word names none yet)";
        }
        final ReplicaState primaryState = box.slot(primary).state();
        if (primaryState != ReplicaState.PRIMARY)
        {
            return "there is no primary to hand over (replica " + primary + ", named by epoch " + control.epoch() +
                ", is " + StatusReport.stateName(primaryState) + ")";
        }
        for (int id = 0; id < box.replicaCount(); id++)
        {
            if (id != primary && box.slot(id).state() == ReplicaState.BACKUP)
            {
                return null;
            }
        }
        return "there is no live backup to hand over to (" + states(box) + ")";
    }

    private static String describe(final Mailbox box, final long word, final int sequence)
    {
        final long result = box.control().commandResult();
        final String answer = ControlBlock.commandSequenceOf(result) == sequence ?
            "the replicas answered the request (command " + sequence + ") with result " + (int)result :
            "no replica answered the request (command " + sequence + ")";
        return "epoch " + ControlBlock.epochOf(word) + " still names replica " + ControlBlock.primaryOf(word) +
            "; " + answer + "; " + states(box);
    }

    private static JsonObject stateJson(final Mailbox box, final long word, final int sequence)
    {
        final long result = box.control().commandResult();
        final boolean answered = ControlBlock.commandSequenceOf(result) == sequence;
        final List<JsonObject> replicas = new ArrayList<>();
        for (int id = 0; id < box.replicaCount(); id++)
        {
            replicas.add(new JsonObject().put("id", id).put("state", StatusReport.stateName(box.slot(id).state())));
        }
        return new JsonObject()
            .put("epoch", ControlBlock.epochOf(word))
            .put("primary", ControlBlock.primaryOf(word))
            .put("command", sequence)
            .put("commandResult", answered ? Long.valueOf((int)result) : null)
            .put("replicas", replicas);
    }

    private static String states(final Mailbox box)
    {
        final StringBuilder text = new StringBuilder();
        for (int id = 0; id < box.replicaCount(); id++)
        {
            text.append(id == 0 ? "" : ", ").append("replica ").append(id).append(' ')
                .append(StatusReport.stateName(box.slot(id).state()));
        }
        return text.toString();
    }
}
