package io.replicore.coordinator;

import io.replicore.coordinator.ioowner.ServiceAddress;
import io.replicore.detscheduler.SchedulingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Configuration of one replica's coordinator, validated by {@link #conclude()}.
 */
public final class ReplicaContext
{
    /** Long enough that a garbage collection or a starved core (two CPUs, three JVMs) is not taken for a hung primary:
     * a dead one is seen at once through its pidfd, so this only bounds how long a hang goes unnoticed. */
    public static final long DEFAULT_HEARTBEAT_TIMEOUT_MS = 1000;

    private String mailboxPath;
    private long runId;
    private int replicaId = -1;
    private String cpus;
    private String appCpus;
    private Path launcher;
    private Path stateDir;
    private Path stateCopy;
    private Path logFile;
    private List<String> command;
    private long heartbeatIntervalNs = TimeUnit.MILLISECONDS.toNanos(10);
    private long heartbeatTimeoutNs = TimeUnit.MILLISECONDS.toNanos(DEFAULT_HEARTBEAT_TIMEOUT_MS);
    private long handshakeTimeoutMs = 10_000;
    private long voteTimeoutNs = TimeUnit.SECONDS.toNanos(5);
    private long corruptInputAt;
    private long dieInAcceptAt;
    private SchedulingMode schedulingMode = SchedulingMode.PARALLEL;
    private PartitionKind partition = PartitionKind.PROCESS;
    private String serviceAddress;
    private String serviceDevice;
    private boolean ackGate = true;

    public ReplicaContext conclude()
    {
        if (mailboxPath == null)
        {
            throw new IllegalArgumentException("a mailbox path is required");
        }
        if (replicaId < 0)
        {
            throw new IllegalArgumentException("a replica id is required");
        }
        if (command == null || command.isEmpty())
        {
            throw new IllegalArgumentException("a program to run is required");
        }
        if (launcher == null || !Files.isExecutable(launcher))
        {
            throw new IllegalArgumentException("the native launcher is not an executable file: " + launcher +
                " (build it with mvn package, or set -Dreplicore.launcher)");
        }
        validateAppCpus(cpus, appCpus);
        if (stateCopy != null && stateDir == null)
        {
            throw new IllegalArgumentException("a state copy needs the state directory it stands in for");
        }
        if ((serviceAddress == null) != (serviceDevice == null))
        {
            throw new IllegalArgumentException("a service address needs its network device and the other way round");
        }
        if (serviceAddress != null && partition != PartitionKind.KERNEL)
        {
            throw new IllegalArgumentException("a service address is taken over only between kernel partitions " +
                "(--partition kernel): replicas in one kernel share its addresses");
        }
        if (serviceAddress != null && !ServiceAddress.isCidr(serviceAddress))
        {
            throw new IllegalArgumentException("the service address must be an IPv4 address with its prefix " +
                "length, like 198.18.0.100/24, not '" + serviceAddress + "'");
        }
        if (ackGate && serviceAddress != null && !Files.isExecutable(gateLoader()))
        {
            throw new IllegalArgumentException("the acknowledgement gate's loader is not an executable file: " +
                gateLoader() + " (build it with mvn package: it needs clang and libbpf-dev), or run without the gate " +
                "(--no-ack-gate) and lose what a dying kernel acknowledged before it was logged");
        }
        if (heartbeatIntervalNs <= 0)
        {
            throw new IllegalArgumentException("heartbeat interval must be positive");
        }
        if (heartbeatTimeoutNs < 5 * heartbeatIntervalNs)
        {
            throw new IllegalArgumentException("the heartbeat timeout (" + heartbeatTimeoutNs / 1_000_000 +
                " ms) must be at least five heartbeat intervals (" + 5 * heartbeatIntervalNs / 1_000_000 +
                " ms), or a busy machine looks like a dead primary");
        }
        return this;
    }

    public String mailboxPath()
    {
        return mailboxPath;
    }

    public ReplicaContext mailboxPath(final String mailboxPath)
    {
        this.mailboxPath = mailboxPath;
        return this;
    }

    public long runId()
    {
        return runId;
    }

    /**
     * @param runId the mailbox's run this replica belongs to; 0 accepts any.
     */
    public ReplicaContext runId(final long runId)
    {
        this.runId = runId;
        return this;
    }

    public int replicaId()
    {
        return replicaId;
    }

    public ReplicaContext replicaId(final int replicaId)
    {
        this.replicaId = replicaId;
        return this;
    }

    public String cpus()
    {
        return cpus;
    }

    /**
     * @param cpus the partition's CPU list ({@code 0,2-3}); the coordinator and the application are pinned to it,
     * or split it when {@link #appCpus(String)} is given.
     */
    public ReplicaContext cpus(final String cpus)
    {
        this.cpus = cpus;
        return this;
    }

    public String appCpus()
    {
        return appCpus;
    }

    /**
     * @param appCpus the CPUs of the partition the application runs on, so that it and the coordinator answering
     * its calls can be on different cores; the coordinator takes the partition's other CPUs (the whole partition if
     * none is left). Null: both share the whole partition.
     */
    public ReplicaContext appCpus(final String appCpus)
    {
        this.appCpus = appCpus;
        return this;
    }

