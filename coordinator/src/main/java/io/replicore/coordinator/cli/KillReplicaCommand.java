package io.replicore.coordinator.cli;

import io.replicore.coordinator.PartitionCgroup;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.concurrent.Callable;

/**
 * {@code replicore kill-replica}: fault injection on one replica's partition, its coordinator and its application,
 * the way a crash or a hung partition would look to the others. Only the pids recorded in the replica's slot are
 * acted on, and only after /proc shows they still are that replica's processes. A replica whose coordinator is in
 * its partition cgroup ({@link PartitionCgroup}) is frozen and thawed by the cgroup freezer and killed whole by
 * cgroup.kill where the hierarchy has it; otherwise each process is signalled through a pidfd, so a pid reused
 * between the check and the signal cannot be hit.
 */
@Command(name = "kill-replica", mixinStandardHelpOptions = true,
    description = "Kill, freeze or thaw replica N's partition: its coordinator and application (the partition's " +
        "cgroup if it has one, else SIGKILL, SIGSTOP, SIGCONT).")
final class KillReplicaCommand implements Callable<Integer>
{
    static final int SIGKILL = 9;
    static final int SIGCONT = 18;
    static final int SIGSTOP = 19;

    private static final int ESRCH = 3;

    @Parameters(index = "0", paramLabel = "N", description = "The replica's id.")
    int replicaId;

    @Option(names = "--mailbox", required = true, description = "The service's mailbox.")
    String mailbox;

    @Option(names = "--freeze", description = "Stop both processes, a hung partition: the cgroup freezer, or SIGSTOP " +
        "to the coordinator first so that it cannot react.")
    boolean freeze;

    @Option(names = "--thaw", description = "Let both processes go on (the cgroup freezer, or SIGCONT), also after " +
        "the others declared the replica dead.")
    boolean thaw;

