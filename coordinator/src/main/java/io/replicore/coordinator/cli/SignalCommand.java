package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code replicore signal SIG}: posted as {@link ControlBlock#COMMAND_SIGNAL} in the mailbox's command word. The
 * primary delivers the signal to a thread of the process while it is stopped in an intercepted call, or asleep
 * in rt_sigsuspend or pause, and logs where; every backup delivers it at the same point of its own replica. The
 * command waits until the primary says it has been delivered.
 */
@Command(name = "signal", mixinStandardHelpOptions = true,
    description = "Deliver a signal to the replicated application at the same point in every replica.")
final class SignalCommand implements Callable<Integer>
{
    private static final long POLL_NS = TimeUnit.MILLISECONDS.toNanos(1);
    /** What the command word has room for: the signal in 7 bits, the process in the 9 above. */
    private static final int PROCESS_MAX = 511;
    private static final int SIGNAL_PROCESS_SHIFT = 7;
    private static final int DONE = 0;
    /** The signals an operator may send: not those that stop or continue a process, nor a fault's (SEGV...). */
    private static final Map<String, Integer> SIGNALS = Map.ofEntries(
        Map.entry("HUP", 1), Map.entry("INT", 2), Map.entry("QUIT", 3), Map.entry("KILL", 9),
        Map.entry("USR1", 10), Map.entry("USR2", 12), Map.entry("ALRM", 14), Map.entry("TERM", 15),
        Map.entry("WINCH", 28));

    @Parameters(index = "0", paramLabel = "SIGNAL",
        description = "HUP, INT, QUIT, KILL, USR1, USR2, ALRM, TERM or WINCH (with or without SIG), or its number.")
    String signal;

    @Option(names = "--mailbox", required = true, description = "The service's mailbox.")
    String mailbox;

    @Option(names = "--process", defaultValue = "0", paramLabel = "PID",
        description = "The process, by its id inside the replica (the same in every replica); 0, the default: " +
            "the application's first process.")
    int process;

    @Option(names = "--timeout", defaultValue = "5000", paramLabel = "MS",
        description = "Milliseconds to wait for the delivery (default ${DEFAULT-VALUE}).")
    long timeoutMs;

    @Option(names = "--json", description = "One JSON object, for scripts.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call()
    {
        final int signo = parse(signal);
        if (signo < 0)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "unknown or refused signal '" + signal +
                "': one of " + String.join(", ", SIGNALS.keySet().stream().sorted().toList()) + " or its number");
        }
        if (process < 0 || process > PROCESS_MAX)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--process must be 0 to " + PROCESS_MAX +
                ": " + process);
        }
        if (timeoutMs < 1)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--timeout must be at least 1: " + timeoutMs);
        }
        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            final ControlBlock control = box.control();
            final int primary = control.primaryId();
            final String refusal = refusal(box, primary);
            if (refusal != null)
            {
                return Outcome.notDone(spec, json, Outcome.REFUSED, Outcome.RESULT_REFUSED, "signal: " + refusal);
            }
            final long startNs = System.nanoTime();
            final long deadlineNs = startNs + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            final int sequence = control.postCommand(ControlBlock.COMMAND_SIGNAL,
                signo | (process << SIGNAL_PROCESS_SHIFT));
            while (ControlBlock.commandSequenceOf(control.commandResult()) != sequence)
            {
                if (System.nanoTime() - deadlineNs >= 0)
                {
                    return Outcome.notDone(spec, json, Outcome.TIMED_OUT, Outcome.RESULT_TIMEOUT,
                        "signal: not delivered within " + timeoutMs + " ms: the process has made no intercepted " +
                        "call since (the primary delivers it at the process's next call, if it still serves)");
                }
                LockSupport.parkNanos(POLL_NS);
            }
            final long tookNs = System.nanoTime() - startNs;
            if ((int)control.commandResult() != DONE)
            {
                return Outcome.notDone(spec, json, Outcome.REFUSED, Outcome.RESULT_REFUSED,
                    "signal: the primary refused it (result " + (int)control.commandResult() + ")");
            }
            final String target = process == 0 ? "the application's first process" : "process " + process;
            return Outcome.done(spec, json, String.format(Locale.ROOT, "signal: %d delivered to %s by replica %d " +
                "in %.3f ms; every backup delivers it at the same point", signo, target, primary, tookNs / 1e6),
                new JsonObject().put("signal", signo).put("process", process).put("primary", primary)
                    .putMillis("tookMs", tookNs / 1e6));
        }
    }

    /**
     * @return the signal's number, or -1 if it is not one the operator may send.
     */
    static int parse(final String name)
    {
        final String upper = name.toUpperCase(Locale.ROOT);
        final Integer named = SIGNALS.get(upper.startsWith("SIG") ? upper.substring(3) : upper);
        if (named != null)
        {
            return named;
        }
        try
        {
            final int number = Integer.parseInt(name);
            return SIGNALS.containsValue(number) ? number : -1;
        }
        catch (final NumberFormatException ex)
        {
            return -1;
        }
    }

    private static String refusal(final Mailbox box, final int primary)
    {
        if (box.control().serviceState() == ControlBlock.SERVICE_STOPPED)
        {
            return "the service has stopped";
        }
        if (primary < 0 || primary >= box.replicaCount() ||
            box.slot(primary).state() != ReplicaState.PRIMARY)
        {
            return "there is no primary to deliver it";
        }
        return null;
    }
}
