package io.replicore.coordinator.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether a pid recorded in a replica's slot still names that replica's process, read from /proc. A pid is reused
 * once its process is gone, and the slot of a replica that died keeps its old pids: fault injection must never
 * signal whatever process took one of them.
 */
final class ReplicaProcesses
{
    static final String MAIN_CLASS = ReplicoreCli.class.getName();

    private ReplicaProcesses()
    {
    }

    /**
     * @return true while the process exists and has not exited (a zombie has, it only waits to be reaped).
     */
    static boolean isRunning(final int pid)
    {
        final String stat = stat(pid);
        return stat != null && stateOf(stat) != 'Z' && stateOf(stat) != 'X';
    }

    /**
     * A coordinator is a java process whose main class is {@code ReplicoreCli} with the arguments
     * {@code replica ... --id N} and, if its command line names a run, this mailbox's run.
     *
     * @return null if {@code pid} is replica {@code replicaId}'s coordinator, otherwise what it is instead.
     */
    static String coordinatorMismatch(final int pid, final int replicaId, final long runId)
    {
        final List<String> args = commandLine(pid);
        if (args.isEmpty())
        {
            return "it has no command line (it has exited or is a kernel thread)";
        }
        final String program = Path.of(args.get(0)).getFileName().toString();
        if (!program.equals("java"))
        {
            return "it runs " + quote(args) + ", not java";
        }
        final int main = args.indexOf(MAIN_CLASS);
        if (main < 0 || main + 1 >= args.size() || !args.get(main + 1).equals("replica"))
        {
            return "it is a java process but not a Replicore replica coordinator: " + quote(args);
        }
        final List<String> options = args.subList(main + 2, args.size());
        final String id = optionValue(options, "--id");
        if (!String.valueOf(replicaId).equals(id))
        {
            return "it is the coordinator of replica " + id + ", not of replica " + replicaId;
        }
        final String run = optionValue(options, "--run-id");
        if (run != null && !run.equalsIgnoreCase(Long.toHexString(runId)))
        {
            return "it belongs to run " + run + ", not to this mailbox's run " + Long.toHexString(runId);
        }
        return null;
    }

    /**
     * The application is the process its coordinator started: its parent is the coordinator.
     *
     * @return null if {@code appPid} is a child of {@code coordinatorPid}, otherwise what it is instead.
     */
    /** The program runs under the namespace's init, under the launcher, under the coordinator. */
    private static final int LAUNCH_DEPTH = 3;

    static String applicationMismatch(final int appPid, final int coordinatorPid)
    {
        final String stat = stat(appPid);
        if (stat == null)
        {
            return "it does not exist";
        }
        // program <- init of its pid namespace <- launcher <- coordinator
        final int parent = parentOf(stat);
        int ancestor = parent;
        for (int level = 0; level < LAUNCH_DEPTH && ancestor > 1; level++)
        {
            if (ancestor == coordinatorPid)
            {
                return null;
            }
            final String ancestorStat = stat(ancestor);
            ancestor = ancestorStat == null ? -1 : parentOf(ancestorStat);
        }
        final List<String> args = commandLine(appPid);
        return "its parent is pid " + parent + ", and the coordinator " + coordinatorPid + " is not among its " +
            LAUNCH_DEPTH + " nearest ancestors" + (args.isEmpty() ? "" : " (it runs " + quote(args) + ")");
    }

    /**
     * @return the arguments of {@code /proc/PID/cmdline}, empty if the process is gone or has none.
     */
    static List<String> commandLine(final int pid)
    {
        final byte[] bytes;
        try
        {
            bytes = Files.readAllBytes(Path.of("/proc", String.valueOf(pid), "cmdline"));
        }
        catch (final IOException ex)
        {
            return List.of();
        }
        final List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < bytes.length; i++)
        {
            if (bytes[i] == 0)
            {
                args.add(new String(bytes, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < bytes.length)
        {
            args.add(new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8));
        }
        return args;
    }

    /**
     * @return the parent pid in {@code /proc/PID/stat}, or -1 if the process is gone.
     */
    static int parentPid(final int pid)
    {
        final String stat = stat(pid);
        return stat == null ? -1 : parentOf(stat);
    }

    /**
     * @return the state letter in {@code /proc/PID/stat} (R, S, T, Z ...), or 0 if the process is gone.
     */
    static char processState(final int pid)
    {
        final String stat = stat(pid);
        return stat == null ? 0 : stateOf(stat);
    }

    private static String stat(final int pid)
    {
        if (pid <= 0)
        {
            return null;
        }
        try
        {
            return Files.readString(Path.of("/proc", String.valueOf(pid), "stat"), StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            return null;
        }
    }

    /**
     * The fields after the command name, which is in parentheses and may itself hold spaces and parentheses.
     */
    private static String[] fieldsAfterName(final String stat)
    {
        return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    }

    private static char stateOf(final String stat)
    {
        return fieldsAfterName(stat)[0].charAt(0);
    }

    private static int parentOf(final String stat)
    {
        return Integer.parseInt(fieldsAfterName(stat)[1]);
    }

    private static String optionValue(final List<String> args, final String name)
    {
        for (int i = 0; i < args.size(); i++)
        {
            final String arg = args.get(i);
            if (arg.equals("--"))
            {
                break;
            }
            if (arg.equals(name) && i + 1 < args.size())
            {
                return args.get(i + 1);
            }
            if (arg.startsWith(name + "="))
            {
                return arg.substring(name.length() + 1);
            }
        }
        return null;
    }

    private static String quote(final List<String> args)
    {
        final String text = String.join(" ", args);
        return "'" + (text.length() > 120 ? text.substring(0, 117) + "..." : text) + "'";
    }
}
