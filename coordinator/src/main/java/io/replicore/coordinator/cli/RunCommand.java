package io.replicore.coordinator.cli;

import io.replicore.coordinator.CpuSet;
import io.replicore.coordinator.PartitionCgroup;
import io.replicore.coordinator.ReplicaContext;
import io.replicore.coordinator.ReplicaCoordinator;
import io.replicore.coordinator.ioowner.SocketShadowChannel;
import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.MailboxLayout;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code replicore run}: create the service's mailbox, give each replica its partition (CPUs) and its private copy
 * of the state, start one coordinator per replica, wait for them and say how each ended.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = "Run PROGRAM as replicas; only the primary's output reaches the outside.")
final class RunCommand implements Callable<Integer>
{
    @Option(names = "--replicas", defaultValue = "2", description = "Number of replicas, 2 to 8 (default ${DEFAULT-VALUE}).")
    int replicas;

    @Option(names = "--mailbox", description = "The mailbox file (default /dev/shm/replicore-PID).")
    String mailbox;

    @Option(names = "--state-dir", description = "Directory holding the program's working state; each backup " +
        "gets a private copy mounted at the same path.")
    Path stateDir;

    @Option(names = "--work-dir", description = "Where replicas keep their state copies and event logs " +
        "(default /var/tmp/replicore/MAILBOX-NAME).")
    Path workDir;

    @Option(names = "--cpus", split = ";", description = "CPU list of each replica's partition, separated by ';' " +
        "(default: one CPU each, round-robin over the CPUs this process may use).")
    List<String> cpus;

    @Option(names = "--app-cpus", split = ";", description = "CPU list of each replica's application, separated " +
        "by ';' (needs --cpus; each list within its replica's partition). The replica's coordinator takes the " +
        "partition's other CPUs (all of them if none is left), so that it answers calls from another core.")
    List<String> appCpus;

    @Option(names = "--channel-capacity", defaultValue = "1048576",
        description = "Bytes of log each replica pair's channel holds, a power of two (default ${DEFAULT-VALUE}).")
    int channelCapacity;

    @Option(names = "--heartbeat-timeout", paramLabel = "MS", defaultValue = "" +
        ReplicaContext.DEFAULT_HEARTBEAT_TIMEOUT_MS, description = "Heartbeat silence after which a backup takes " +
        "the primary for hung and takes over (default ${DEFAULT-VALUE} ms); a dead primary is seen at once.")
    long heartbeatTimeoutMs;

    @Option(names = "--scheduling", paramLabel = "MODE", defaultValue = "parallel",
        description = "How a replica's threads and processes are ordered: parallel (they run in parallel, only " +
            "intercepted calls are ordered; for programs whose threads share nothing but kernel objects) or serial " +
            "(one thread at a time, switching only at intercepted calls, futexes ordered too; for programs whose " +
            "threads share memory and locks). Default ${DEFAULT-VALUE}.")
    String scheduling;

    @Option(names = "--reset", description = "Replace a mailbox left by a previous run (never one in use).")
    boolean reset;

    @Option(names = "--keep-mailbox", description = "Leave the mailbox in place after the run, for 'status'.")
    boolean keepMailbox;

    @Option(names = "--fault-corrupt-input", hidden = true, paramLabel = "REPLICA:N",
        description = "Fault injection: backup REPLICA flips one byte of the N-th input it replays.")
    String corruptInput;

    @Option(names = "--fault-die-in-accept", hidden = true, paramLabel = "REPLICA:N",
        description = "Fault injection: replica REPLICA, as primary, kills its partition right after its N-th " +
            "accept, before it hands the connection to the backups.")
    String dieInAccept;

