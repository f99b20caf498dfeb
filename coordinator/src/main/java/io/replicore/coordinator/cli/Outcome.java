package io.replicore.coordinator.cli;

import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;

/**
 * The exit codes of the admin commands and how they say why they did not act: a sentence on standard error, or
 * with {@code --json} one object on standard output, so that a script reads every outcome the same way.
 */
final class Outcome
{
    static final int DONE = 0;
    /** Bad arguments, a replica that does not exist, or a mailbox that cannot be used. */
    static final int UNUSABLE = 2;
    /** The request cannot be carried out now: no live backup, replica already ended, not our process. */
    static final int REFUSED = 3;
    /** The change asked for did not happen in time. */
    static final int TIMED_OUT = 4;

    static final String RESULT_DONE = "done";
    static final String RESULT_REFUSED = "refused";
    static final String RESULT_TIMEOUT = "timeout";
    static final String RESULT_ERROR = "error";

    private Outcome()
    {
    }

    /**
     * @param message a sentence starting with the command's name, e.g. "failover: no live backup ...".
     * @return {@code exitCode}.
     */
    static int notDone(
        final CommandSpec spec, final boolean json, final int exitCode, final String result, final String message)
    {
        return notDone(spec, json, exitCode, result, message, new JsonObject());
    }

    /**
     * @param details fields added to the JSON object, such as the state found at a timeout.
     */
    static int notDone(
        final CommandSpec spec,
        final boolean json,
        final int exitCode,
        final String result,
        final String message,
        final JsonObject details)
    {
        if (json)
        {
            final PrintWriter out = spec.commandLine().getOut();
            out.println(new JsonObject().put("result", result).put("message", message).putAll(details));
            out.flush();
        }
        else
        {
            final PrintWriter err = spec.commandLine().getErr();
            err.println(message);
            err.flush();
        }
        return exitCode;
    }

    /**
     * Print what was done: the sentence, or with {@code --json} the object (which gets {@code "result":"done"}
     * and the sentence as {@code message}).
     */
    static int done(final CommandSpec spec, final boolean json, final String message, final JsonObject details)
    {
        final PrintWriter out = spec.commandLine().getOut();
        if (json)
        {
            out.println(new JsonObject().put("result", RESULT_DONE).put("message", message).putAll(details));
        }
        else
        {
            out.println(message);
        }
        out.flush();
        return DONE;
    }
}
