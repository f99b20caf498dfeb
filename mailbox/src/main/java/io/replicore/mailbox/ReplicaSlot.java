package io.replicore.mailbox;

import org.agrona.concurrent.AtomicBuffer;

import java.nio.charset.StandardCharsets;

/**
 * Flyweight over one replica's slot. Only its own coordinator writes it, except {@link #markDead} by a peer that
 * declared it dead (or, in kernel partitions, by its kernel's panic notifier).
 * <pre>
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |  State (4)                      |  Replica Id (4)             |  0
 *   |  Coordinator Pid (4)            |  Partition Id (4)           |  8
 *   |  Heartbeat Counter (8)                                        | 16
 *   |  Heartbeat Time, beater's monotonic ns (8)                    | 24
 *   |  Log Sequence (8): last record appended (primary) or replayed | 32
 *   |  Application Pid (4)            |  Divergence Count (4)       | 40
 *   |  Intercepted Calls (8)                                        | 48
 *   |  Started Time, epoch ms (8)                                   | 56
 *   |  Last Error Code (4)            |  Last Error Length (4)      | 64
 *   |  Connections (4)                |  Accept Ring (4)            | 72
 *   |  Ring Held (4): epoch        |  Last Error Message, UTF-8,    | 80
 *   |  ... up to 172 bytes                                          |
 *   +---------------------------------------------------------------+ 256
 * </pre>
 */
public final class ReplicaSlot
{
    public static final int STATE_OFFSET = 0;
    public static final int REPLICA_ID_OFFSET = 4;
    public static final int PID_OFFSET = 8;
    public static final int PARTITION_ID_OFFSET = 12;
    public static final int HEARTBEAT_OFFSET = 16;
    public static final int HEARTBEAT_TIME_OFFSET = 24;
    public static final int LOG_SEQUENCE_OFFSET = 32;
    public static final int APP_PID_OFFSET = 40;
    public static final int DIVERGENCE_COUNT_OFFSET = 44;
    public static final int INTERCEPTED_CALLS_OFFSET = 48;
    public static final int STARTED_TIME_OFFSET = 56;
    public static final int LAST_ERROR_CODE_OFFSET = 64;
    public static final int LAST_ERROR_LENGTH_OFFSET = 68;
    public static final int CONNECTIONS_OFFSET = 72;
    public static final int ACCEPT_RING_OFFSET = 76;
    public static final int RING_HELD_OFFSET = 80;
    public static final int LAST_ERROR_MESSAGE_OFFSET = 84;
    public static final int LAST_ERROR_MESSAGE_LENGTH = MailboxLayout.SLOT_LENGTH - LAST_ERROR_MESSAGE_OFFSET;

    private final AtomicBuffer buffer;
    private final int base;
    private final int replicaId;

    ReplicaSlot(final AtomicBuffer buffer, final int replicaId)
    {
        this.buffer = buffer;
        this.base = MailboxLayout.slotOffset(replicaId);
        this.replicaId = replicaId;
    }

    public int replicaId()
    {
        return replicaId;
    }

    void initialise()
    {
        buffer.setMemory(base, MailboxLayout.SLOT_LENGTH, (byte)0);
        buffer.putInt(base + REPLICA_ID_OFFSET, replicaId);
        buffer.putIntVolatile(base + STATE_OFFSET, ReplicaState.EMPTY.code());
    }

    public ReplicaState state()
    {
        return ReplicaState.of(buffer.getIntVolatile(base + STATE_OFFSET));
    }

    public void state(final ReplicaState state)
    {
        buffer.putIntVolatile(base + STATE_OFFSET, state.code());
    }

    /**
     * Change the state only if it still is {@code expected}, so that a peer's verdict and the owner's own
     * update cannot overwrite each other.
     */
    public boolean compareAndSetState(final ReplicaState expected, final ReplicaState update)
    {
        return buffer.compareAndSetInt(base + STATE_OFFSET, expected.code(), update.code());
    }

    /**
     * Claim the slot for a starting coordinator.
     */
    public void register(final int pid, final int partitionId, final long nowMs)
    {
        buffer.putInt(base + PID_OFFSET, pid);
        buffer.putInt(base + PARTITION_ID_OFFSET, partitionId);
        buffer.putLong(base + STARTED_TIME_OFFSET, nowMs);
        buffer.putLong(base + LOG_SEQUENCE_OFFSET, 0);
        buffer.putLong(base + INTERCEPTED_CALLS_OFFSET, 0);
        buffer.putInt(base + DIVERGENCE_COUNT_OFFSET, 0);
        buffer.putInt(base + CONNECTIONS_OFFSET, 0);
        buffer.putInt(base + ACCEPT_RING_OFFSET, 0);
        buffer.putInt(base + RING_HELD_OFFSET, 0);
        buffer.putInt(base + LAST_ERROR_CODE_OFFSET, 0);
        buffer.putIntVolatile(base + LAST_ERROR_LENGTH_OFFSET, 0);
        state(ReplicaState.STARTING);
    }