    @Parameters(arity = "1..*", paramLabel = "PROGRAM", description = "The program and its arguments (after --).")
    List<String> command;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        ReplicaCommand.schedulingMode(scheduling);
        final String mailboxPath = mailbox != null ? mailbox : "/dev/shm/replicore-" + ProcessHandle.current().pid();
        final List<String> plan = cpuPlan();
        final List<String> appPlan = appCpuPlan();
        final Path work = workDir != null ? workDir :
            Path.of("/var/tmp/replicore", Path.of(mailboxPath).getFileName().toString());
        final Path state = stateDir == null ? null : stateDir.toAbsolutePath().normalize();
        if (state != null && !Files.isDirectory(state))
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--state-dir " + stateDir +
                " is not a directory");
        }

        try (Mailbox box = Mailbox.create(new MailboxContext().path(mailboxPath).replicaCount(replicas)
            .channelCapacity(channelCapacity).reset(reset)))
        {
            box.control().compareAndSetEpoch(box.control().epochWord(), 0);
            box.control().serviceState(ControlBlock.SERVICE_RUNNING);
            final List<Process> coordinators = new ArrayList<>();
            // Stopping run (Ctrl-C, SIGTERM) stops the service: every coordinator, and with it its application.
            final Thread stopService = new Thread(() -> stopReplicas(box.runId(), coordinators));
            Runtime.getRuntime().addShutdownHook(stopService);
            try
            {
                for (int id = 0; id < replicas; id++)
                {
                    coordinators.add(startReplica(box, id, plan.get(id), appPlan == null ? null : appPlan.get(id),
                        work, state));
                }
                final int[] exits = new int[replicas];
                for (int id = 0; id < replicas; id++)
                {
                    exits[id] = coordinators.get(id).waitFor();
                }
                box.control().serviceState(ControlBlock.SERVICE_STOPPED);
                return report(box, exits);
            }
            finally
            {
                try
                {
                    Runtime.getRuntime().removeShutdownHook(stopService);
                }
                catch (final IllegalStateException shuttingDown)
                {
                    // Ctrl-C or SIGTERM: the hook is stopping the replicas already; stopping them again is harmless.
                }
                stopReplicas(box.runId(), coordinators);
                if (!keepMailbox)
                {
                    Files.deleteIfExists(Path.of(mailboxPath));
                }
            }
        }
    }

    /**
     * End every coordinator (its application, tied to it by the launcher's parent-death signal, ends with it), then
     * remove the partitions' cgroups once their processes are gone, and the hand-over channels' socket files.
     */
    private static void stopReplicas(final long runId, final List<Process> coordinators)
    {
        coordinators.forEach(Process::destroyForcibly);
        try
        {
            for (final Process coordinator : coordinators)
            {
                coordinator.waitFor(5, TimeUnit.SECONDS);
            }
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (!PartitionCgroup.removeAll(runId, coordinators.size()) && System.nanoTime() - deadline < 0)
            {
                Thread.sleep(20);
            }
            for (int id = 0; id < coordinators.size(); id++)
            {
                Files.deleteIfExists(SocketShadowChannel.pathOf(runId, id));
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        catch (final IOException ex)
        {
            System.err.println("replicore: " + ex.getMessage());
        }
    }

    /**
     * A fault given as REPLICA:N goes to replica REPLICA's coordinator as {@code option N}.
     */
    private static void addFault(final List<String> jvm, final String fault, final int id, final String option)
    {
        if (fault != null && fault.startsWith(id + ":"))
        {
            jvm.add(option);
            jvm.add(fault.substring(fault.indexOf(':') + 1));
        }
    }

    private List<String> cpuPlan()
    {
        if (replicas < 2 || replicas > MailboxLayout.MAX_REPLICAS)
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "--replicas must be 2.." + MailboxLayout.MAX_REPLICAS + ": " + replicas);
        }
        if (cpus != null)
        {
            if (cpus.size() != replicas)
            {
                throw new CommandLine.ParameterException(spec.commandLine(), "--cpus gives " + cpus.size() +
                    " partitions for " + replicas + " replicas");
            }
            cpus.forEach(CpuSet::parse);
            return cpus;
        }
        final CpuSet available = CpuSet.current();
        final List<String> plan = new ArrayList<>();
        for (int id = 0; id < replicas; id++)
        {
            plan.add(String.valueOf(available.nth(id % available.count())));
        }
        return plan;
    }

    /**
     * @return each replica's application CPUs, checked against its partition, or null when --app-cpus is not given.
     */
    private List<String> appCpuPlan()
    {
        if (appCpus == null)
        {
            return null;
        }
        if (cpus == null)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--app-cpus needs --cpus: the application's " +
                "CPUs are a part of its replica's partition");
        }
        if (appCpus.size() != replicas)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--app-cpus gives " + appCpus.size() +
                " CPU lists for " + replicas + " replicas");
        }
        for (int id = 0; id < replicas; id++)
        {
            try
            {
                ReplicaContext.validateAppCpus(cpus.get(id), appCpus.get(id));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new CommandLine.ParameterException(spec.commandLine(), "--app-cpus of replica " + id + ": " +
                    ex.getMessage());
            }
        }
        return appCpus;
    }

    private Process startReplica(
        final Mailbox box,
        final int id,
        final String partition,
        final String appPartition,
        final Path work,
        final Path state) throws IOException
    {
        final Path replicaDir = work.resolve("replica-" + id);
        Files.createDirectories(replicaDir);
        final Path log = replicaDir.resolve("events.log");
        Files.deleteIfExists(log);

        final List<String> jvm = new ArrayList<>();
        jvm.add(ProcessHandle.current().info().command().orElse("java"));
        for (final String argument : ManagementFactory.getRuntimeMXBean().getInputArguments())
        {
            if (argument.startsWith("--add-opens") || argument.startsWith("-Dreplicore.") ||
                argument.startsWith("-Dchronicle."))
            {
                jvm.add(argument);
            }
        }
        jvm.add("-Dreplicore.launcher=" + Launcher.path());
        jvm.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
            ReplicoreCli.class.getName(), "replica", "--id", String.valueOf(id), "--mailbox", box.path(),
            "--run-id", Long.toHexString(box.runId()), "--cpus", partition, "--log", log.toString(),
            "--heartbeat-timeout", String.valueOf(heartbeatTimeoutMs), "--scheduling", scheduling));
        if (appPartition != null)
        {
            jvm.add("--app-cpus");
            jvm.add(appPartition);
        }
        if (state != null)
        {
            jvm.add("--state-dir");
            jvm.add(state.toString());
            if (id != box.control().primaryId())
            {
                final Path copy = replicaDir.resolve("state");
                copyTree(state, copy);
                jvm.add("--state-copy");
                jvm.add(copy.toString());
            }
        }
        addFault(jvm, corruptInput, id, "--corrupt-input-at");
        addFault(jvm, dieInAccept, id, "--die-in-accept");
        jvm.add("--");
        jvm.addAll(command);

        // Every coordinator holds the real standard input and output: a backup that takes over hands them to its
        // application. Only the primary's coordinator reads or writes them.
        return new ProcessBuilder(jvm).inheritIO().start();
    }

    /**
     * Summarise every replica's end on standard error when any of them did not end cleanly.
     *
     * @return the primary's status: the application's, or why the primary stopped.
     */
    private int report(final Mailbox box, final int[] exits)
    {
        final int primaryId = box.control().primaryId();
        for (int id = 0; id < exits.length; id++)
        {
            final ReplicaSlot slot = box.slot(id);
            final ReplicaState state = slot.state();
            if (state != ReplicaState.STOPPED)
            {
                System.err.println("replicore: replica " + id + " " + state.name().toLowerCase() +
                    (slot.lastErrorMessage().isEmpty() ? "" : ": " + slot.lastErrorMessage()));
            }
        }
        final int primaryExit = exits[primaryId];
        if (box.slot(primaryId).state() == ReplicaState.STOPPED)
        {
            return box.control().exitStatus();
        }
        return primaryExit == 0 ? ReplicaCoordinator.EXIT_FAILED : primaryExit;
    }

    private static void copyTree(final Path source, final Path target) throws IOException
    {
        if (Files.exists(target))
        {
            try (Stream<Path> old = Files.walk(target))
            {
                for (final Path path : old.sorted(Comparator.reverseOrder()).toList())
                {
                    Files.delete(path);
                }
            }
        }
        try (Stream<Path> tree = Files.walk(source))
        {
            for (final Path path : tree.toList())
            {
                Files.copy(path, target.resolve(source.relativize(path)), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }
}