    /**
     * The application's CPUs must lie within the partition: a replica never reaches into another's cores.
     *
     * @param cpus the partition's CPU list, or null when there is none.
     * @param appCpus the application's CPU list, or null when it shares the partition with the coordinator.
     * @throws IllegalArgumentException saying which CPUs lie outside, or that there is no partition to lie in.
     */
    public static void validateAppCpus(final String cpus, final String appCpus)
    {
        if (appCpus == null)
        {
            return;
        }
        if (cpus == null)
        {
            throw new IllegalArgumentException("application CPUs " + appCpus + " need a partition to lie in");
        }
        final CpuSet outside = CpuSet.parse(appCpus).minus(CpuSet.parse(cpus));
        if (!outside.isEmpty())
        {
            throw new IllegalArgumentException("application CPUs " + appCpus + " are not all in the partition's CPUs " +
                cpus + ": " + outside + " lie outside it");
        }
    }

    public Path launcher()
    {
        return launcher;
    }

    public ReplicaContext launcher(final Path launcher)
    {
        this.launcher = launcher;
        return this;
    }

    public Path stateDir()
    {
        return stateDir;
    }

    /**
     * @param stateDir the directory that holds the program's working state, as the program names it.
     */
    public ReplicaContext stateDir(final Path stateDir)
    {
        this.stateDir = stateDir;
        return this;
    }

    public Path stateCopy()
    {
        return stateCopy;
    }

    /**
     * @param stateCopy this replica's private copy of the state directory, mounted over it for the program; null
     * when the replica works on the state directory itself.
     */
    public ReplicaContext stateCopy(final Path stateCopy)
    {
        this.stateCopy = stateCopy;
        return this;
    }

    public Path logFile()
    {
        return logFile;
    }

    public ReplicaContext logFile(final Path logFile)
    {
        this.logFile = logFile;
        return this;
    }

    public List<String> command()
    {
        return command;
    }

    public ReplicaContext command(final List<String> command)
    {
        this.command = List.copyOf(command);
        return this;
    }

    public long heartbeatTimeoutNs()
    {
        return heartbeatTimeoutNs;
    }

    /**
     * @param heartbeatTimeoutNs how long a primary's heartbeat may stand still before a backup takes it for hung.
     */
    public ReplicaContext heartbeatTimeoutNs(final long heartbeatTimeoutNs)
    {
        this.heartbeatTimeoutNs = heartbeatTimeoutNs;
        return this;
    }

    public long heartbeatIntervalNs()
    {
        return heartbeatIntervalNs;
    }

    public ReplicaContext heartbeatIntervalNs(final long heartbeatIntervalNs)
    {
        this.heartbeatIntervalNs = heartbeatIntervalNs;
        return this;
    }

    public long handshakeTimeoutMs()
    {
        return handshakeTimeoutMs;
    }

    public long voteTimeoutNs()
    {
        return voteTimeoutNs;
    }

    public long corruptInputAt()
    {
        return corruptInputAt;
    }

    /**
     * Fault injection for tests: this backup flips one byte of the N-th input it replays.
     */
    public ReplicaContext corruptInputAt(final long corruptInputAt)
    {
        this.corruptInputAt = corruptInputAt;
        return this;
    }

    public SchedulingMode schedulingMode()
    {
        return schedulingMode;
    }

    /**
     * How the application's threads and processes are ordered; the same in every replica of a service.
     */
    public ReplicaContext schedulingMode(final SchedulingMode schedulingMode)
    {
        this.schedulingMode = java.util.Objects.requireNonNull(schedulingMode, "schedulingMode");
        return this;
    }

    public long dieInAcceptAt()
    {
        return dieInAcceptAt;
    }

    /**
     * Fault injection for tests: as primary, this replica kills its partition right after its N-th accept, before
     * the connection is handed to the backups (the window an accept ring closes).
     */
    public ReplicaContext dieInAcceptAt(final long dieInAcceptAt)
    {
        this.dieInAcceptAt = dieInAcceptAt;
        return this;
    }

    public PartitionKind partition()
    {
        return partition;
    }

    /**
     * What this replica's partition shares with the others' (one kernel, or only the mailbox).
     */
    public ReplicaContext partition(final PartitionKind partition)
    {
        this.partition = java.util.Objects.requireNonNull(partition, "partition");
        return this;
    }

    public String serviceAddress()
    {
        return serviceAddress;
    }

    public String serviceDevice()
    {
        return serviceDevice;
    }

    /**
     * @return true if a kernel partition with a service address puts the acknowledgement gate on its device.
     */
    public boolean ackGate()
    {
        return ackGate && serviceAddress != null;
    }

    /**
     * Kernel partitions: whether the acknowledgement gate (architecture 6d) keeps the kernel from telling a client
     * more than the log holds; on by default, off only to measure what it costs or where the kernel has no BPF.
     */
    public ReplicaContext ackGate(final boolean ackGate)
    {
        this.ackGate = ackGate;
        return this;
    }

    /**
     * @return the gate's loader, {@code replicore-gate}, built beside the launcher.
     */
    public Path gateLoader()
    {
        return launcher.resolveSibling("replicore-gate");
    }

    /**
     * Kernel partitions: the address clients reach the service at ({@code 198.18.0.100/24}), which the primary holds
     * on {@code device} and a new primary takes over (and announces) before it rebuilds the connections.
     */
    public ReplicaContext serviceAddress(final String cidr, final String device)
    {
        this.serviceAddress = cidr;
        this.serviceDevice = device;
        return this;
    }
}