    public int pid()
    {
        return buffer.getIntVolatile(base + PID_OFFSET);
    }

    public int partitionId()
    {
        return buffer.getIntVolatile(base + PARTITION_ID_OFFSET);
    }

    public long startedTimeMs()
    {
        return buffer.getLongVolatile(base + STARTED_TIME_OFFSET);
    }

    /**
     * One beat: the counter is what peers watch; the time is only for display on the same kernel.
     */
    public void beat(final long nowNs)
    {
        buffer.putLongOrdered(base + HEARTBEAT_TIME_OFFSET, nowNs);
        buffer.putLongOrdered(base + HEARTBEAT_OFFSET, buffer.getLong(base + HEARTBEAT_OFFSET) + 1);
    }

    public long heartbeat()
    {
        return buffer.getLongVolatile(base + HEARTBEAT_OFFSET);
    }

    public long heartbeatTimeNs()
    {
        return buffer.getLongVolatile(base + HEARTBEAT_TIME_OFFSET);
    }

    public long logSequence()
    {
        return buffer.getLongVolatile(base + LOG_SEQUENCE_OFFSET);
    }

    public void logSequence(final long sequence)
    {
        buffer.putLongOrdered(base + LOG_SEQUENCE_OFFSET, sequence);
    }

    public int appPid()
    {
        return buffer.getIntVolatile(base + APP_PID_OFFSET);
    }

    public void appPid(final int pid)
    {
        buffer.putIntVolatile(base + APP_PID_OFFSET, pid);
    }

    public int divergenceCount()
    {
        return buffer.getIntVolatile(base + DIVERGENCE_COUNT_OFFSET);
    }

    public void incrementDivergenceCount()
    {
        buffer.getAndAddInt(base + DIVERGENCE_COUNT_OFFSET, 1);
    }

    /**
     * @return the application's open TCP connections this replica owns (primary) or holds for a takeover (backup).
     */
    public int connections()
    {
        return buffer.getIntVolatile(base + CONNECTIONS_OFFSET);
    }

    public void connections(final int count)
    {
        buffer.putIntOrdered(base + CONNECTIONS_OFFSET, count);
    }

    /**
     * @return the primary coordinator's accept ring as a descriptor number in its own table, plus one; 0 while it
     * has not said; -1 if it has none.
     * A backup borrows the ring with pidfd_getfd while the primary lives (the kernel will not pass an io_uring over
     * a UNIX socket).
     */
    public int acceptRing()
    {
        return buffer.getIntVolatile(base + ACCEPT_RING_OFFSET);
    }

    public void acceptRing(final int fdPlusOne)
    {
        buffer.putIntOrdered(base + ACCEPT_RING_OFFSET, fdPlusOne);
    }

    /**
     * @return the epoch whose primary's accept ring this backup holds (a primary waits for it before its accepts),
     * or 0.
     */
    public int ringHeld()
    {
        return buffer.getIntVolatile(base + RING_HELD_OFFSET);
    }

    /**
     * This backup holds the accept ring of the primary of {@code epoch}, or knows it has none.
     */
    public void ringHeld(final int epoch)
    {
        buffer.putIntOrdered(base + RING_HELD_OFFSET, epoch);
    }

    public long interceptedCalls()
    {
        return buffer.getLongVolatile(base + INTERCEPTED_CALLS_OFFSET);
    }

    public void interceptedCalls(final long calls)
    {
        buffer.putLongOrdered(base + INTERCEPTED_CALLS_OFFSET, calls);
    }

    public int lastErrorCode()
    {
        return buffer.getIntVolatile(base + LAST_ERROR_CODE_OFFSET);
    }

    /**
     * Record why this replica stopped or what it saw; the message is cut to fit the slot.
     */
    public void lastError(final int code, final String message)
    {
        final byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        final int length = Math.min(bytes.length, LAST_ERROR_MESSAGE_LENGTH);
        buffer.putIntVolatile(base + LAST_ERROR_LENGTH_OFFSET, 0);
        buffer.putBytes(base + LAST_ERROR_MESSAGE_OFFSET, bytes, 0, length);
        buffer.putInt(base + LAST_ERROR_CODE_OFFSET, code);
        buffer.putIntVolatile(base + LAST_ERROR_LENGTH_OFFSET, length);
    }

    public String lastErrorMessage()
    {
        final int length = Math.min(buffer.getIntVolatile(base + LAST_ERROR_LENGTH_OFFSET), LAST_ERROR_MESSAGE_LENGTH);
        final byte[] bytes = new byte[Math.max(length, 0)];
        buffer.getBytes(base + LAST_ERROR_MESSAGE_OFFSET, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * A peer's verdict: the replica is dead. Only a live state is replaced, so a replica that already stopped
     * cleanly or was fenced keeps that state.
     */
    public boolean markDead(final String reason)
    {
        final ReplicaState current = state();
        if (current.isLive() && compareAndSetState(current, ReplicaState.DEAD))
        {
            lastError(ReplicaState.DEAD.code(), reason);
            return true;
        }
        return false;
    }
}
