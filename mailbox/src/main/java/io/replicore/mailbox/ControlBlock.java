package io.replicore.mailbox;

import org.agrona.concurrent.AtomicBuffer;

/**
 * Flyweight over the control block: the epoch word that decides who is primary, and the admin command word.
 * <pre>
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |   Epoch Word (8): epoch in the high 32 bits, primary id low   |  0
 *   +---------------------------------------------------------------+
 *   |   Command Word (8): sequence high 32 | command 16 | arg 16    |  8
 *   +---------------------------------------------------------------+
 *   |   Command Result (8): sequence high 32 | result code low 32   | 16
 *   +---------------------------------------------------------------+
 *   |   Service State (4)             |   Exit Status (4)           | 24
 *   |   Failover Count (8)                                          | 32
 *   |   Last Failover Duration, ns (8)                              | 40
 *   |   Last Failover Time, epoch ms (8)                            | 48
 *   |   reserved ...                                                | 56
 *   +---------------------------------------------------------------+
 * </pre>
 * Epoch and primary share one word so that a backup names itself primary of a new epoch with a single
 * compare-and-swap: two replicas can never both win the same epoch.
 */
public final class ControlBlock
{
    public static final int EPOCH_WORD_OFFSET = 0;
    public static final int COMMAND_WORD_OFFSET = 8;
    public static final int COMMAND_RESULT_OFFSET = 16;
    public static final int SERVICE_STATE_OFFSET = 24;
    public static final int EXIT_STATUS_OFFSET = 28;
    public static final int FAILOVER_COUNT_OFFSET = 32;
    public static final int LAST_FAILOVER_DURATION_OFFSET = 40;
    public static final int LAST_FAILOVER_TIME_OFFSET = 48;

    /** No primary has been named yet. */
    public static final int NO_PRIMARY = -1;

    public static final int SERVICE_STARTING = 0;
    public static final int SERVICE_RUNNING = 1;
    public static final int SERVICE_STOPPED = 2;

    /**
     * Admin command: a planned switch-over. The primary hands over to the lowest-id live backup, which names
     * itself primary of the next epoch and records the failover.
     */
    public static final int COMMAND_FAILOVER = 1;

    /**
     * Admin command: deliver a signal to the application at one logical point in every replica. Argument: the
     * signal number in the low 7 bits, the process (its id inside the replica; 0: the application's first) above.
     */
    public static final int COMMAND_SIGNAL = 2;

    private final AtomicBuffer buffer;
    private final int base;

    ControlBlock(final AtomicBuffer buffer, final int base)
    {
        this.buffer = buffer;
        this.base = base;
    }

    public static long epochWord(final int epoch, final int primaryId)
    {
        return ((long)epoch << 32) | (primaryId & 0xFFFF_FFFFL);
    }

    public static int epochOf(final long epochWord)
    {
        return (int)(epochWord >>> 32);
    }

    public static int primaryOf(final long epochWord)
    {
        return (int)epochWord;
    }

    public long epochWord()
    {
        return buffer.getLongVolatile(base + EPOCH_WORD_OFFSET);
    }

    public int epoch()
    {
        return epochOf(epochWord());
    }

    public int primaryId()
    {
        return primaryOf(epochWord());
    }

    /**
     * Name {@code primaryId} primary of the epoch after the one in {@code expectedWord}.
     *
     * @return true if this call won; false if the word had already changed (someone else took over).
     */
    public boolean compareAndSetEpoch(final long expectedWord, final int primaryId)
    {
        return buffer.compareAndSetLong(
            base + EPOCH_WORD_OFFSET, expectedWord, epochWord(epochOf(expectedWord) + 1, primaryId));
    }

    void initialise()
    {
        buffer.setMemory(base, MailboxLayout.CONTROL_LENGTH, (byte)0);
        buffer.putLongVolatile(base + EPOCH_WORD_OFFSET, epochWord(0, NO_PRIMARY));
    }

    public long commandWord()
    {
        return buffer.getLongVolatile(base + COMMAND_WORD_OFFSET);
    }

    /**
     * Post an admin command; the coordinators see it on their next duty cycle.
     *
     * @return the sequence of the posted command, to match against {@link #commandResult()}.
     */
    public int postCommand(final int command, final int argument)
    {
        while (true)
        {
            final long current = commandWord();
            final int sequence = (int)(current >>> 32) + 1;
            final long next = ((long)sequence << 32) | ((command & 0xFFFFL) << 16) | (argument & 0xFFFFL);
            if (buffer.compareAndSetLong(base + COMMAND_WORD_OFFSET, current, next))
            {
                return sequence;
            }
        }
    }

    public static int commandSequenceOf(final long commandWord)
    {
        return (int)(commandWord >>> 32);
    }

    public static int commandOf(final long commandWord)
    {
        return (int)((commandWord >>> 16) & 0xFFFF);
    }

    public static int commandArgumentOf(final long commandWord)
    {
        return (int)(commandWord & 0xFFFF);
    }

    public long commandResult()
    {
        return buffer.getLongVolatile(base + COMMAND_RESULT_OFFSET);
    }

    public void commandResult(final int sequence, final int result)
    {
        buffer.putLongVolatile(base + COMMAND_RESULT_OFFSET, ((long)sequence << 32) | (result & 0xFFFF_FFFFL));
    }

    public int serviceState()
    {
        return buffer.getIntVolatile(base + SERVICE_STATE_OFFSET);
    }

    public void serviceState(final int state)
    {
        buffer.putIntVolatile(base + SERVICE_STATE_OFFSET, state);
    }

    public int exitStatus()
    {
        return buffer.getIntVolatile(base + EXIT_STATUS_OFFSET);
    }

    public void exitStatus(final int status)
    {
        buffer.putIntVolatile(base + EXIT_STATUS_OFFSET, status);
    }

    public long failoverCount()
    {
        return buffer.getLongVolatile(base + FAILOVER_COUNT_OFFSET);
    }

    public long lastFailoverDurationNs()
    {
        return buffer.getLongVolatile(base + LAST_FAILOVER_DURATION_OFFSET);
    }

    public long lastFailoverTimeMs()
    {
        return buffer.getLongVolatile(base + LAST_FAILOVER_TIME_OFFSET);
    }

    public void recordFailover(final long durationNs, final long timeMs)
    {
        buffer.putLongVolatile(base + LAST_FAILOVER_DURATION_OFFSET, durationNs);
        buffer.putLongVolatile(base + LAST_FAILOVER_TIME_OFFSET, timeMs);
        buffer.getAndAddLong(base + FAILOVER_COUNT_OFFSET, 1);
    }
}
