package io.replicore.coordinator.replay;

import org.agrona.BitUtil;
import org.agrona.MutableDirectBuffer;

/**
 * The replication log: what a primary appends to each backup's channel for every intercepted call, in call
 * order. These are the payloads of channel records ({@link io.replicore.mailbox.ChannelRecord}); the channel's
 * record type says which of the five kinds it is.
 * <pre>
 * CALL (type 1): the outcome of one intercepted system call.
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |  Call Number (4)                |  Action (4)                 |  0
 *   |  Arguments Signature (8): FNV-1a of number and arguments      |  8
 *   |  Result (8): return value, or -errno                          | 16
 *   |  Segment Count (4)              |  Calling Thread Index (4)   | 24
 *   +---------------------------------------------------------------+
 *   |  Segment: Address (8) | Length (4) | reserved (4) | bytes,     | 32
 *   |  padded to 8 ... repeated Segment Count times                 |
 *   +---------------------------------------------------------------+
 *   Action 1 CONTINUE: every replica runs the call itself.
 *   Action 2 RESULT: complete with Result after copying each segment into the application at its address.
 *   Action 3 OUTPUT: complete with Result; one 8-byte segment (address 0) holds the signature of the bytes
 *            the primary emitted, which a backup compares with its own.
 *   Action 4 DESCRIPTOR: the primary installed descriptor Result; a backup installs a placeholder there.
 *   Action 5 SOCKET: the primary installed an accepted connection as descriptor Result; a backup installs an
 *            unconnected socket there; segments (the peer's address and its length) are copied as for RESULT.
 *   Action 6 RECEIVE: the primary received Result bytes from an internal socket (a socketpair end, whose peer's
 *            sends ran in every replica). The first segment (address 0) says what came:
 *              | Signature of the bytes (8) | Bytes received (8) | Descriptor Count (4) | Receive Flags (4) |
 *              | Descriptor numbers in the application (4 each) ...                                    |
 *            A backup receives as many bytes from its own socket, compares their signature, installs the
 *            descriptors that came with them at those numbers, then copies the other segments as for RESULT.
 *   Action 7 SIGNAL: the thread, stopped in this call, was sent signal Result (replicore signal, a kill of the
 *            application's, or the SIGPIPE of an output that failed with EPIPE), which interrupted the call (the
 *            kernel makes it again or fails it with EINTR after the handler, or the process ends). Segments, if
 *            any, are what the call leaves behind (a sleep's time left). A backup copies them, sends its thread the
 *            same signal in the same call and waits until the call is withdrawn; no answer follows. A POSIX
 *            timer's signal has a last segment at address 0: the siginfo it is sent with (TimerSignalInfo).
 *   Action 8 SIGNAL_PENDING: as SIGNAL, but the thread blocks or ignores it: the call goes on, and its own record
 *            follows.
 *   Action 9 SIGNAL_ASLEEP: sent while the thread slept in this call (rt_sigsuspend, pause), which runs in the
 *            kernel in every replica: a backup sends it once its thread sleeps there. Siginfo as for SIGNAL.
 *   Action 10 END_HELD: a process other than the first ends in this call: its exit_group (Result 0), or a call
 *            where signal Result, whose default action ends the process, is to end it (SIGPIPE for an output that
 *            failed with EPIPE, or a signal sent to it). Every replica holds the call unanswered until a later record
 *            releases it (ChildEnds): letting the exit_group run, or sending the signal.
 *   Action 11 CHILD_END: the thread, stopped in this call, is the parent of the held end of thread Result, which
 *            was let run here; its exit signal withdrew the call (as SIGNAL, segments too). A backup copies the
 *            segments, lets its own held end run and waits until the call is withdrawn.
 *   Action 12 CHILD_END_PENDING: as CHILD_END, but the call goes on (the parent blocks, ignores or does not
 *            catch the signal): its own record follows.
 *   Action 13 CHILD_END_ASLEEP: as CHILD_END, while the thread slept in this call (wait4, waitid, rt_sigsuspend,
 *            pause, vfork); signature 0. A backup releases once its thread sleeps there.
 *   Action 14 END_RELEASED: the held end of thread Result was let run at no point of its parent (the parent made
 *            no call for a second); the record is the ended thread's, with number exit_group and signature 0.
 *
 * EXIT (type 2): the application ended.        STOP (type 3): the primary stopped on a call it cannot replay.
 *   |  Wait Status (4) | reserved (4) |         |  Call Number (4) | Message Length (4) | Message, UTF-8 ... |
 *
 * CONNECTION (type 4), kernel partitions: the primary's kernel is about to send a client the SYN-ACK that opens
 * a connection, which the application has not accepted yet (the acknowledgement gate held it until this record
 * was appended). The payload is the connection's logical TCP state (72 bytes,
 * io.replicore.coordinator.logicaltcp.TcpConnectionState). It belongs to no thread: a backup keeps it as it reads
 * it, until the accept's SOCKET record names the same connection; a new primary rebuilds the connections still
 * kept and gives them to the application's next accepts.
 *
 * INPUT (type 5), kernel partitions: bytes of a connection's input the primary's kernel holds, which a readiness
 * call's answer is about to tell the application of; appended before that answer's record, so that the kernel may
 * acknowledge them and a new primary puts them back in its rebuilt connection's queue. It belongs to no thread.
 *   |  Owner (4): the process | Descriptor (4) | Length (4) | reserved (4) | Bytes: the next Length bytes of the
 *   |  connection's input after all logged before ...                                                       |
 * </pre>
 */
