package io.replicore.coordinator.replay;

import io.replicore.detscheduler.ChildWatch;
import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.ioowner.BackupSockets;
import io.replicore.coordinator.intercept.SyscallNames;
import io.replicore.coordinator.logicaltcp.TcpConnectionState;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.mailbox.ChannelReader;
import io.replicore.mailbox.ReplicaSlot;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;

import static io.replicore.coordinator.intercept.Syscalls.*;
import static io.replicore.coordinator.replay.LogRecord.*;

/**
 * The backup's side: every notified call is answered from the next record of the primary's log, without
 * performing it. The call must be the one the primary made, with the same arguments; an output must carry the
 * same bytes. Anything else is a divergence.
 */
public final class BackupReplay
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final int AT_FDCWD = -100;
    private static final int AF_INET = 2;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_NONBLOCK = 0x800;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int SEEK_SET = 0;
    private static final int SEEK_CUR = 1;
    private static final int SEEK_END = 2;
    private static final int O_CREAT = 0100;
    private static final int O_EXCL = 0200;
    private static final int O_TRUNC = 01000;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int SHUT_RD = 0;
    /** {@link #nextThread}: the next record is the application's end, which no call can take. */
    public static final int NO_THREAD = -1;
    /** {@link #nextThread}: the primary is gone and its log has been replayed to the end. */
    public static final int LOST = -2;
    /** How often the primary's liveness is looked at while its log is empty. */
    private static final long WATCH_INTERVAL_NS = 1_000_000;

    private final InterceptedCall call;
    private final ApplicationProcesses processes;
    private final SeccompListener listener;
    private final ReplicaSlot ownSlot;
    private final BackupSockets sockets;
    private final UnsafeBuffer record;
    private final IdleStrategy idle = new BackoffIdleStrategy(100, 10, 1_000, 200_000);
    private final long corruptInputAt;
    private ChannelReader reader;
    private PrimaryWatch watch;
    private long nextWatchNs;
    private String lostReason;
    private long inputRecords;
    private int recordType;
    private int recordLength;
    private long recordSequence;
    private int recordChecksum;
    /** A record has been read and waits for its thread's call, since this time. */
    private boolean pending;
    /** The answer to the call in hand found its thread gone. */
    private boolean gone;
    private long pendingSinceNs;
    /** Descriptors that stand in for files only the primary opened: a new primary cannot use them. */
    private final BitSet placeholders = new BitSet();
    /** What each placeholder stands in for, so that a new primary in another kernel can open it there. */
    private final java.util.Map<Integer, OpenedFile> placeholderFiles = new java.util.HashMap<>();

    /**
     * A file only the primary opened for writing: its absolute path and open flags.
     */
    private record OpenedFile(String path, int flags)
    {
    }
    private final InternalReceive ownReceive = new InternalReceive();
    private final ChildEnds ends;
    private final TimerCalls timerCalls;
    private final TimerSignalInfo signalInfo = new TimerSignalInfo();
    /** Kernel partitions: the address a bind, or the value a setsockopt, was given, read before the answer. */
    private byte[] recipeArgument;
    /** Where the last SOCKET record holds the connection's TCP state (kernel partitions), or -1. */
    private int acceptedState = -1;

    /**
     * @param watch says when the primary is gone while its log has nothing more.
     * @param sockets the primary's sockets as handed over, and each connection's position in the log.
     * @param corruptInputAt fault injection: flip one byte of the N-th input record applied (0: never).
     * @param processes the application's processes, to read their own copy of a file the primary's sent.
     * @param ends the application's held ends (END_HELD), let run where the log says.
     * @param timers the application's timers that signal, kept in step with the primary's from the calls replayed.
     */
    public BackupReplay(
        final InterceptedCall call, final ChannelReader reader, final PrimaryWatch watch, final ReplicaSlot ownSlot,
        final BackupSockets sockets, final long corruptInputAt, final ApplicationProcesses processes,
        final ChildEnds ends, final Timers timers)
    {
        this.call = call;
        this.ends = ends;
        this.timerCalls = new TimerCalls(call, timers);
        this.processes = processes;
        this.sockets = sockets;
        this.listener = call.listener;
        this.reader = reader;
        this.watch = watch;
        this.ownSlot = ownSlot;
        this.record = call.recordBuffer;
        this.corruptInputAt = corruptInputAt;
    }

    /**
     * Go on from a new primary's log. Its first record may repeat the last one applied here (see PrimaryLog).
     */
    public void follow(final ChannelReader reader, final PrimaryWatch watch)
    {
        this.reader = reader;
        this.watch = watch;
        this.lostReason = null;
    }

    /**
     * @return the position in the log of the last record taken: the replica has replayed to here.
     */
    public long lastSequence()
    {
        return pending ? recordSequence - 1 : recordSequence;
    }

    /**
     * The last record taken is still in the record buffer until the next call is handled: a new primary repeats
     * it to the backups ({@link #lastRecordType()}, {@link #lastRecordLength()}).
     */
    public int lastRecordType()
    {
        return recordType;
    }

    public int lastRecordLength()
    {
        return recordLength;
    }

    public DirectBuffer lastRecord()
    {
        return record;
    }

    /**
     * @return the descriptors installed as placeholders for files only the primary opened (the application may
     * have closed some since).
     */
    public BitSet placeholders()
    {
        return placeholders;
    }

    /**
     * Kernel partitions: open here, in this replica's own kernel, the file placeholder {@code fd} stands in for,
     * as the application opened it but neither truncating nor requiring it to be new (the old primary's kernel
     * did that to its own copy), positioned at its end.
     *
     * @return the descriptor, the caller's to close, or -errno; -ENOENT if the path is not known.
     */
    public int reopenPlaceholder(final int fd)
    {
        final OpenedFile file = placeholderFiles.get(fd);
        if (file == null)
        {
            return -2;
        }
        final int opened = HOST.openat(AT_FDCWD, file.path(), (file.flags() & ~(O_TRUNC | O_EXCL)) | O_CREAT |
            O_CLOEXEC, 0644);
        if (opened < 0)
        {
            return -Native.lastErrno();
        }
        HOST.lseek(opened, 0, SEEK_END);
        return opened;
    }

    /**
     * @return why the primary was found gone, after {@link #handle} or {@link #finish} returned false.
     */
    public String lostReason()
    {
        return lostReason;
    }

    /**
     * Read the next record if none is waiting, and say which thread's call it is for: calls are answered in log
     * order, so a call of another thread waits until the records before it have been applied.
     *
     * @return the thread's id inside the replica; {@link #NO_THREAD} for the application's end; {@link #LOST} if the
     * primary is gone and every record it logged has been applied.
     * @throws ReplicaStop if the primary stopped on a call it could not replicate.
     */
    public int nextThread() throws ReplicaStop
    {
        if (!pending)
        {
            if (!next())
            {
                return LOST;
            }
            pending = true;
            pendingSinceNs = System.nanoTime();
        }
        if (recordType == TYPE_STOP)
        {
            pending = false;
            throw stopRecord();
        }
        return recordType == TYPE_CALL ? record.getInt(THREAD_INDEX_OFFSET) : NO_THREAD;
    }

    /**
     * A record that has waited {@code waitNs} for its thread while other threads' calls are held back is looked at:
     * a thread that sleeps on a lock has taken the lock in another order than the primary's thread (in parallel mode
     * locks are not ordered, and the calls held back in log order may be what it waits for); a thread that has ended
     * ran past where the primary's made the call (parallel mode lets a thread's exit run unlogged: a race decided
     * its end). Either is reported as a divergence rather than waited on forever.
     */
    public void checkWaitingRecord(final long waitNs) throws ReplicaStop
    {
        if (!pending || recordType != TYPE_CALL || System.nanoTime() - pendingSinceNs < waitNs)
        {
            return;
        }
        final int thread = record.getInt(THREAD_INDEX_OFFSET);
        final int hostTid = processes.threads().hostTidOf(thread);
        final String name = SyscallNames.nameOf(record.getInt(CALL_NUMBER_OFFSET));
        if (hostTid > 0 && ChildWatch.sleepsIn(hostTid, FUTEX))
        {
            throw new ReplicaStop(record.getInt(CALL_NUMBER_OFFSET), "at log record " + recordSequence + ", thread " +
                thread + " waits on a lock (futex) where the primary's made " + name + ": this replica's threads " +
                "took a lock in another order than the primary's (parallel mode does not order locks)",
                recordSequence, true);
        }
        if (hostTid > 0 && !Files.exists(Path.of("/proc", Integer.toString(hostTid))))
        {
            throw new ReplicaStop(record.getInt(CALL_NUMBER_OFFSET), "at log record " + recordSequence + ", thread " +
                thread + " has ended where the primary's made " + name, recordSequence, true);
        }
    }

    /**
     * Answer the loaded notification from the next record.
     *
     * @return false, leaving the notification unanswered, if it is still to be answered: a signal was sent to its
     * thread that leaves the call going (its own record comes later), or the primary is gone and its log ends
     * before this call.
     */
    public boolean handle() throws ReplicaStop
    {
        if (nextThread() == LOST)
        {
            return false;
        }
        pending = false;
        if (recordType == TYPE_EXIT)
        {
            throw diverged("the application made " + call.name() + " after the primary's had exited");
        }
        if (record.getInt(THREAD_INDEX_OFFSET) != call.logicalTid)
        {
            throw diverged("thread " + call.logicalTid + " made " + call.name() + " where the primary's thread " +
                record.getInt(THREAD_INDEX_OFFSET) + " made " + SyscallNames.nameOf(record.getInt(CALL_NUMBER_OFFSET)));
        }
        final int nr = record.getInt(CALL_NUMBER_OFFSET);
        if (nr != call.nr)
        {
            throw diverged("the application made " + call.name() + " where the primary's made " +
                SyscallNames.nameOf(nr));
        }
        final long expected = record.getLong(SIGNATURE_OFFSET);
        final long actual = nr == EXECVE ? execSignature() : call.signatureOfArguments();
        if (expected != actual)
        {
            throw diverged("the arguments of " + call.name() + " differ from the primary's (here: " +
                call.describeArguments() + ")");
        }
        final long result = record.getLong(RESULT_OFFSET);
        final int action = record.getInt(ACTION_OFFSET);
        if (action == ACTION_SIGNAL || action == ACTION_SIGNAL_PENDING)
        {
            return !signal((int)result, action == ACTION_SIGNAL);
        }
        if (action == ACTION_CHILD_END || action == ACTION_CHILD_END_PENDING)
        {
            return !childEnd((int)result, action == ACTION_CHILD_END);
        }
        if (action == ACTION_END_HELD)
        {
            holdEnd((int)result);
            return true;
        }
        if (sockets.isLogical() && (nr == BIND || nr == SETSOCKOPT))
        {
            recipeArgument = readRecipeArgument(nr); // before the answer: the application may reuse the memory
        }
        if (action == ACTION_RESULT && TimerCalls.isTimerCall(nr))
        {
            // The primary's timers are this replica's too, should it take over.
            timerCalls.replayed(result, nr == TIMER_CREATE && recordLength > CALL_HEADER_LENGTH ?
                record.getInt(LogRecord.segmentData(0, CALL_HEADER_LENGTH)) : -1);
        }
        switch (action)
        {
            case ACTION_CONTINUE -> respond(nr == CLONE || nr == CLONE3 || nr == FORK || nr == VFORK ?
                processes.createChild(call, listener::continueCall) : nr == EXIT ?
                processes.exitThread(call, listener::continueCall) : listener.continueCall());
            case ACTION_RESULT -> applyResult(result, CALL_HEADER_LENGTH);
            case ACTION_RECEIVE -> receiveOwn(result);
            case ACTION_OUTPUT -> compareOutput(result);
            case ACTION_DESCRIPTOR -> installPlaceholder((int)result);
            case ACTION_SOCKET -> installSocketPlaceholder((int)result);
            default -> throw new ReplicaStop(nr, "record " + recordSequence + " has unknown action " +
                record.getInt(ACTION_OFFSET));
        }
        followSockets(nr, result);
        ownSlot.logSequence(recordSequence);
        processes.answered(call, gone);
        gone = false;
        return true;
    }

    /**
     * Keep the hold on the primary's sockets and each connection's logical position in step with the log.
     */
    private void followSockets(final int nr, final long result) throws ReplicaStop
    {
        final int owner = call.logicalPid;
        if (nr == EXIT_GROUP)
        {
            sockets.ended(owner);
            return;
        }
        final int fd = (int)call.args[0];
        if (fd < 0)
        {
            return; // a call on no descriptor (close(-1)) failed at the primary and changed nothing
        }
        switch (nr)
        {
            case CLOSE ->
            {
                // What was handed over before this close is the descriptor being closed; a socket that reuses
                // the number comes with a later record.
                sockets.takeHandedOver(recordSequence);
                sockets.closed(owner, fd);
                placeholders.clear(fd);
                placeholderFiles.remove(fd);
            }
            case OPEN, OPENAT, GETSOCKOPT, GETSOCKNAME, GETPEERNAME -> sockets.takeHandedOver(recordSequence);
            case SHUTDOWN ->
            {
                sockets.takeHandedOver(recordSequence);
                if (result == 0 && call.args[1] != SHUT_RD)
                {
                    sockets.outputShut(owner, fd);
                }
            }
            case ACCEPT, ACCEPT4 ->
            {
                if (result >= 0)
                {
                    accepted(owner, (int)result);
                }
            }
            case BIND, LISTEN, SETSOCKOPT ->
            {
                sockets.takeHandedOver(recordSequence);
                if (result == 0 && sockets.isLogical() && (nr == LISTEN || recipeArgument != null))
                {
                    keepRecipe(nr, owner, fd);
                }
            }
            // a socket may also be first acted on by waiting for it (poll, select)
            case CONNECT, POLL, PPOLL, SELECT, PSELECT6 -> sockets.takeHandedOver(recordSequence);
            case READ, READV, RECVFROM, RECVMSG ->
            {
                if (result > 0)
                {
                    sockets.delivered(owner, fd, result);
                }
                else if (result == 0 && (nr == READV || nr == RECVMSG || call.args[2] > 0))
                {
                    sockets.inputEnded(owner, fd);
                }
            }
            case WRITE, WRITEV, SENDTO, SENDMSG, SENDFILE ->
            {
                if (result > 0)
                {
                    sockets.written(owner, fd, result);
                }
            }
            default ->
            {
            }
        }
    }

    /**
     * A connection was accepted at {@code fd}: held as handed over, or (kernel partitions) kept as the TCP state the
     * record carries.
     */
    private void accepted(final int owner, final int fd) throws ReplicaStop
    {
        if (!sockets.isLogical())
        {
            sockets.takeHandedOver(recordSequence);
            sockets.connectionAccepted(owner, fd);
            return;
        }
        if (acceptedState < 0)
        {
            throw new ReplicaStop(call.nr, "at log record " + recordSequence + " the primary's accept carries no TCP " +
                "state, which a kernel partition needs to take the connection over: run every replica with the " +
                "same --partition");
        }
        sockets.connectionAccepted(owner, fd, record, acceptedState);
        acceptedState = -1;
    }

    /**
     * Kernel partitions: how the application makes a socket (its options, its address, its backlog) is kept, so
     * that a new primary can make it again in its own kernel.
     */
    private void keepRecipe(final int nr, final int owner, final int fd)
    {
        if (nr == LISTEN)
        {
            sockets.listening(owner, fd, (int)call.args[1]);
        }
        else if (nr == BIND)
        {
            sockets.bound(owner, fd, recipeArgument);
        }
        else
        {
            sockets.optionSet(owner, fd, (int)call.args[1], (int)call.args[2], recipeArgument);
        }
    }

    /**
     * @return the address of a bind or the value of a setsockopt, as the application passed it; null if it cannot
     * be read.
     */
    private byte[] readRecipeArgument(final int nr)
    {
        final long address = nr == BIND ? call.args[1] : call.args[3];
        final int length = (int)(nr == BIND ? call.args[2] : call.args[4]);
        if (length < 0 || length > call.work.capacity() ||
            call.memory.read(call.tid, address, call.work.address(), length) != length)
        {
            return null; // the primary's call failed on the same bad memory (EFAULT): nothing to keep
        }
        final byte[] bytes = new byte[length];
        call.work.buffer().getBytes(0, bytes);
        return bytes;
    }

    /**
     * SIGNAL, SIGNAL_PENDING: send the primary's signal to this thread, stopped in the same call; if it interrupted
     * the primary's, wait until it has withdrawn this one too.
     *
     * @return true if the call goes on (SIGNAL_PENDING): it is still to be answered from a later record.
     */
    private boolean signal(final int signo, final boolean interrupts) throws ReplicaStop
    {
        copySegments(CALL_HEADER_LENGTH); // what the interrupted call leaves behind: a sleep's time left
        SignalDelivery.send(call.process, call.tid, signo, signalInfo, record, CALL_HEADER_LENGTH, recordLength);
        if (interrupts && !SignalDelivery.awaitWithdrawn(listener::isCurrent))
        {
            throw diverged("signal " + signo + " interrupted the primary's " + call.name() + " but not this one " +
                "(the thread blocks or ignores it here)");
        }
        return callGoesOn(interrupts);
    }

    /**
     * A signal or a child's end has been taken in the call in hand.
     *
     * @return true if the call goes on: it is still to be answered from a later record.
     */
    private boolean callGoesOn(final boolean interrupts)
    {
        ownSlot.logSequence(recordSequence);
        if (interrupts)
        {
            processes.answered(call, false);
        }
        return !interrupts;
    }

    /**
     * END_HELD: this process's exit_group, or the call where signal {@code signo} is to end it, waits, unanswered,
     * for the record that releases it ({@link ChildEnds}).
     */
    private void holdEnd(final int signo) throws ReplicaStop
    {
        final int parent = ends.parentOf(call.process);
        if (parent < 0)
        {
            throw diverged("the primary held the end of a process whose parent is outside the replica");
        }
        if (signo != 0 && SignalDelivery.effectOf(call.process, call.tid, signo) != SignalDelivery.ENDS)
        {
            throw diverged("signal " + signo + " was to end the primary's process in " + call.name() + ", but this " +
                "one's catches, blocks or ignores it");
        }
        ends.hold(call, parent, signo);
        followSockets(EXIT_GROUP, 0);
        ownSlot.logSequence(recordSequence);
        processes.answered(call, gone || signo != 0); // a call held for a signal does not run on
        gone = false;
    }

    /**
     * CHILD_END, CHILD_END_PENDING: let the held end of thread {@code thread} run while this thread, its parent, is
     * stopped in the same call as the primary's; if the exit signal withdrew the primary's call, wait until it has
     * withdrawn this one too.
     *
     * @return true if the call goes on (CHILD_END_PENDING): it is still to be answered from a later record.
     */
    private boolean childEnd(final int thread, final boolean interrupts) throws ReplicaStop
    {
        copySegments(CALL_HEADER_LENGTH); // what the interrupted call leaves behind: a sleep's time left
        release(thread);
        if (interrupts && !SignalDelivery.awaitWithdrawn(listener::isCurrent))
        {
            throw diverged("the end of thread " + thread + "'s process interrupted the primary's " + call.name() +
                " but not this one (the thread blocks or ignores its exit signal here)");
        }
        return callGoesOn(interrupts);
    }

    /**
     * Let the held end of {@code thread} run and wait until its process has ended.
     */
    private void release(final int thread) throws ReplicaStop
    {
        final ChildEnds.HeldEnd end = ends.take(thread);
        if (end == null)
        {
            throw diverged("the primary let the held end of thread " + thread + " run, which this replica does not " +
                "hold");
        }
        if (!ends.release(end))
        {
            throw diverged("thread " + thread + "'s process did not end within " + ChildEnds.END_LIMIT_MS +
                " ms of its exit_group being let run");
        }
    }

    /**
     * If the next record is for a thread asleep in a call (SIGNAL_ASLEEP, CHILD_END_ASLEEP), deliver it once the
     * thread sleeps there, as the primary's did; if it lets a held end run at no point (END_RELEASED), do so now.
     * Looks at the log once, without waiting for a record.
     *
     * @return true if one was delivered.
     */
    public boolean deliverToSleeper() throws ReplicaStop
    {
        if (!pending)
        {
            if (!pollOnce())
            {
                return false;
            }
            pending = true;
            pendingSinceNs = System.nanoTime();
        }
        final int action = recordType == TYPE_CALL ? record.getInt(ACTION_OFFSET) : 0;
        if (action == ACTION_END_RELEASED)
        {
            release((int)record.getLong(RESULT_OFFSET));
            pending = false;
            ownSlot.logSequence(recordSequence);
            return true;
        }
        if (action != ACTION_SIGNAL_ASLEEP && action != ACTION_CHILD_END_ASLEEP)
        {
            return false;
        }
        final int thread = record.getInt(THREAD_INDEX_OFFSET);
        final int nr = record.getInt(CALL_NUMBER_OFFSET);
        final int hostTid = processes.threads().hostTidOf(thread);
        final long deadline = System.nanoTime() + SignalDelivery.WITHDRAW_LIMIT_NS;
        while (hostTid < 0 || !ChildWatch.sleepsIn(hostTid, nr))
        {
            if (System.nanoTime() - deadline > 0)
            {
                throw new ReplicaStop(nr, "at log record " + recordSequence + ", thread " + thread + " does not " +
                    "sleep in " + SyscallNames.nameOf(nr) + " where the primary's took a signal", recordSequence, true);
            }
            idle.idle();
        }
        if (action == ACTION_CHILD_END_ASLEEP)
        {
            release((int)record.getLong(RESULT_OFFSET));
        }
        else
        {
            SignalDelivery.send(processes.threads().of(hostTid).process(), hostTid,
                (int)record.getLong(RESULT_OFFSET), signalInfo, record, CALL_HEADER_LENGTH, recordLength);
        }
        pending = false;
        ownSlot.logSequence(recordSequence);
        return true;
    }

    /**
     * The application ended with {@code exitStatus}: the primary's must have ended the same way, at the same point.
     *
     * @return false if the primary is gone and its log ends before the end.
     */
    public boolean finish(final int exitStatus) throws ReplicaStop
    {
        if (nextThread() == LOST)
        {
            return false;
        }
        pending = false;
        if (recordType != TYPE_EXIT)
        {
            throw diverged("the application exited (status " + exitStatus + ") where the primary's made " +
                SyscallNames.nameOf(record.getInt(CALL_NUMBER_OFFSET)));
        }
        final int primaryStatus = record.getInt(EXIT_STATUS_OFFSET);
        if (primaryStatus != exitStatus)
        {
            throw diverged("the application exited with status " + exitStatus + ", the primary's with " +
                primaryStatus);
        }
        ownSlot.logSequence(recordSequence);
        return true;
    }

    /**
     * Copy each segment from the one at {@code firstSegment} into the application, then complete with
     * {@code result}.
     */
    private void applyResult(final long result, final int firstSegment) throws ReplicaStop
    {
        copySegments(firstSegment);
        respond(listener.answer(result));
    }

    /**
     * Copy each segment from the one at {@code firstSegment} into the application.
     */
    private void copySegments(final int firstSegment) throws ReplicaStop
    {
        int offset = firstSegment;
        while (offset < recordLength)
        {
            final long address = record.getLong(offset + SEGMENT_ADDRESS_OFFSET);
            final int length = record.getInt(offset + SEGMENT_LENGTH_OFFSET);
            final int data = offset + SEGMENT_HEADER_LENGTH;
            if (address == 0)
            {
                offset += LogRecord.segmentLength(length); // for the coordinator (a connection's TCP state)
                continue;
            }
            if (isInput() && ++inputRecords == corruptInputAt && length > 0)
            {
                record.putByte(data, (byte)(record.getByte(data) ^ 0x20));
            }
            if (call.memory.write(call.tid, address, call.record.address() + data, length) != length)
            {
                throw diverged("cannot write the primary's result of " + call.name() + " at 0x" +
                    Long.toHexString(address) + " in the application");
            }
            offset += LogRecord.segmentLength(length);
        }
    }

    /**
     * RECEIVE: take the same bytes, and the descriptors that came with them, from this replica's own end of the
     * internal socket; compare; install the descriptors at the primary's numbers; then apply as a RESULT.
     */
    private void receiveOwn(final long result) throws ReplicaStop
    {
        final int meta = LogRecord.segmentData(0, CALL_HEADER_LENGTH);
        final long length = record.getLong(meta + RECEIVED_LENGTH_OFFSET);
        final int passed = record.getInt(meta + RECEIVED_COUNT_OFFSET);
        final int flags = record.getInt(meta + RECEIVED_FLAGS_OFFSET);
        if (length > 0)
        {
            final int pidfd = processes.pidfdOf(call.process);
            final int socket = pidfd < 0 ? -1 : PROCESS.pidfd_getfd(pidfd, (int)call.args[0], 0);
            if (socket < 0)
            {
                throw diverged("the internal socket " + call.args[0] + " the primary's " + call.name() +
                    " received from is not open here: errno " + Native.lastErrno());
            }
            try
            {
                final String failure = ownReceive.receive(socket, length, flags, call.work);
                call.signature.reset();
                call.signature.update(0, (int)length);
                if (failure != null || call.signature.value() != record.getLong(meta + RECEIVED_SIGNATURE_OFFSET) ||
                    ownReceive.descriptorCount() != passed)
                {
                    throw diverged(call.name() + " on internal socket " + call.args[0] + " did not receive here " +
                        "what the primary's received (" + length + " bytes, " + passed + " descriptors): " +
                        (failure != null ? failure : "other bytes or " + ownReceive.descriptorCount() +
                        " descriptors"));
                }
                installReceived(meta, (flags & MSG_CMSG_CLOEXEC) != 0);
            }
            finally
            {
                PROCESS.close(socket);
                for (int i = 0; i < ownReceive.descriptorCount(); i++)
                {
                    PROCESS.close(ownReceive.descriptor(i));
                }
            }
        }
        applyResult(result, CALL_HEADER_LENGTH + LogRecord.segmentLength(record.getInt(CALL_HEADER_LENGTH +
            SEGMENT_LENGTH_OFFSET)));
    }

    private void installReceived(final int meta, final boolean closeOnExec) throws ReplicaStop
    {
        for (int i = 0; i < ownReceive.descriptorCount(); i++)
        {
            final int number = record.getInt(meta + RECEIVED_DESCRIPTORS_OFFSET + 4 * i);
            final int installed = listener.installDescriptor(ownReceive.descriptor(i), number, closeOnExec, false);
            if (installed != number && installed != SeccompListener.GONE)
            {
                throw diverged("descriptor " + number + " that the primary's " + call.name() + " received cannot be " +
                    "installed here (" + installed + ")");
            }
        }
    }

    private boolean isInput()
    {
        return call.nr == READ || call.nr == PREAD64 || call.nr == READV || call.nr == RECVFROM || call.nr == RECVMSG;
    }

    private void compareOutput(final long result) throws ReplicaStop
    {
        final long expected = record.getLong(LogRecord.segmentData(0, CALL_HEADER_LENGTH));
        final long length = Math.max(result, 0);
        // Kernel partitions: a connection's output is kept as it is signed, for a new primary to send again.
        call.signature.tap(sockets.outputOf(call.logicalPid, (int)call.args[0]));
        final long actual;
        try
        {
            actual = switch (call.nr)
            {
                case WRITEV -> call.signatureOfApplicationIovecs(call.args[1], (int)call.args[2], length);
                case SENDMSG -> call.signatureOfApplicationMessage(call.args[1], length);
                case SENDFILE -> signatureOfFileSent(length);
                default -> call.signatureOfApplicationBytes(call.args[1], length);
            };
        }
        finally
        {
            call.signature.tap(null);
        }
        if (actual != expected)
        {
            throw diverged("the " + length + " bytes of " + call.name() + " to descriptor " + call.args[0] +
                " differ from the primary's output (signature " + Long.toHexString(actual) + ", primary's " +
                Long.toHexString(expected) + ")");
        }
        respond(listener.answer(result));
    }

    /**
     * sendfile: the signature of the bytes of this replica's own copy of the input file that the primary's sent,
     * leaving the input position (or the application's offset, from the record) where the primary's sendfile left
     * it.
     */
    private long signatureOfFileSent(final long length) throws ReplicaStop
    {
        final int pidfd = processes.pidfdOf(call.process);
        final int input = pidfd < 0 ? -1 : PROCESS.pidfd_getfd(pidfd, (int)call.args[1], 0);
        if (input < 0)
        {
            throw diverged("the input file " + call.args[1] + " of sendfile is not open here: errno " +
                Native.lastErrno());
        }
        try
        {
            final long offsetAddress = call.args[2];
            final long start;
            if (offsetAddress != 0)
            {
                final int offsetSegment = CALL_HEADER_LENGTH + LogRecord.segmentLength(8);
                final long end = record.getLong(offsetSegment + SEGMENT_HEADER_LENGTH);
                start = end - length;
                if (call.memory.write(call.tid, offsetAddress, call.record.address() + offsetSegment +
                    SEGMENT_HEADER_LENGTH, 8) != 8)
                {
                    throw diverged("cannot write the offset sendfile left in the application");
                }
            }
            else
            {
                start = HOST.lseek(input, 0, SEEK_CUR);
                HOST.lseek(input, start + length, SEEK_SET);
            }
            return call.signatureOfFile(input, start, length);
        }
        finally
        {
            PROCESS.close(input);
        }
    }

    /**
     * The primary opened a file outside the state for writing; this replica must not touch it, but its descriptor
     * table must match: /dev/null stands in at the same number (its outputs are never performed here).
     */
    private void installPlaceholder(final int fd) throws ReplicaStop
    {
        final int placeholder = HOST.openat(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC, 0);
        if (placeholder < 0)
        {
            throw new ReplicaStop(call.nr, "cannot open /dev/null: errno " + Native.lastErrno());
        }
        try
        {
            final int flags = (int)(call.nr == OPENAT ? call.args[2] : call.args[1]);
            // Kernel partitions: the path, read before the answer lets the application reuse its memory.
            final String path = !sockets.isLogical() ? null : call.nr == OPENAT ?
                call.resolvePath((int)call.args[0], call.args[1]) : call.resolvePath(AT_FDCWD, call.args[0]);
            final int installed = listener.installDescriptor(placeholder, fd, (flags & O_CLOEXEC) != 0, true);
            if (installed != fd && installed != SeccompListener.GONE)
            {
                throw diverged("descriptor " + fd + " that the primary's open returned cannot be used here (" +
                    installed + ")");
            }
            placeholders.set(fd);
            if (path != null)
            {
                placeholderFiles.put(fd, new OpenedFile(path, flags));
            }
        }
        finally
        {
            PROCESS.close(placeholder);
        }
    }

    /**
     * An accepted connection: an unconnected socket stands in for it at the primary's number, with the flags the
     * application asked for, and the peer's address is copied as the primary got it.
     */
    private void installSocketPlaceholder(final int fd) throws ReplicaStop
    {
        final int flags = call.nr == ACCEPT4 ? (int)call.args[3] : 0;
        final int placeholder = HOST.socket(AF_INET, SOCK_STREAM | (flags & SOCK_NONBLOCK) | SOCK_CLOEXEC, 0);
        if (placeholder < 0)
        {
            throw new ReplicaStop(call.nr, "cannot make a stand-in socket: errno " + Native.lastErrno());
        }
        try
        {
            final int installed = listener.installDescriptor(placeholder, fd, (flags & SOCK_CLOEXEC) != 0, false);
            if (installed != fd && installed != SeccompListener.GONE)
            {
                throw diverged("descriptor " + fd + " of the primary's accepted connection cannot be used here (" +
                    installed + ")");
            }
        }
        finally
        {
            PROCESS.close(placeholder);
        }
        acceptedState = connectionStateAt();
        applyResult(fd, CALL_HEADER_LENGTH);
    }

    /**
     * @return where the SOCKET record in hand holds its connection's TCP state (its segment at address 0), or -1.
     */
    private int connectionStateAt()
    {
        int offset = CALL_HEADER_LENGTH;
        while (offset < recordLength)
        {
            final int length = record.getInt(offset + SEGMENT_LENGTH_OFFSET);
            if (record.getLong(offset + SEGMENT_ADDRESS_OFFSET) == 0 && length == TcpConnectionState.LENGTH)
            {
                return offset + SEGMENT_HEADER_LENGTH;
            }
            offset += LogRecord.segmentLength(length);
        }
        return -1;
    }

    private long execSignature()
    {
        final String path = call.memory.readString(call.tid, call.args[0], call.work, 4096);
        return path == null ? call.signatureOfArguments() : Signature.ofString(EXECVE, path);
    }

    /**
     * Also asked between calls, so that a backup whose application is waiting in the kernel (asleep, say) takes
     * over too. Looks at the primary at most every {@link #WATCH_INTERVAL_NS}.
     *
     * @return true if the primary is gone and every record it logged has been taken.
     */
    public boolean primaryGoneAndLogReplayed()
    {
        if (pending || recordsLeft())
        {
            return false;
        }
        final long nowNs = System.nanoTime();
        if (nowNs - nextWatchNs < 0)
        {
            return false;
        }
        nextWatchNs = nowNs + WATCH_INTERVAL_NS;
        final String reason = watch.lostReason(nowNs);
        // The log looked at again after the primary: it appends its last record (the exit) before it says it
        // ended, so a record that came between the first look and the watch's is taken, not skipped.
        if (reason == null || recordsLeft())
        {
            return false;
        }
        lostReason = reason;
        return true;
    }

    private boolean recordsLeft()
    {
        return reader.backlogBytes() != 0 && !reader.blockedByUnfinishedRecord();
    }

    /**
     * Wait for the next record and copy it into the record buffer.
     *
     * @return false if there is none and the primary is gone.
     */
    private boolean next() throws ReplicaStop
    {
        idle.reset();
        while (true)
        {
            if (pollOnce())
            {
                return true;
            }
            if (primaryGoneAndLogReplayed())
            {
                return false;
            }
            idle.idle();
        }
    }

    /**
     * Take the next record into the record buffer if one is there.
     *
     * @return true if a new record was taken.
     */
    private boolean pollOnce() throws ReplicaStop
    {
        while (true)
        {
            final long previous = recordSequence;
            final int previousChecksum = recordChecksum;
            final int read = reader.poll(this::take, 1);
            if (read == 1)
            {
                if (recordSequence == previous + 1 && (recordType == TYPE_CONNECTION || recordType == TYPE_INPUT))
                {
                    // belongs to no thread: kept at once, in log order
                    if (recordType == TYPE_CONNECTION)
                    {
                        sockets.connectionOpened(record, 0);
                    }
                    else
                    {
                        sockets.inputAnnounced(record, 0);
                    }
                    ownSlot.logSequence(recordSequence);
                    continue;
                }
                if (recordSequence == previous + 1)
                {
                    return true;
                }
                if (recordSequence == previous && recordChecksum == previousChecksum)
                {
                    continue; // a new primary repeating the record applied last
                }
                throw new ReplicaStop(call.nr, "the new primary's log goes on with record " + recordSequence +
                    " where this replica has applied " + previous + (recordSequence == previous ?
                    ", a different one: it came from the old primary after it was replaced" : ""),
                    previous, true);
            }
            if (read == ChannelReader.CORRUPT)
            {
                throw new ReplicaStop(call.nr, "the replication log is damaged: " + reader.corruption());
            }
            return false;
        }
    }

    private ControlledMessageHandler.Action take(
        final int type, final long sequence, final DirectBuffer buffer, final int offset, final int length)
    {
        recordType = type;
        recordSequence = sequence;
        recordLength = length;
        recordChecksum = reader.lastChecksum();
        record.putBytes(0, buffer, offset, length);
        return ControlledMessageHandler.Action.CONTINUE;
    }

    private ReplicaStop stopRecord()
    {
        final int length = record.getInt(STOP_MESSAGE_LENGTH_OFFSET);
        return new ReplicaStop(record.getInt(STOP_CALL_NUMBER_OFFSET),
            "the primary stopped: " + record.getStringWithoutLengthUtf8(STOP_MESSAGE_OFFSET, length), recordSequence,
            false);
    }

    private ReplicaStop diverged(final String what)
    {
        return new ReplicaStop(call.nr, "at log record " + recordSequence + ", " + what, recordSequence,
            true);
    }

    private void respond(final int rc) throws ReplicaStop
    {
        gone |= rc == SeccompListener.GONE;
        if (rc < 0 && rc != SeccompListener.GONE)
        {
            throw new ReplicaStop(call.nr, "cannot answer " + call.name() + ": errno " + -rc);
        }
    }
}
