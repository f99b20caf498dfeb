package io.replicore.coordinator.cli;

import io.replicore.detscheduler.SchedulingMode;
import io.replicore.coordinator.EventLog;
import io.replicore.coordinator.PartitionKind;
import io.replicore.coordinator.ReplicaContext;
import io.replicore.coordinator.ReplicaCoordinator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * One replica's coordinator process: {@code replicore run} starts one per replica in one kernel; in kernel
 * partitions each replica kernel starts its own, on a mailbox made by {@code init-mailbox}.
 */
@Command(name = "replica", mixinStandardHelpOptions = true,
    description = "Run one replica's coordinator: 'replicore run' starts these in one kernel; in kernel " +
        "partitions start one in each replica kernel (--partition kernel) on a mailbox made by 'init-mailbox'.")
final class ReplicaCommand implements Callable<Integer>
{
    @Option(names = "--id", required = true, description = "This replica's id.")
    int id;

    @Option(names = "--mailbox", required = true, description = "The service's mailbox.")
    String mailbox;

    @Option(names = "--run-id", description = "The run this replica belongs to (hex); 0 accepts any.",
        converter = HexLong.class)
    long runId;

    @Option(names = "--cpus", description = "The partition's CPUs, e.g. 0 or 2-3.")
    String cpus;

    @Option(names = "--app-cpus", description = "The application's CPUs within the partition; the coordinator " +
        "takes the others.")
    String appCpus;

    @Option(names = "--state-dir", description = "The program's state directory.")
    Path stateDir;

    @Option(names = "--state-copy", description = "This replica's private copy of the state directory.")
    Path stateCopy;

    @Option(names = "--log", description = "File for this replica's event log.")
    Path log;

    @Option(names = "--heartbeat-timeout", description = "Milliseconds of heartbeat silence after which the primary " +
        "is taken for hung.")
    long heartbeatTimeoutMs = ReplicaContext.DEFAULT_HEARTBEAT_TIMEOUT_MS;

    @Option(names = "--scheduling", paramLabel = "MODE", defaultValue = "parallel",
        description = "parallel or serial: how the application's threads and processes are ordered.")
    String scheduling;

    @Option(names = "--corrupt-input-at", hidden = true,
        description = "Fault injection: flip one byte of the N-th input this backup replays.")
    long corruptInputAt;

    @Option(names = "--die-in-accept", hidden = true,
        description = "Fault injection: as primary, kill this partition right after the N-th accept.")
    long dieInAcceptAt;

    @Option(names = "--partition", paramLabel = "KIND", defaultValue = "process",
        description = "process (every replica in this kernel; the default) or kernel (a kernel per replica, sharing " +
            "only the mailbox: connections are rebuilt with TCP_REPAIR by a new primary).")
    String partition;

    @Option(names = "--service-address", paramLabel = "CIDR",
        description = "Kernel partitions: the address clients reach the service at (e.g. 198.18.0.100/24), held by " +
            "the primary and taken over, with gratuitous ARP, by a new one. Needs --service-device.")
    String serviceAddress;

    @Option(names = "--service-device", paramLabel = "DEV", description = "The network device for --service-address.")
    String serviceDevice;

    @Option(names = "--ack-gate", negatable = true, defaultValue = "true", fallbackValue = "true",
        description = "Kernel partitions with --service-address: put the acknowledgement gate (tc BPF) on the " +
            "service device, so that the kernel acknowledges no client byte or handshake before it is logged " +
            "(default). --no-ack-gate leaves it off: what a dying kernel acknowledged but had not logged is lost.")
    boolean ackGate;

    @Parameters(arity = "1..*", paramLabel = "PROGRAM", description = "The program and its arguments.")
    List<String> command;

    /**
     * @throws IllegalArgumentException naming the modes if {@code name} is none of them.
     */
    static SchedulingMode schedulingMode(final String name)
    {
        for (final SchedulingMode mode : SchedulingMode.values())
        {
            if (mode.name().equalsIgnoreCase(name))
            {
                return mode;
            }
        }
        throw new IllegalArgumentException("--scheduling must be parallel or serial, not '" + name + "'");
    }

    @Override
    public Integer call() throws Exception
    {
        final ReplicaContext ctx = new ReplicaContext()
            .mailboxPath(mailbox).runId(runId).replicaId(id).cpus(cpus).appCpus(appCpus).launcher(Launcher.path())
            .stateDir(stateDir).stateCopy(stateCopy).logFile(log).command(command).corruptInputAt(corruptInputAt)
            .dieInAcceptAt(dieInAcceptAt).schedulingMode(schedulingMode(scheduling))
            .heartbeatTimeoutNs(TimeUnit.MILLISECONDS.toNanos(heartbeatTimeoutMs))
            .partition(PartitionKind.of(partition)).serviceAddress(serviceAddress, serviceDevice).ackGate(ackGate);
        try (EventLog events = new EventLog(log, id))
        {
            return new ReplicaCoordinator(ctx, events).run();
        }
    }
}
