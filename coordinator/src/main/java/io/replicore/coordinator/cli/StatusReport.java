package io.replicore.coordinator.cli;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.HeartbeatMonitor;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import org.agrona.concurrent.ringbuffer.RingBuffer;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One reading of a service's mailbox, as {@code status} and each frame of {@code watch} show it: taken once, then
 * rendered as a table or as one JSON object, so that both commands print exactly the same thing.
 * <p>
 * Whether a replica beats is decided from its heartbeat counter (it works across kernels whose clocks differ): the
 * counters are sampled twice {@link #HEARTBEAT_WINDOW_NS} apart, and a live replica whose counter did not move in
 * between is silent (it beats every 10 ms).
 */
final class StatusReport
{
    /** Time between the two samples of the heartbeat counters: three beats. */
    static final long HEARTBEAT_WINDOW_NS = TimeUnit.MILLISECONDS.toNanos(30);

    final String path;
    final long runId;
    final int epoch;
    final int primaryId;
    final int serviceState;
    final int exitStatus;
    final long failoverCount;
    final long lastFailoverDurationNs;
    final long lastFailoverTimeMs;
    final Instant takenAt;
    final List<Replica> replicas;

    /**
     * One replica's slot, with what the report derives from it.
     */
    static final class Replica
    {
        final int id;
        final ReplicaState state;
        final int pid;
        final int appPid;
        final long heartbeat;
        /** Null for a replica that is not live: it is not expected to beat. */
        final Boolean beating;
        final long silentMs;
        final long logSequence;
        final long lagRecords;
        final long lagBytes;
        final long interceptedCalls;
        final int connections;
        final int divergences;
        final String lastError;

        Replica(
            final int id,
            final ReplicaState state,
            final int pid,
            final int appPid,
            final long heartbeat,
            final Boolean beating,
            final long silentMs,
            final long logSequence,
            final long lagRecords,
            final long lagBytes,
            final long interceptedCalls,
            final int connections,
            final int divergences,
            final String lastError)
        {
            this.id = id;
            this.state = state;
            this.pid = pid;
            this.appPid = appPid;
            this.heartbeat = heartbeat;
            this.beating = beating;
            this.silentMs = silentMs;
            this.logSequence = logSequence;
            this.lagRecords = lagRecords;
            this.lagBytes = lagBytes;
            this.interceptedCalls = interceptedCalls;
            this.connections = connections;
            this.divergences = divergences;
            this.lastError = lastError;
        }

        String heartbeatText()
        {
            if (beating == null)
            {
                return "-";
            }
            return beating ? "beating" : "silent " + silentMs + "ms";
        }
    }

    private StatusReport(final Mailbox box, final List<Replica> replicas, final long epochWord)
    {
        final ControlBlock control = box.control();
        this.path = box.path();
        this.runId = box.runId();
        this.epoch = ControlBlock.epochOf(epochWord);
        this.primaryId = ControlBlock.primaryOf(epochWord);
        this.serviceState = control.serviceState();
        this.exitStatus = control.exitStatus();
        this.failoverCount = control.failoverCount();
        this.lastFailoverDurationNs = control.lastFailoverDurationNs();
        this.lastFailoverTimeMs = control.lastFailoverTimeMs();
        this.takenAt = Instant.now();
        this.replicas = replicas;
    }

    /**
     * Read the mailbox, sampling the heartbeat counters over {@link #HEARTBEAT_WINDOW_NS}.
     *
     * @param monitor kept by the caller across reports ({@code watch}) so that a silence is measured from the last
     *                beat it saw; a new one for a single report.
     */
    static StatusReport take(final Mailbox box, final HeartbeatMonitor monitor)
    {
        final long firstNs = System.nanoTime();
        monitor.poll(firstNs);
        long nowNs;
        while ((nowNs = System.nanoTime()) - firstNs < HEARTBEAT_WINDOW_NS)
        {
            LockSupport.parkNanos(HEARTBEAT_WINDOW_NS - (nowNs - firstNs));
        }
        monitor.poll(nowNs);

        final ControlBlock control = box.control();
        final long epochWord = control.epochWord();
        final int primary = ControlBlock.primaryOf(epochWord);
        final boolean hasPrimary = primary >= 0 && primary < box.replicaCount();
        final long primarySequence = hasPrimary ? box.slot(primary).logSequence() : 0;

        final List<Replica> replicas = new ArrayList<>(box.replicaCount());
        for (int id = 0; id < box.replicaCount(); id++)
        {
            final ReplicaSlot slot = box.slot(id);
            final ReplicaState state = slot.state();
            final long logSequence = slot.logSequence();
            final boolean behind = hasPrimary && id != primary;
            long lagBytes = 0;
            if (behind)
            {
                final RingBuffer ring = box.ring(primary, id);
                lagBytes = Math.max(0, ring.producerPosition() - ring.consumerPosition());
            }
            Boolean beating = null;
            long silentMs = 0;
            if (state.isLive())
            {
                // Strictly less: the first sample was taken at least one window ago, so a counter that moved only
                // before it does not count as beating now.
                beating = monitor.isBeating(id, nowNs, HEARTBEAT_WINDOW_NS);
                if (!beating)
                {
                    silentMs = TimeUnit.NANOSECONDS.toMillis(silence(monitor, slot, id, nowNs));
                }
            }
            replicas.add(new Replica(id, state, slot.pid(), slot.appPid(), slot.heartbeat(), beating, silentMs,
                logSequence, behind ? Math.max(0, primarySequence - logSequence) : 0, lagBytes,
                slot.interceptedCalls(), slot.connections(), slot.divergenceCount(), slot.lastErrorMessage()));
        }
        return new StatusReport(box, replicas, epochWord);
    }

    /**
     * How long a replica has been silent: what the watcher saw, or longer when the beater's own timestamp says
     * so. That timestamp is its CLOCK_MONOTONIC, comparable with ours only on the same kernel, so it is used only
     * when it is plausible there (not zero, not in our future).
     */
    private static long silence(final HeartbeatMonitor monitor, final ReplicaSlot slot, final int id, final long nowNs)
    {
        final long watched = monitor.silenceNs(id, nowNs);
        final long beaterTime = slot.heartbeatTimeNs();
        return beaterTime > 0 && beaterTime <= nowNs ? Math.max(watched, nowNs - beaterTime) : watched;
    }

    boolean isServiceStopped()
    {
        return serviceState == ControlBlock.SERVICE_STOPPED;
    }

    static String serviceStateName(final int serviceState)
    {
        return switch (serviceState)
        {
            case ControlBlock.SERVICE_STARTING -> "starting";
            case ControlBlock.SERVICE_RUNNING -> "running";
            case ControlBlock.SERVICE_STOPPED -> "stopped";
            default -> "unknown(" + serviceState + ")";
        };
    }

    static String stateName(final ReplicaState state)
    {
        return state.name().toLowerCase(Locale.ROOT);
    }

    static String millis(final long nanos)
    {
        return String.format(Locale.ROOT, "%.3f", nanos / 1e6);
    }

    void printText(final PrintWriter out)
    {
        out.printf("mailbox %s  run %s  service %s%s  epoch %d  primary %d%n", path, Long.toHexString(runId),
            serviceStateName(serviceState), isServiceStopped() ? " (exit status " + exitStatus + ")" : "", epoch,
            primaryId);
        if (failoverCount == 0)
        {
            out.println("failovers 0");
        }
        else
        {
            out.printf("failovers %d  last took %s ms at %s%n", failoverCount, millis(lastFailoverDurationNs),
                Instant.ofEpochMilli(lastFailoverTimeMs));
        }
        out.printf("%-3s %-9s %-8s %-8s %-10s %-14s %-10s %-6s %-10s %-10s %-6s %-4s %s%n", "id", "state", "pid",
            "app-pid", "heartbeat", "beat", "log-seq", "lag", "lag-bytes", "calls", "conns", "div", "last error");
        for (final Replica replica : replicas)
        {
            out.printf("%-3d %-9s %-8d %-8d %-10d %-14s %-10d %-6d %-10d %-10d %-6d %-4d %s%n", replica.id,
                stateName(replica.state), replica.pid, replica.appPid, replica.heartbeat, replica.heartbeatText(),
                replica.logSequence, replica.lagRecords, replica.lagBytes, replica.interceptedCalls,
                replica.connections, replica.divergences, replica.lastError);
        }
    }

    JsonObject toJson()
    {
        final List<JsonObject> rows = new ArrayList<>(replicas.size());
        for (final Replica replica : replicas)
        {
            rows.add(new JsonObject()
                .put("id", replica.id)
                .put("state", stateName(replica.state))
                .put("pid", replica.pid)
                .put("appPid", replica.appPid)
                .put("heartbeat", replica.heartbeat)
                .put("beating", replica.beating)
                .put("silentMs", replica.beating == null || replica.beating ? null : Long.valueOf(replica.silentMs))
                .put("logSequence", replica.logSequence)
                .put("lagRecords", replica.lagRecords)
                .put("lagBytes", replica.lagBytes)
                .put("interceptedCalls", replica.interceptedCalls)
                .put("connections", replica.connections)
                .put("divergences", replica.divergences)
                .put("lastError", replica.lastError));
        }
        final boolean failedOver = failoverCount > 0;
        return new JsonObject()
            .put("mailbox", path)
            .put("runId", Long.toHexString(runId))
            .put("time", takenAt.toString())
            .put("service", serviceStateName(serviceState))
            .put("epoch", epoch)
            .put("primary", primaryId)
            .put("exitStatus", exitStatus)
            .put("failovers", failoverCount)
            .putMillis("lastFailoverMs", failedOver ? lastFailoverDurationNs / 1e6 : null)
            .put("lastFailoverTime", failedOver ? Instant.ofEpochMilli(lastFailoverTimeMs).toString() : null)
            .put("replicas", rows);
    }
}