public final class LogRecord
{
    public static final int TYPE_CALL = 1;
    public static final int TYPE_EXIT = 2;
    public static final int TYPE_STOP = 3;
    public static final int TYPE_CONNECTION = 4;
    public static final int TYPE_INPUT = 5;

    public static final int ACTION_CONTINUE = 1;
    public static final int ACTION_RESULT = 2;
    public static final int ACTION_OUTPUT = 3;
    public static final int ACTION_DESCRIPTOR = 4;
    public static final int ACTION_SOCKET = 5;
    public static final int ACTION_RECEIVE = 6;
    public static final int ACTION_SIGNAL = 7;
    public static final int ACTION_SIGNAL_PENDING = 8;
    public static final int ACTION_SIGNAL_ASLEEP = 9;
    public static final int ACTION_END_HELD = 10;
    public static final int ACTION_CHILD_END = 11;
    public static final int ACTION_CHILD_END_PENDING = 12;
    public static final int ACTION_CHILD_END_ASLEEP = 13;
    public static final int ACTION_END_RELEASED = 14;

    public static final int CALL_NUMBER_OFFSET = 0;
    public static final int ACTION_OFFSET = 4;
    public static final int SIGNATURE_OFFSET = 8;
    public static final int RESULT_OFFSET = 16;
    public static final int SEGMENT_COUNT_OFFSET = 24;
    public static final int THREAD_INDEX_OFFSET = 28;
    public static final int CALL_HEADER_LENGTH = 32;

    public static final int SEGMENT_ADDRESS_OFFSET = 0;
    public static final int SEGMENT_LENGTH_OFFSET = 8;
    public static final int SEGMENT_HEADER_LENGTH = 16;

    /** Within a RECEIVE record's first segment. */
    public static final int RECEIVED_SIGNATURE_OFFSET = 0;
    public static final int RECEIVED_LENGTH_OFFSET = 8;
    public static final int RECEIVED_COUNT_OFFSET = 16;
    public static final int RECEIVED_FLAGS_OFFSET = 20;
    public static final int RECEIVED_DESCRIPTORS_OFFSET = 24;

    public static final int EXIT_STATUS_OFFSET = 0;
    public static final int EXIT_LENGTH = 8;

    public static final int INPUT_OWNER_OFFSET = 0;
    public static final int INPUT_DESCRIPTOR_OFFSET = 4;
    public static final int INPUT_LENGTH_OFFSET = 8;
    public static final int INPUT_BYTES_OFFSET = 16;

    public static final int STOP_CALL_NUMBER_OFFSET = 0;
    public static final int STOP_MESSAGE_LENGTH_OFFSET = 4;
    public static final int STOP_MESSAGE_OFFSET = 8;

    private LogRecord()
    {
    }

    /**
     * Write a CALL header at {@code offset}; segments follow with {@link #appendSegment}.
     *
     * @return the length so far.
     */
    public static int putCall(
        final MutableDirectBuffer buffer, final int offset, final int nr, final int action, final long signature,
        final long result)
    {
        buffer.putInt(offset + CALL_NUMBER_OFFSET, nr);
        buffer.putInt(offset + ACTION_OFFSET, action);
        buffer.putLong(offset + SIGNATURE_OFFSET, signature);
        buffer.putLong(offset + RESULT_OFFSET, result);
        buffer.putInt(offset + SEGMENT_COUNT_OFFSET, 0);
        buffer.putInt(offset + THREAD_INDEX_OFFSET, 0);
        return CALL_HEADER_LENGTH;
    }

    /**
     * Reserve a segment of {@code length} bytes for {@code address} after {@code recordLength} bytes of the record
     * at {@code offset}; the caller fills the bytes at {@link #segmentData}.
     *
     * @return the new record length.
     */
    public static int appendSegment(
        final MutableDirectBuffer buffer, final int offset, final int recordLength, final long address, final int length)
    {
        final int segment = offset + recordLength;
        buffer.putLong(segment + SEGMENT_ADDRESS_OFFSET, address);
        buffer.putInt(segment + SEGMENT_LENGTH_OFFSET, length);
        buffer.putInt(segment + SEGMENT_LENGTH_OFFSET + 4, 0);
        buffer.putInt(offset + SEGMENT_COUNT_OFFSET, buffer.getInt(offset + SEGMENT_COUNT_OFFSET) + 1);
        return recordLength + SEGMENT_HEADER_LENGTH + BitUtil.align(length, 8);
    }

    /**
     * @return where the bytes of the segment that starts {@code recordLength} bytes into the record go.
     */
    public static int segmentData(final int offset, final int recordLength)
    {
        return offset + recordLength + SEGMENT_HEADER_LENGTH;
    }

    public static int segmentLength(final int length)
    {
        return SEGMENT_HEADER_LENGTH + BitUtil.align(length, 8);
    }
}