    @Option(names = "--json", description = "One JSON object, for scripts.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * Loaded on first use, so that the other commands do not load the native bindings.
     */
    private static final class Calls
    {
        static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    }

    @Override
    public Integer call()
    {
        if (freeze && thaw)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--freeze and --thaw exclude each other");
        }
        final int signal = freeze ? SIGSTOP : thaw ? SIGCONT : SIGKILL;

        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            if (replicaId < 0 || replicaId >= box.replicaCount())
            {
                return Outcome.notDone(spec, json, Outcome.UNUSABLE, Outcome.RESULT_ERROR, "kill-replica: replica " +
                    replicaId + " does not exist: the mailbox has replicas 0 to " + (box.replicaCount() - 1));
            }
            final ReplicaSlot slot = box.slot(replicaId);
            final ReplicaState state = slot.state();
            final int coordinatorPid = slot.pid();
            final int appPid = slot.appPid();
            final String prefix = "kill-replica: replica " + replicaId;

            if (state == ReplicaState.EMPTY)
            {
                return refuse(prefix + " has not started (its slot is empty)");
            }
            // A frozen replica is soon declared dead by the others; it must still be possible to let it go on.
            if (!state.isLive() && signal != SIGCONT)
            {
                return refuse(prefix + " is already " + StatusReport.stateName(state));
            }
            if (!ReplicaProcesses.isRunning(coordinatorPid))
            {
                return refuse(prefix + " (" + StatusReport.stateName(state) + "): its coordinator, pid " +
                    coordinatorPid + ", is not running");
            }

            final ProcessCalls process = Calls.PROCESS;
            final int coordinatorFd = process.pidfd_open(coordinatorPid, 0);
            if (coordinatorFd < 0)
            {
                return refuse(prefix + ": cannot open its coordinator, pid " + coordinatorPid + ": " +
                    process.strerror(Native.lastErrno()));
            }
            int appFd = -1;
            try
            {
                // Checked after the pidfd is open: if the pid was reused in between, the pidfd holds the old,
                // dead process and the signal fails instead of reaching the new one.
                final String notCoordinator =
                    ReplicaProcesses.coordinatorMismatch(coordinatorPid, replicaId, box.runId());
                if (notCoordinator != null)
                {
                    return refuse(prefix + ": pid " + coordinatorPid + " recorded as its coordinator is not ours, " +
                        "so nothing was signalled: " + notCoordinator);
                }

                String appNote = null;
                if (appPid <= 0)
                {
                    appNote = "no application recorded";
                }
                else if (!ReplicaProcesses.isRunning(appPid))
                {
                    appNote = "application " + appPid + " has already exited";
                }
                else
                {
                    appFd = process.pidfd_open(appPid, 0);
                    if (appFd < 0)
                    {
                        appNote = "application " + appPid + " has already exited";
                    }
                    else
                    {
                        final String notApplication = ReplicaProcesses.applicationMismatch(appPid, coordinatorPid);
                        if (notApplication != null)
                        {
                            return refuse(prefix + ": pid " + appPid + " recorded as its application is not ours, " +
                                "so nothing was signalled: " + notApplication);
                        }
                    }
                }

                final PartitionCgroup partition = PartitionCgroup.of(box.runId(), replicaId, coordinatorPid);
                final boolean byCgroup;
                try
                {
                    byCgroup = partition != null && actOnCgroup(partition, signal);
                }
                catch (final IOException ex)
                {
                    return refuse(prefix + ": " + (signal == SIGKILL ? "cgroup.kill" : "the cgroup freezer") +
                        " failed: " + ex.getMessage());
                }
                if (!byCgroup)
                {
                    final String failure =
                        signalInOrder(process, signal, coordinatorFd, coordinatorPid, appFd, appPid);
                    if (failure != null)
                    {
                        return refuse(prefix + ": " + failure);
                    }
                }

                final String method = !byCgroup ? "with " + signalName(signal) :
                    (signal == SIGKILL ? "by cgroup.kill of " : "by the cgroup freezer of ") + partition.directory();
                final String message = prefix + " (coordinator " + coordinatorPid + ", " +
                    (appNote == null ? "application " + appPid : appNote) + ") " + verb(signal) + " " + method;
                return Outcome.done(spec, json, message, new JsonObject()
                    .put("replica", replicaId)
                    .put("signal", signal == SIGKILL || !byCgroup ? signalName(signal) : null)
                    .put("cgroup", byCgroup ? partition.directory().toString() : null)
                    .put("coordinatorPid", coordinatorPid)
                    .put("applicationPid", appFd >= 0 ? Long.valueOf(appPid) : null));
            }
            finally
            {
                process.close(coordinatorFd);
                if (appFd >= 0)
                {
                    process.close(appFd);
                }
            }
        }
    }

    /**
     * A kill and a freeze take the coordinator first, so that it cannot see its application die or stop and act on
     * it (a primary would log its application's end); a thaw undoes a freeze in reverse.
     *
     * @return null, or what failed (and what had been signalled before).
     */
    private static String signalInOrder(
        final ProcessCalls process,
        final int signal,
        final int coordinatorFd,
        final int coordinatorPid,
        final int appFd,
        final int appPid)
    {
        final boolean coordinatorFirst = signal != SIGCONT;
        final int[] fds = coordinatorFirst ? new int[]{coordinatorFd, appFd} : new int[]{appFd, coordinatorFd};
        final String[] names = coordinatorFirst ?
            new String[]{"coordinator " + coordinatorPid, "application " + appPid} :
            new String[]{"application " + appPid, "coordinator " + coordinatorPid};
        String done = null;
        for (int i = 0; i < fds.length; i++)
        {
            if (fds[i] < 0)
            {
                continue;
            }
            if (process.pidfd_send_signal(fds[i], signal, null, 0) < 0)
            {
                final int errno = Native.lastErrno();
                if (errno == ESRCH && signal == SIGKILL && done != null)
                {
                    // The application dies with its coordinator: it may be gone before its own SIGKILL.
                    continue;
                }
                return "sending " + signalName(signal) + " to " + names[i] + " failed: " +
                    (errno == ESRCH ? "it has exited" : process.strerror(errno)) +
                    (done == null ? "" : " (" + done + " had been sent it)");
            }
            done = names[i];
        }
        return null;
    }

    /**
     * Freeze, thaw or kill the whole partition through its cgroup.
     *
     * @return false if the hierarchy cannot (a kill without cgroup.kill: signals do it).
     */
    private static boolean actOnCgroup(final PartitionCgroup partition, final int signal) throws IOException
    {
        switch (signal)
        {
            case SIGSTOP -> partition.freeze();
            case SIGCONT -> partition.thaw();
            default ->
            {
                return partition.kill();
            }
        }
        return true;
    }

    private int refuse(final String message)
    {
        return Outcome.notDone(spec, json, Outcome.REFUSED, Outcome.RESULT_REFUSED, message);
    }

    static String signalName(final int signal)
    {
        return switch (signal)
        {
            case SIGKILL -> "SIGKILL";
            case SIGSTOP -> "SIGSTOP";
            case SIGCONT -> "SIGCONT";
            default -> "signal " + signal;
        };
    }

    private static String verb(final int signal)
    {
        return switch (signal)
        {
            case SIGSTOP -> "frozen";
            case SIGCONT -> "thawed";
            default -> "killed";
        };
    }
}
