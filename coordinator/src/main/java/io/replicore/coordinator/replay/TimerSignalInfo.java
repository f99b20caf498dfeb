package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import static io.replicore.coordinator.replay.LogRecord.SEGMENT_ADDRESS_OFFSET;
import static io.replicore.coordinator.replay.LogRecord.SEGMENT_HEADER_LENGTH;
import static io.replicore.coordinator.replay.LogRecord.SEGMENT_LENGTH_OFFSET;

/**
 * The siginfo of a POSIX timer's signal (SI_TIMER, with the timer's id, its overrun count and the sigev_value it was
 * created with), which a handler installed with SA_SIGINFO reads to tell timers apart. tgkill would give SI_TKILL
 * and none of these; rt_tgsigqueueinfo sends the kernel's own fields, since SI_TIMER is one of the codes another
 * process may give.
 * <p>
 * In a SIGNAL, SIGNAL_PENDING or SIGNAL_ASLEEP record it is the last segment, at address 0 (copied into no
 * application memory), so that every backup sends the same siginfo:
 * <pre>
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |  Code (4): SI_TIMER (-2)        |  Timer Id (4)               |  0
 *   |  Overrun (4)                    |  reserved (4)               |  8
 *   |  Value (8): the timer's sigev_value                           | 16
 *   +---------------------------------------------------------------+
 * </pre>
 * One instance per thread that sends: it keeps the native siginfo it sends from.
 */
final class TimerSignalInfo
{
    static final int SI_TIMER = -2;
    static final int CODE_OFFSET = 0;
    static final int TIMER_ID_OFFSET = 4;
    static final int OVERRUN_OFFSET = 8;
    static final int VALUE_OFFSET = 16;
    static final int LENGTH = 24;
    /** The record space a siginfo segment takes. */
    static final int SEGMENT_LENGTH = LogRecord.segmentLength(LENGTH);

    /** struct siginfo on x86_64, as the kernel reads it: its _timer member. */
    private static final int SI_SIGNO_OFFSET = 0;
    private static final int SI_CODE_OFFSET = 8;
    private static final int SI_TIMERID_OFFSET = 16;
    private static final int SI_OVERRUN_OFFSET = 20;
    private static final int SI_VALUE_OFFSET = 24;
    private static final int SIGINFO_LENGTH = 128;
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);

    private final Native.Scratch siginfo = Native.allocate(SIGINFO_LENGTH);

    /**
     * Append a timer's siginfo to the record as a segment at address 0 after {@code recordLength} bytes.
     *
     * @return the new record length.
     */
    static int append(final MutableDirectBuffer record, final int recordLength, final int timerId, final int overrun,
        final long value)
    {
        final int data = LogRecord.segmentData(0, recordLength);
        final int length = LogRecord.appendSegment(record, 0, recordLength, 0, LENGTH);
        record.putInt(data + CODE_OFFSET, SI_TIMER);
        record.putInt(data + TIMER_ID_OFFSET, timerId);
        record.putInt(data + OVERRUN_OFFSET, overrun);
        record.putInt(data + OVERRUN_OFFSET + 4, 0);
        record.putLong(data + VALUE_OFFSET, value);
        return length;
    }

    /**
     * @return where the data of the record's siginfo segment starts, or -1 if the record has none (a signal sent
     * with tgkill).
     */
    static int find(final DirectBuffer record, final int firstSegment, final int recordLength)
    {
        for (int offset = firstSegment; offset < recordLength; )
        {
            final int length = record.getInt(offset + SEGMENT_LENGTH_OFFSET);
            if (record.getLong(offset + SEGMENT_ADDRESS_OFFSET) == 0 && length == LENGTH)
            {
                return offset + SEGMENT_HEADER_LENGTH;
            }
            offset += LogRecord.segmentLength(length);
        }
        return -1;
    }

    /**
     * Send {@code signo} to thread {@code tid} of process {@code process} (host ids) with the siginfo whose segment
     * data starts at {@code data} in {@code record}.
     *
     * @return 0, or -errno.
     */
    int send(final int process, final int tid, final int signo, final DirectBuffer record, final int data)
    {
        final var info = siginfo.buffer();
        info.setMemory(0, SIGINFO_LENGTH, (byte)0);
        info.putInt(SI_SIGNO_OFFSET, signo);
        info.putInt(SI_CODE_OFFSET, record.getInt(data + CODE_OFFSET));
        info.putInt(SI_TIMERID_OFFSET, record.getInt(data + TIMER_ID_OFFSET));
        info.putInt(SI_OVERRUN_OFFSET, record.getInt(data + OVERRUN_OFFSET));
        info.putLong(SI_VALUE_OFFSET, record.getLong(data + VALUE_OFFSET));
        return PROCESS.syscall(ProcessCalls.SYS_RT_TGSIGQUEUEINFO, process, tid, signo, siginfo.pointer()) == 0 ? 0 :
            -Native.lastErrno();
    }
}
