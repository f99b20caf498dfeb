package io.replicore.coordinator.replay;

import io.replicore.coordinator.intercept.DescriptorClassifier;
import io.replicore.coordinator.intercept.DescriptorKind;
import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.coordinator.natives.SocketCalls;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.replicore.coordinator.intercept.Syscalls.*;
import static io.replicore.coordinator.replay.LogRecord.*;

/**
 * The primary's side of every notified call: perform it for real where its outcome depends on the world, log the
 * outcome for the backups, and only then answer the application.
 */
public final class PrimaryCalls
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final int ENOSYS = 38;
    private static final int EFAULT = 14;
    private static final int EINVAL = 22;
    private static final int SOCK_NONBLOCK = 0x800;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int SOCK_CLOEXEC = 0x80000;
    /** sizeof(struct sockaddr_storage). */
    private static final int SOCKADDR_MAX = 128;
    /** Socket options are small structures; a larger one is refused as a fault. */
    private static final int OPTION_MAX = 256;
    /** sizeof(struct epoll_event) on x86_64: packed u32 events and u64 data. */
    private static final int EPOLL_EVENT_LENGTH = 12;
    private static final int EPOLL_SLICE_MS = 20;
    /** Instead of a descriptor: the call has been answered already. */
    private static final int ANSWERED = -1;
    private static final int AT_FDCWD = -100;
    private static final int AT_EMPTY_PATH = 0x1000;
    private static final int O_CLOEXEC = 0x80000;
    private static final int STAT_LENGTH = 144;
    private static final int STATX_LENGTH = 256;
    private static final int UTSNAME_LENGTH = 390;
    private static final int SYSINFO_LENGTH = 112;
    private static final int CPU_SET_MAX = 1024;
    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    private static final int CLOCK_THREAD_CPUTIME_ID = 3;
    private static final int PATH_MAX = 4096;
    private static final int SEEK_SET = 0;
    private static final int SEEK_CUR = 1;
    /** Ancillary data a recvmsg may ask for; any that arrives stops the replica. */
    private static final int CONTROL_MAX = 256;
    /** The segments a recvmsg adds beyond its data: name length, name, control length, flags. */
    private static final int MESSAGE_SEGMENTS_LENGTH = 4 * (SEGMENT_HEADER_LENGTH + 8) + SOCKADDR_MAX;
    // The primary's own struct msghdr for recvmsg, and what it points to.
    private static final int OWN_MSGHDR_OFFSET = 0;
    private static final int OWN_IOVEC_OFFSET = InterceptedCall.MSGHDR_LENGTH;
    private static final int OWN_NAME_OFFSET = OWN_IOVEC_OFFSET + InterceptedCall.IOVEC_LENGTH;
    private static final int OWN_CONTROL_OFFSET = OWN_NAME_OFFSET + SOCKADDR_MAX;
    private static final int OWN_MESSAGE_LENGTH = OWN_CONTROL_OFFSET + CONTROL_MAX;

    private final InterceptedCall call;
    private final SeccompListener listener;
    private final LogSink log;
    private final SocketOwner sockets;
    private final DescriptorClassifier classifier;
    private final int appPid;
    private final int appPidfd;
    private final int visiblePid;
    private final int visibleParentPid;
    private final UnsafeBuffer record;
    /** The descriptor {@link #duplicate} made for the call in hand, or -1, and the application's number for it. */
    private int heldDuplicate = -1;
    private int heldDuplicateOf = -1;
    /** A second one, the file a sendfile reads, or -1. */
    private int heldInput = -1;
    private final Native.Scratch ownMessage = Native.allocate(OWN_MESSAGE_LENGTH);
    /** The value length the application offered to the call in hand (getsockopt, getsockname...). */
    private int valueCapacity;
    /** Why {@link #emit} stopped short: an errno, or 0. */
    private int emitError;

    /**
     * @param appPid the application's real pid here, for /proc and its CPU clocks.
     * @param visiblePid the pid the application is told (the first primary's application's, in every replica).
     * @param visibleParentPid the parent pid it is told.
     */
    public PrimaryCalls(
        final InterceptedCall call, final LogSink log, final SocketOwner sockets,
        final DescriptorClassifier classifier, final int appPid, final int appPidfd, final int visiblePid,
        final int visibleParentPid)
    {
        this.call = call;
        this.listener = call.listener;
        this.log = log;
        this.sockets = sockets;
        this.classifier = classifier;
        this.appPid = appPid;
        this.appPidfd = appPidfd;
        this.visiblePid = visiblePid;
        this.visibleParentPid = visibleParentPid;
        this.record = call.recordBuffer;
    }

    /**
     * Handle the loaded notification.
     *
     * @throws ReplicaStop for a call that cannot be replicated; it has been logged as STOP for the backups.
     */
    public void handle() throws ReplicaStop
    {
        log.checkStillPrimary();
        try
        {
            dispatch(call.args);
        }
        finally
        {
            releaseDuplicate();
        }
    }

    private void dispatch(final long[] a) throws ReplicaStop
    {
        switch (call.nr)
        {
            case EXECVE -> execve();
            case READ -> input((int)a[0], a[1], a[2], -1);
            case PREAD64 -> input((int)a[0], a[1], a[2], a[3]);
            case READV -> inputVector((int)a[0], a[1], (int)a[2]);
            case WRITE -> output((int)a[0], a[1], a[2], -1);
            case PWRITE64 -> output((int)a[0], a[1], a[2], a[3]);
            case WRITEV -> outputVector((int)a[0], a[1], (int)a[2]);
            case OPEN -> openForWriting(AT_FDCWD, a[0], (int)a[1], (int)a[2]);
            case OPENAT -> openForWriting((int)a[0], a[1], (int)a[2], (int)a[3]);
            case FSTAT -> statDescriptor((int)a[0], a[1]);
            case NEWFSTATAT -> statAt((int)a[0], a[1], a[2], (int)a[3]);
            case STATX -> statxAt((int)a[0], a[1], (int)a[2], (int)a[3], a[4]);
            case IOCTL -> ioctl((int)a[0], a[1], a[2]);
            case CONNECT -> connect((int)a[0], a[1], (int)a[2]);
            case GETRANDOM -> getrandom(a[0], a[1], (int)a[2]);
            case UNAME -> fillStruct(a[0], UTSNAME_LENGTH, HOST.uname(call.record.at(dataOffset())));
            case SYSINFO -> fillStruct(a[0], SYSINFO_LENGTH, HOST.sysinfo(call.record.at(dataOffset())));
            case CLOCK_GETTIME -> clockGettime((int)a[0], a[1]);
            case GETTIMEOFDAY -> gettimeofday(a[0], a[1]);
            case TIME -> time(a[0]);
            case GETCPU -> getcpu(a[0], a[1]);
            case SCHED_GETAFFINITY -> schedGetaffinity((int)a[0], a[1], a[2]);
            case GETPID -> value(visiblePid);
            // Single-threaded applications only (clone is refused): the main thread's id is the pid it sees.
            case GETTID, SET_TID_ADDRESS -> value(call.tid == appPid ? visiblePid : call.tid);
            case GETPPID -> value(visibleParentPid);
            case RSEQ -> value(-ENOSYS);
            case UNLINK, RMDIR, MKDIR, CHMOD, CHOWN, TRUNCATE -> changePaths(AT_FDCWD, a[0], AT_FDCWD, 0);
            case RENAME, LINK -> changePaths(AT_FDCWD, a[0], AT_FDCWD, a[1]);
            case SYMLINK -> changePaths(AT_FDCWD, a[1], AT_FDCWD, 0);
            case UNLINKAT, MKDIRAT, FCHMODAT, FCHOWNAT -> changePaths((int)a[0], a[1], AT_FDCWD, 0);
            case RENAMEAT, RENAMEAT2 -> changePaths((int)a[0], a[1], (int)a[2], a[3]);
            case FTRUNCATE, FCHMOD, FCHOWN, FALLOCATE -> changeDescriptor((int)a[0]);
            case CLOSE -> close((int)a[0]);
            case BIND -> socketValue((int)a[0], SocketOp.BIND, a[1], (int)a[2]);
            case LISTEN -> socketValue((int)a[0], SocketOp.LISTEN, 0, (int)a[1]);
            case SHUTDOWN -> socketValue((int)a[0], SocketOp.SHUTDOWN, 0, (int)a[1]);
            case SETSOCKOPT -> setsockopt((int)a[0], (int)a[1], (int)a[2], a[3], (int)a[4]);
            case GETSOCKOPT -> getsockopt((int)a[0], (int)a[1], (int)a[2], a[3], a[4]);
            case GETSOCKNAME, GETPEERNAME -> socketName((int)a[0], a[1], a[2]);
            case ACCEPT -> accept((int)a[0], a[1], a[2], 0);
            case ACCEPT4 -> accept((int)a[0], a[1], a[2], (int)a[3]);
            case SENDTO -> send((int)a[0], a[1], a[2], a[4]);
            case RECVFROM -> recvfrom((int)a[0], a[1], a[2], (int)a[3], a[4], a[5]);
            case SENDMSG -> sendmsg((int)a[0], a[1]);
            case RECVMSG -> recvmsg((int)a[0], a[1], (int)a[2]);
            case SENDFILE -> sendfile((int)a[0], (int)a[1], a[2], a[3]);
            case EPOLL_WAIT, EPOLL_PWAIT -> epollWait((int)a[0], a[1], (int)a[2], (int)a[3]);
            case CLONE, CLONE3, FORK, VFORK -> stop("starting a process or thread (" + call.name() +
                ") needs the deterministic scheduler, which is not in this version");
            default -> stop(call.name() + " (system call " + call.nr + ") cannot be replicated by this version");
        }
    }

    private int dataOffset()
    {
        return CALL_HEADER_LENGTH + SEGMENT_HEADER_LENGTH;
    }

    private void execve() throws ReplicaStop
    {
        final String path = call.memory.readString(call.tid, call.args[0], call.work, PATH_MAX);
        final long signature = path == null ? call.signatureOfArguments() : Signature.ofString(EXECVE, path);
        appendCall(ACTION_CONTINUE, signature, 0, CALL_HEADER_LENGTH);
        respond(listener.continueCall());
    }

    private void proceed() throws ReplicaStop
    {
        appendCall(ACTION_CONTINUE, call.signatureOfArguments(), 0, CALL_HEADER_LENGTH);
        respond(listener.continueCall());
    }

    /**
     * Complete with {@code value} (a result or -errno) and nothing written into the application.
     */
    private void value(final long value) throws ReplicaStop
    {
        appendCall(ACTION_RESULT, call.signatureOfArguments(), value, CALL_HEADER_LENGTH);
        respond(listener.answer(value));
    }

    /**
     * Log a RESULT whose one segment, already in the record's data area, goes to {@code address}; copy it there;
     * answer {@code result}.
     */
    private void resultWithData(final long result, final long address, final int length) throws ReplicaStop
    {
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), result);
        int recordLength = CALL_HEADER_LENGTH;
        if (length > 0)
        {
            recordLength = LogRecord.appendSegment(record, 0, recordLength, address, length);
            if (call.memory.write(call.tid, address, call.record.address() + dataOffset(), length) != length)
            {
                appendCall(ACTION_RESULT, call.signatureOfArguments(), -EFAULT, CALL_HEADER_LENGTH);
                respond(listener.answer(-EFAULT));
                return;
            }
        }
        log.append(TYPE_CALL, record, 0, recordLength);
        respond(listener.answer(result));
    }

    private void input(final int fd, final long buffer, final long count, final long offset) throws ReplicaStop
    {
        final int dup = externalDuplicate(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final long length = Math.min(count, call.maxData());
        if (offset < 0 && sockets.isSocket(fd))
        {
            socketInput(dup, buffer, length, 0);
            return;
        }
        final long n = offset < 0 ? HOST.read(dup, call.record.at(dataOffset()), length) :
            HOST.pread(dup, call.record.at(dataOffset()), length, offset);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        resultWithData(n, buffer, (int)n);
    }

    /**
     * readv from a socket, pipe or terminal: the bytes, read (or peeked, for a socket) into the work buffer, are
     * logged as one segment per iovec they fill.
     */
    private void inputVector(final int fd, final long iov, final int iovCount) throws ReplicaStop
    {
        final int dup = externalDuplicate(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int count = readIovecs(iov, iovCount);
        if (count < 0)
        {
            value(-EFAULT);
            return;
        }
        final boolean socket = sockets.isSocket(fd);
        final long capacity = scatterCapacity(count, 0);
        final long n = socket ? HOST.recvfrom(dup, call.work.pointer(), capacity, MSG_PEEK, null, null) :
            HOST.read(dup, call.work.pointer(), capacity);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), n);
        final int length = scatter(CALL_HEADER_LENGTH, n, count);
        if (length < 0)
        {
            value(-EFAULT);
            return;
        }
        log.append(TYPE_CALL, record, 0, length);
        if (socket)
        {
            consume(dup, n);
        }
        respond(listener.answer(n));
    }

    /**
     * Read the application's iovec array into the call's iovec buffer: its first {@link InterceptedCall#IOV_BATCH}
     * entries, since a read may fill fewer than asked for.
     *
     * @return the number of entries read, or -1 if the array could not be read.
     */
    private int readIovecs(final long iov, final long iovCount)
    {
        final int count = (int)Math.min(Math.max(iovCount, 0), InterceptedCall.IOV_BATCH);
        final long bytes = (long)InterceptedCall.IOVEC_LENGTH * count;
        return call.memory.read(call.tid, iov, call.iovecs.address(), bytes) == bytes ? count : -1;
    }

    /**
     * @return the most bytes to read for the {@code count} iovecs read: what they hold, within what one record
     * carries in that many segments besides {@code otherSegments} bytes of others, and within the work buffer.
     */
    private long scatterCapacity(final int count, final int otherSegments)
    {
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            total += Math.max(0, call.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * i + 8));
        }
        final long room = call.maxData() - otherSegments - (long)count * (SEGMENT_HEADER_LENGTH + 8);
        return Math.max(0, Math.min(total, Math.min(room, call.work.capacity())));
    }

    /**
     * Append segments that spread the first {@code n} bytes of the work buffer over the iovecs read, and copy them
     * into the application.
     *
     * @return the record's length, or -1 if the application's memory could not be written.
     */
    private int scatter(final int recordLength, final long n, final int count)
    {
        int length = recordLength;
        long done = 0;
        for (int i = 0; i < count && done < n && length >= 0; i++)
        {
            final long base = call.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * i);
            final int piece = (int)Math.min(call.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * i + 8), n - done);
            if (piece > 0)
            {
                length = segment(length, base, call.work.buffer(), (int)done, piece);
                done += piece;
            }
        }
        return length;
    }

    /**
     * Append a segment of {@code length} bytes of {@code source} from {@code sourceOffset}, bound for
     * {@code address} in the application, and copy them there.
     *
     * @return the record's length, or -1 if {@code recordLength} was or the memory could not be written.
     */
    private int segment(
        final int recordLength, final long address, final DirectBuffer source, final int sourceOffset, final int length)
    {
        if (recordLength < 0)
        {
            return -1;
        }
        final int data = LogRecord.segmentData(0, recordLength);
        record.putBytes(data, source, sourceOffset, length);
        final int next = LogRecord.appendSegment(record, 0, recordLength, address, length);
        return call.memory.write(call.tid, address, call.record.address() + data, length) == length ? next : -1;
    }

    private void output(final int fd, final long buffer, final long count, final long offset) throws ReplicaStop
    {
        if (kindOf(fd) == DescriptorKind.PRIVATE_FILE)
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        call.signature.reset();
        emitError = 0;
        final long written = emitOnce(fd, dup, buffer, count, offset);
        appendOutput(written > 0 || emitError == 0 ? written : -emitError, call.signature.value());
    }

    private void outputVector(final int fd, final long iov, final int iovCount) throws ReplicaStop
    {
        if (kindOf(fd) == DescriptorKind.PRIVATE_FILE)
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final InterceptedCall c = call;
        c.signature.reset();
        emitError = 0;
        long written = 0;
        final int count = Math.min(iovCount, InterceptedCall.IOV_MAX);
        outer:
        for (int i = 0; i < count; i += InterceptedCall.IOV_BATCH)
        {
            final int batch = Math.min(InterceptedCall.IOV_BATCH, count - i);
            final long bytes = (long)InterceptedCall.IOVEC_LENGTH * batch;
            if (c.memory.read(c.tid, iov + (long)InterceptedCall.IOVEC_LENGTH * i, c.iovecs.address(), bytes) != bytes)
            {
                emitError = EFAULT;
                break;
            }
            for (int j = 0; j < batch; j++)
            {
                final long base = c.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * j);
                final long length = c.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * j + 8);
                final long done = emitOnce(fd, dup, base, length, -1);
                written += done;
                if (done < length)
                {
                    break outer;
                }
            }
        }
        appendOutput(written > 0 || emitError == 0 ? written : -emitError, c.signature.value());
    }

    /**
     * {@link #emit}, less the bytes that an old primary had already sent on this connection before it was lost:
     * those are signed and counted as written, not sent twice.
     */
    private long emitOnce(final int fd, final int dup, final long address, final long length, final long offset)
        throws ReplicaStop
    {
        // Checked again right before the bytes leave: a primary frozen while handling this call and replaced
        // meanwhile must not write them when it is thawed.
        log.checkStillPrimary();
        final long skip = sockets.alreadySent(fd, length);
        if (skip > 0 && call.signApplicationBytes(address, skip) != skip)
        {
            emitError = EFAULT;
            return 0;
        }
        return skip + emit(dup, address + skip, length - skip, offset < 0 ? offset : offset + skip);
    }

    /**
     * Copy {@code length} bytes at {@code address} in the application to {@code dup} (at {@code offset}, or at the
     * descriptor's position if negative), through the work buffer, adding what was written to the signature.
     *
     * @return bytes written; fewer than {@code length} when the descriptor took less or failed ({@link #emitError}).
     */
    private long emit(final int dup, final long address, final long length, final long offset)
    {
        final InterceptedCall c = call;
        long written = 0;
        while (written < length)
        {
            final int chunk = (int)Math.min(c.work.capacity(), length - written);
            final long read = c.memory.read(c.tid, address + written, c.work.address(), chunk);
            if (read <= 0)
            {
                emitError = EFAULT;
                break;
            }
            final long n = offset < 0 ? HOST.write(dup, c.work.pointer(), read) :
                HOST.pwrite(dup, c.work.pointer(), read, offset + written);
            if (n < 0)
            {
                emitError = Native.lastErrno();
                break;
            }
            c.signature.update(0, (int)n);
            written += n;
            if (n < read)
            {
                break;
            }
        }
        return written;
    }

    private void appendOutput(final long result, final long signature) throws ReplicaStop
    {
        LogRecord.putCall(record, 0, call.nr, ACTION_OUTPUT, call.signatureOfArguments(), result);
        final int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, 0, 8);
        record.putLong(LogRecord.segmentData(0, CALL_HEADER_LENGTH), signature);
        log.append(TYPE_CALL, record, 0, length);
        respond(listener.answer(result));
    }

    /**
     * An open that may create, truncate or write a file: in the private state every replica does it itself;
     * elsewhere only the primary opens the file and a backup gets a placeholder at the same number.
     */
    private void openForWriting(final int dirfd, final long pathAddress, final int flags, final int mode)
        throws ReplicaStop
    {
        final String path = resolve(dirfd, pathAddress);
        if (path == null)
        {
            value(-EFAULT);
            return;
        }
        if (classifier.isPrivate(Path.of(path)))
        {
            proceed();
            return;
        }
        final int fd = HOST.openat(AT_FDCWD, path, flags | O_CLOEXEC, mode);
        if (fd < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        try
        {
            // Installed first, logged, and only then does the application's open return.
            final int installed = listener.installDescriptor(fd, -1, (flags & O_CLOEXEC) != 0, false);
            if (installed == SeccompListener.GONE)
            {
                return;
            }
            if (installed < 0)
            {
                throw new ReplicaStop(call.nr, "cannot install a descriptor in the application: errno " + -installed);
            }
            // The backups hold the same open file (and so its offset) from now on, to carry it over a failover.
            sockets.closed(installed);
            sockets.shareAlways(installed, fd);
            appendCall(ACTION_DESCRIPTOR, call.signatureOfArguments(), installed, CALL_HEADER_LENGTH);
            respond(listener.answer(installed));
        }
        finally
        {
            PROCESS.close(fd);
        }
    }

    private void statDescriptor(final int fd, final long statAddress) throws ReplicaStop
    {
        final int dup = externalDuplicate(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.fstat(dup, call.record.at(dataOffset()));
        fillStruct(statAddress, STAT_LENGTH, rc);
    }

    private void statAt(final int dirfd, final long pathAddress, final long statAddress, final int flags)
        throws ReplicaStop
    {
        if ((flags & AT_EMPTY_PATH) != 0 && isEmptyString(pathAddress))
        {
            statDescriptor(dirfd, statAddress);
        }
        else
        {
            proceed();
        }
    }

    private void statxAt(final int dirfd, final long pathAddress, final int flags, final int mask,
        final long statxAddress) throws ReplicaStop
    {
        if ((flags & AT_EMPTY_PATH) == 0 || !isEmptyString(pathAddress) ||
            kindOf(dirfd) != DescriptorKind.EXTERNAL)
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(dirfd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.statx(dup, "", flags, mask, call.record.at(dataOffset()));
        fillStruct(statxAddress, STATX_LENGTH, rc);
    }

    private boolean isEmptyString(final long address)
    {
        return address != 0 && call.memory.read(call.tid, address, call.work.address(), 1) == 1 &&
            call.work.buffer().getByte(0) == 0;
    }

    /**
     * Terminal and descriptor queries the primary answers from its duplicate of the descriptor.
     */
    private void ioctl(final int fd, final long request, final long argument) throws ReplicaStop
    {
        final int length = IoctlRequests.outputLength(request);
        if (kindOf(fd) == DescriptorKind.PRIVATE_FILE || IoctlRequests.isLocal(request))
        {
            proceed();
            return;
        }
        if (length < 0)
        {
            stop("ioctl request 0x" + Long.toHexString(request) + " on a pipe, terminal or device cannot be " +
                "replicated by this version");
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.ioctl(dup, request, call.record.at(dataOffset()));
        fillStruct(argument, length, rc);
    }

    private void connect(final int fd, final long address, final int length) throws ReplicaStop
    {
        if (length <= 0 || length > 128)
        {
            value(-22);
            return;
        }
        if (call.memory.read(call.tid, address, call.work.address(), length) != length)
        {
            value(-EFAULT);
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.connect(dup, call.work.pointer(), length);
        value(rc < 0 ? -Native.lastErrno() : rc);
    }

    private void getrandom(final long buffer, final long length, final int flags) throws ReplicaStop
    {
        final long n = HOST.getrandom(call.record.at(dataOffset()), Math.min(length, call.maxData()), flags);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        resultWithData(n, buffer, (int)n);
    }

    /**
     * Log a call whose outcome is one fixed-size structure the primary has just filled in the data area, with
     * return code {@code rc} (0 or -1 with errno, as libc returns).
     */
    private void fillStruct(final long address, final int length, final int rc) throws ReplicaStop
    {
        if (rc < 0)
        {
            value(-Native.lastErrno());
        }
        else if (address == 0)
        {
            value(rc);
        }
        else
        {
            resultWithData(rc, address, length);
        }
    }

    private void clockGettime(final int clock, final long timespec) throws ReplicaStop
    {
        // The application's CPU-time clocks, not the coordinator's.
        final int clockId = clock == CLOCK_PROCESS_CPUTIME_ID ? (~appPid << 3) | 2 :
            clock == CLOCK_THREAD_CPUTIME_ID ? (~call.tid << 3) | 6 : clock;
        fillStruct(timespec, 16, HOST.clock_gettime(clockId, call.record.at(dataOffset())));
    }

    private void gettimeofday(final long timeval, final long timezone) throws ReplicaStop
    {
        final int rc = HOST.gettimeofday(call.record.at(dataOffset()), call.record.at(dataOffset() + 16));
        if (rc < 0 || timeval == 0 || timezone == 0)
        {
            fillStruct(timeval, 16, rc);
            return;
        }
        // Both structures: two segments.
        final long tz = record.getLong(dataOffset() + 16);
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), 0);
        int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, timeval, 16);
        final int tzData = LogRecord.segmentData(0, length);
        length = LogRecord.appendSegment(record, 0, length, timezone, 8);
        record.putLong(tzData, tz);
        if (call.memory.write(call.tid, timeval, call.record.address() + dataOffset(), 16) != 16 ||
            call.memory.write(call.tid, timezone, call.record.address() + tzData, 8) != 8)
        {
            value(-EFAULT);
            return;
        }
        log.append(TYPE_CALL, record, 0, length);
        respond(listener.answer(0));
    }

    private void time(final long tloc) throws ReplicaStop
    {
        final long seconds = System.currentTimeMillis() / 1000;
        record.putLong(dataOffset(), seconds);
        if (tloc == 0)
        {
            value(seconds);
        }
        else
        {
            resultWithData(seconds, tloc, 8);
        }
    }

    private void getcpu(final long cpu, final long node) throws ReplicaStop
    {
        final int rc = HOST.getcpu(call.record.at(dataOffset()), call.record.at(dataOffset() + 4));
        if (rc < 0 || node != 0)
        {
            stop("getcpu asking for the NUMA node cannot be replicated by this version");
            return;
        }
        fillStruct(cpu, 4, rc);
    }

    private void schedGetaffinity(final int pid, final long size, final long mask) throws ReplicaStop
    {
        final int rc = PROCESS.sched_getaffinity(pid == 0 ? call.tid : pid, Math.min(size, CPU_SET_MAX / 8),
            call.record.at(dataOffset()));
        if (rc < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        resultWithData(rc, mask, rc);
    }

    /**
     * Every replica closes its own descriptor; the backups also let go of their duplicate of it, if it is a socket.
     */
    private void close(final int fd) throws ReplicaStop
    {
        sockets.closed(fd);
        proceed();
    }

    /**
     * Socket calls whose only outcome is a return value; the primary performs them on its duplicate.
     */
    private enum SocketOp
    {
        BIND, LISTEN, SHUTDOWN
    }

    private void socketValue(final int fd, final SocketOp op, final long address, final int argument)
        throws ReplicaStop
    {
        if (op == SocketOp.BIND && (argument <= 0 || argument > SOCKADDR_MAX ||
            call.memory.read(call.tid, address, call.work.address(), argument) != argument))
        {
            value(-EFAULT);
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = switch (op)
        {
            case BIND -> HOST.bind(dup, call.work.pointer(), argument);
            case LISTEN -> HOST.listen(dup, argument);
            case SHUTDOWN -> HOST.shutdown(dup, argument);
        };
        value(rc < 0 ? -Native.lastErrno() : rc);
    }

    private void setsockopt(final int fd, final int level, final int name, final long value, final int length)
        throws ReplicaStop
    {
        if (length < 0 || length > OPTION_MAX ||
            (length > 0 && call.memory.read(call.tid, value, call.work.address(), length) != length))
        {
            value(-EFAULT);
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.setsockopt(dup, level, name, call.work.pointer(), length);
        value(rc < 0 ? -Native.lastErrno() : rc);
    }

    /**
     * The record's data areas for a result made of a value of up to {@code capacity} bytes and the 4-byte length
     * the kernel writes back: the length first, so the value's offset is fixed.
     */
    private static final int LENGTH_DATA = CALL_HEADER_LENGTH + SEGMENT_HEADER_LENGTH;
    private static final int VALUE_DATA = LENGTH_DATA + 8 + SEGMENT_HEADER_LENGTH;

    /**
     * For a call that returns a value and its length: read the length the application offers (capped at
     * {@code max}, kept in {@link #valueCapacity}) and put it where the kernel reads it.
     *
     * @return a duplicate of {@code fd} to call on, or {@link #ANSWERED}.
     */
    private int valueAndLengthCall(final int fd, final long lengthAddress, final int max) throws ReplicaStop
    {
        valueCapacity = readLength(lengthAddress, max);
        if (valueCapacity < 0)
        {
            value(-EFAULT);
            return ANSWERED;
        }
        final int dup = duplicateOrFail(fd);
        if (dup != ANSWERED)
        {
            record.putInt(LENGTH_DATA, valueCapacity);
        }
        return dup;
    }

    private void getsockopt(final int fd, final int level, final int name, final long value, final long lengthAddress)
        throws ReplicaStop
    {
        final int dup = valueAndLengthCall(fd, lengthAddress, OPTION_MAX);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.getsockopt(dup, level, name, call.record.at(VALUE_DATA), call.record.at(LENGTH_DATA));
        resultWithValueAndLength(rc < 0 ? -Native.lastErrno() : rc, value, lengthAddress, valueCapacity);
    }

    private void socketName(final int fd, final long address, final long lengthAddress) throws ReplicaStop
    {
        final int dup = valueAndLengthCall(fd, lengthAddress, SOCKADDR_MAX);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = call.nr == GETSOCKNAME ?
            HOST.getsockname(dup, call.record.at(VALUE_DATA), call.record.at(LENGTH_DATA)) :
            HOST.getpeername(dup, call.record.at(VALUE_DATA), call.record.at(LENGTH_DATA));
        resultWithValueAndLength(rc < 0 ? -Native.lastErrno() : rc, address, lengthAddress, valueCapacity);
    }

    /**
     * A new connection: the primary accepts it on its duplicate of the listening socket and installs it in the
     * application at the lowest free number; the backups install a stand-in socket at the same number.
     */
    private void accept(final int fd, final long address, final long lengthAddress, final int flags)
        throws ReplicaStop
    {
        final int capacity = address == 0 ? 0 : readLength(lengthAddress, SOCKADDR_MAX);
        if (capacity < 0)
        {
            value(-EFAULT);
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        record.putInt(LENGTH_DATA, capacity);
        final int unseen = sockets.takeAcceptedUnseen();
        final int connection = unseen >= 0 ? peer(unseen, address) : HOST.accept4(dup,
            address == 0 ? null : call.record.at(VALUE_DATA), address == 0 ? null : call.record.at(LENGTH_DATA),
            (flags & SOCK_NONBLOCK) | SOCK_CLOEXEC);
        if (connection < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        // Handed to the backups at once, so that the connection outlives this primary from here on.
        if (unseen < 0)
        {
            sockets.shareAccepted(connection);
        }
        final int installed = listener.installDescriptor(connection, -1, (flags & SOCK_CLOEXEC) != 0, false);
        if (installed >= 0)
        {
            sockets.accepted(installed);
        }
        HOST.close(connection);
        if (installed == SeccompListener.GONE)
        {
            return; // the application is gone: nothing to log for a call it will never see answered
        }
        if (installed < 0)
        {
            value(installed);
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_SOCKET, call.signatureOfArguments(), installed);
        final int length = address == 0 ? CALL_HEADER_LENGTH : appendValueAndLength(address, lengthAddress, capacity);
        log.append(TYPE_CALL, record, 0, length);
        respond(listener.answer(installed));
    }

    /**
     * A connection accepted before: its peer's address, as accept would have given it.
     */
    private int peer(final int connection, final long address)
    {
        if (address != 0 && HOST.getpeername(connection, call.record.at(VALUE_DATA), call.record.at(LENGTH_DATA)) < 0)
        {
            record.putInt(LENGTH_DATA, 0);
        }
        return connection;
    }

    /**
     * send(2) is sendto without a destination: an output like write. Its flags (MSG_NOSIGNAL, MSG_MORE...) change
     * nothing the application sees but a SIGPIPE, which the coordinator's write never raises.
     */
    private void send(final int fd, final long buffer, final long count, final long destination) throws ReplicaStop
    {
        if (destination != 0)
        {
            stop("sendto with a destination address cannot be replicated by this version");
            return;
        }
        output(fd, buffer, count, -1);
    }

    private void recvfrom(
        final int fd, final long buffer, final long count, final int flags, final long address,
        final long lengthAddress) throws ReplicaStop
    {
        if (address != 0)
        {
            stop("recvfrom asking for the sender's address cannot be replicated by this version");
            return;
        }
        if (kindOf(fd) != DescriptorKind.EXTERNAL)
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        socketInput(dup, buffer, Math.min(count, call.maxData()), flags);
    }

    /**
     * Input from a connection is in the log before it leaves the kernel's queue: the primary peeks, logs, then
     * consumes exactly what it logged. If it dies in between, the new primary finds the logged bytes still queued
     * and consumes them (logical TCP, SocketTakeover), so no byte is lost or delivered twice.
     */
    private void socketInput(final int dup, final long buffer, final long length, final int flags)
        throws ReplicaStop
    {
        final long n = HOST.recvfrom(dup, call.record.at(dataOffset()), length, flags | MSG_PEEK, null, null);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), n);
        final int recordLength = n == 0 ? CALL_HEADER_LENGTH :
            LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, buffer, (int)n);
        if (n > 0 && call.memory.write(call.tid, buffer, call.record.address() + dataOffset(), n) != n)
        {
            value(-EFAULT);
            return;
        }
        log.append(TYPE_CALL, record, 0, recordLength);
        if ((flags & MSG_PEEK) == 0)
        {
            consume(dup, n);
        }
        respond(listener.answer(n));
    }

    /**
     * Take from the connection's queue the {@code n} bytes just peeked and logged.
     */
    private void consume(final int dup, final long n) throws ReplicaStop
    {
        long left = n;
        while (left > 0)
        {
            final long consumed = HOST.recvfrom(dup, call.work.pointer(), Math.min(left, call.work.capacity()),
                MSG_DONTWAIT, null, null);
            if (consumed <= 0)
            {
                stop("consuming " + left + " logged bytes of a connection failed: errno " + Native.lastErrno());
            }
            left -= consumed;
        }
    }

    /**
     * sendmsg without a destination or ancillary data is writev over the message's iovecs.
     */
    private void sendmsg(final int fd, final long message) throws ReplicaStop
    {
        if (!call.readMessageHeader(message))
        {
            value(-EFAULT);
            return;
        }
        final UnsafeBuffer header = call.message.buffer();
        if (header.getLong(InterceptedCall.MSG_NAME_OFFSET) != 0 &&
            header.getInt(InterceptedCall.MSG_NAMELEN_OFFSET) != 0)
        {
            stop("sendmsg with a destination address cannot be replicated by this version");
            return;
        }
        if (header.getLong(InterceptedCall.MSG_CONTROL_OFFSET) != 0 &&
            header.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET) != 0)
        {
            stop("sendmsg with ancillary data (descriptors, credentials) cannot be replicated by this version");
            return;
        }
        outputVector(fd, header.getLong(InterceptedCall.MSG_IOV_OFFSET),
            (int)Math.min(header.getLong(InterceptedCall.MSG_IOVLEN_OFFSET), InterceptedCall.IOV_MAX));
    }

    /**
     * recvmsg: the primary receives (peeks, on a socket) into its own message, logs the bytes spread over the
     * application's iovecs and the header fields the kernel writes back (name and its length, control length,
     * flags), then consumes what it logged. Ancillary data, such as descriptors passed over a UNIX socket, stops
     * the replica: it cannot be replayed.
     */
    private void recvmsg(final int fd, final long message, final int flags) throws ReplicaStop
    {
        final int dup = externalDuplicate(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        if (!call.readMessageHeader(message))
        {
            value(-EFAULT);
            return;
        }
        final UnsafeBuffer header = call.message.buffer();
        final long name = header.getLong(InterceptedCall.MSG_NAME_OFFSET);
        final int nameCapacity = name == 0 ? 0 :
            Math.min(Math.max(header.getInt(InterceptedCall.MSG_NAMELEN_OFFSET), 0), SOCKADDR_MAX);
        final long controlCapacity = header.getLong(InterceptedCall.MSG_CONTROL_OFFSET) == 0 ? 0 :
            Math.min(Math.max(header.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET), 0), CONTROL_MAX);
        final int count = readIovecs(header.getLong(InterceptedCall.MSG_IOV_OFFSET),
            header.getLong(InterceptedCall.MSG_IOVLEN_OFFSET));
        if (count < 0)
        {
            value(-EFAULT);
            return;
        }
        final UnsafeBuffer own = ownMessage.buffer();
        own.setMemory(0, OWN_IOVEC_OFFSET, (byte)0);
        own.putLong(OWN_IOVEC_OFFSET, call.work.address());
        own.putLong(OWN_IOVEC_OFFSET + 8, scatterCapacity(count, MESSAGE_SEGMENTS_LENGTH));
        own.putLong(InterceptedCall.MSG_NAME_OFFSET, nameCapacity == 0 ? 0 : ownMessage.address() + OWN_NAME_OFFSET);
        own.putInt(InterceptedCall.MSG_NAMELEN_OFFSET, nameCapacity);
        own.putLong(InterceptedCall.MSG_IOV_OFFSET, ownMessage.address() + OWN_IOVEC_OFFSET);
        own.putLong(InterceptedCall.MSG_IOVLEN_OFFSET, 1);
        own.putLong(InterceptedCall.MSG_CONTROL_OFFSET,
            controlCapacity == 0 ? 0 : ownMessage.address() + OWN_CONTROL_OFFSET);
        own.putLong(InterceptedCall.MSG_CONTROLLEN_OFFSET, controlCapacity);
        final boolean socket = sockets.isSocket(fd);
        final long n = SOCKETS.recvmsg(dup, ownMessage.at(OWN_MSGHDR_OFFSET), flags | (socket ? MSG_PEEK : 0));
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        if (own.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET) > 0)
        {
            stop("recvmsg received ancillary data (descriptors, credentials), which cannot be replicated by this " +
                "version");
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), n);
        int length = scatter(CALL_HEADER_LENGTH, n, count);
        length = segment(length, message + InterceptedCall.MSG_NAMELEN_OFFSET, own,
            InterceptedCall.MSG_NAMELEN_OFFSET, 4);
        final int nameLength = Math.min(own.getInt(InterceptedCall.MSG_NAMELEN_OFFSET), nameCapacity);
        if (nameLength > 0)
        {
            length = segment(length, name, own, OWN_NAME_OFFSET, nameLength);
        }
        length = segment(length, message + InterceptedCall.MSG_CONTROLLEN_OFFSET, own,
            InterceptedCall.MSG_CONTROLLEN_OFFSET, 8);
        length = segment(length, message + InterceptedCall.MSG_FLAGS_OFFSET, own, InterceptedCall.MSG_FLAGS_OFFSET, 4);
        if (length < 0)
        {
            value(-EFAULT);
            return;
        }
        log.append(TYPE_CALL, record, 0, length);
        if (socket && (flags & MSG_PEEK) == 0)
        {
            consume(dup, n);
        }
        respond(listener.answer(n));
    }

    /**
     * sendfile to a socket, pipe or file outside the state: the primary sends from its duplicate of the input file
     * at an explicit offset, signs the file bytes that went out (the backups sign their own copy of the file), and
     * leaves the input position, or the application's offset, where the kernel's sendfile would.
     */
    private void sendfile(final int outFd, final int inFd, final long offsetAddress, final long count)
        throws ReplicaStop
    {
        if (kindOf(outFd) == DescriptorKind.PRIVATE_FILE)
        {
            proceed();
            return;
        }
        final int out = duplicateOrFail(outFd);
        if (out == ANSWERED)
        {
            return;
        }
        heldInput = PROCESS.pidfd_getfd(appPidfd, inFd, 0);
        if (heldInput < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        final UnsafeBuffer offset = ownMessage.buffer();
        final long start;
        if (offsetAddress != 0)
        {
            if (call.memory.read(call.tid, offsetAddress, ownMessage.address(), 8) != 8)
            {
                value(-EFAULT);
                return;
            }
            start = offset.getLong(0);
        }
        else
        {
            start = HOST.lseek(heldInput, 0, SEEK_CUR);
        }
        if (start < 0)
        {
            value(start == -1 ? -Native.lastErrno() : -EINVAL);
            return;
        }
        // As emitOnce: checked right before the bytes leave; bytes an old primary already sent are not sent again.
        log.checkStillPrimary();
        final long skip = sockets.alreadySent(outFd, Math.max(count, 0));
        offset.putLong(0, start + skip);
        final long sent = count - skip > 0 ? HOST.sendfile(out, heldInput, ownMessage.pointer(), count - skip) : 0;
        if (sent < 0 && skip == 0)
        {
            value(-Native.lastErrno());
            return;
        }
        final long done = skip + Math.max(sent, 0);
        final long signature = call.signatureOfFile(heldInput, start, done);
        LogRecord.putCall(record, 0, call.nr, ACTION_OUTPUT, call.signatureOfArguments(), done);
        int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, 0, 8);
        record.putLong(LogRecord.segmentData(0, CALL_HEADER_LENGTH), signature);
        offset.putLong(0, start + done);
        if (offsetAddress != 0)
        {
            length = segment(length, offsetAddress, offset, 0, 8);
        }
        else if (HOST.lseek(heldInput, start + done, SEEK_SET) < 0)
        {
            length = -1;
        }
        if (length < 0)
        {
            stop("sendfile cannot leave the input offset where the kernel would");
        }
        log.append(TYPE_CALL, record, 0, length);
        respond(listener.answer(done));
    }

    /**
     * The primary waits on its duplicate of the application's epoll set, which holds the application's own
     * registrations; the events it returns go to every replica. The wait is cut into slices so that a primary that
     * has been replaced stops waiting.
     */
    private void epollWait(final int epfd, final long events, final int maxEvents, final int timeoutMs)
        throws ReplicaStop
    {
        if (maxEvents <= 0)
        {
            value(-EINVAL);
            return;
        }
        final int dup = duplicateOrFail(epfd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int max = Math.min(maxEvents, call.maxData() / EPOLL_EVENT_LENGTH);
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(timeoutMs, 0));
        int n;
        while (true)
        {
            final long leftMs = timeoutMs < 0 ? EPOLL_SLICE_MS :
                TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime() + 999_999);
            n = HOST.epoll_wait(dup, call.record.at(dataOffset()), max, (int)Math.max(0, Math.min(leftMs,
                EPOLL_SLICE_MS)));
            if (n != 0 || (timeoutMs >= 0 && System.nanoTime() - deadlineNs >= 0))
            {
                break;
            }
            log.checkStillPrimary();
        }
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        resultWithData(n, events, n * EPOLL_EVENT_LENGTH);
    }

    /**
     * @return the socket-address or option length the application passed at {@code address}, capped, or -1.
     */
    private int readLength(final long address, final int max)
    {
        if (address == 0 || call.memory.read(call.tid, address, call.work.address(), 4) != 4)
        {
            return -1;
        }
        final int length = call.work.buffer().getInt(0);
        return length < 0 ? -1 : Math.min(length, max);
    }

    /**
     * Log and apply a RESULT carrying a value the kernel wrote at {@link #VALUE_DATA} (its length, as the kernel
     * left it at {@link #LENGTH_DATA}, capped by what the application offered) and that length.
     */
    private void resultWithValueAndLength(
        final long result, final long address, final long lengthAddress, final int capacity) throws ReplicaStop
    {
        if (result < 0)
        {
            value(result);
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), result);
        final int length = appendValueAndLength(address, lengthAddress, capacity);
        log.append(TYPE_CALL, record, 0, length);
        respond(listener.answer(result));
    }

    /**
     * Append the length and value segments (already in place) and copy them into the application.
     *
     * @return the record's length.
     */
    private int appendValueAndLength(final long address, final long lengthAddress, final int capacity)
        throws ReplicaStop
    {
        final int actual = record.getInt(LENGTH_DATA);
        final int copied = Math.min(Math.max(actual, 0), capacity);
        int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, lengthAddress, 4);
        length = LogRecord.appendSegment(record, 0, length, address, copied);
        if (call.memory.write(call.tid, lengthAddress, call.record.address() + LENGTH_DATA, 4) != 4 ||
            (copied > 0 && call.memory.write(call.tid, address, call.record.address() + VALUE_DATA, copied) != copied))
        {
            stop(call.name() + " cannot write its result into the application");
        }
        return length;
    }

    /**
     * Calls that change paths: in the private state every replica does it itself.
     */
    private void changePaths(final int dirfd, final long path, final int dirfd2, final long path2) throws ReplicaStop
    {
        final String first = resolve(dirfd, path);
        final String second = path2 == 0 ? null : resolve(dirfd2, path2);
        if (first != null && classifier.isPrivate(Path.of(first)) &&
            (path2 == 0 || (second != null && classifier.isPrivate(Path.of(second)))))
        {
            proceed();
            return;
        }
        stop(call.name() + " of " + (first == null ? "an unreadable path" : first) +
            " outside the state directory cannot be replicated by this version");
    }

    private void changeDescriptor(final int fd) throws ReplicaStop
    {
        if (kindOf(fd) == DescriptorKind.PRIVATE_FILE)
        {
            proceed();
            return;
        }
        stop(call.name() + " of a file outside the state directory cannot be replicated by this version");
    }

    /**
     * The path the application named, made absolute from its working directory or the directory descriptor.
     */
    private String resolve(final int dirfd, final long pathAddress)
    {
        final String path = call.memory.readString(call.tid, pathAddress, call.work, PATH_MAX);
        if (path == null || path.startsWith("/"))
        {
            return path;
        }
        final String base = dirfd == AT_FDCWD ? "/proc/" + call.tid + "/cwd" : "/proc/" + call.tid + "/fd/" + dirfd;
        try
        {
            return java.nio.file.Files.readSymbolicLink(Path.of(base)).resolve(path).toString();
        }
        catch (final java.io.IOException ex)
        {
            return null;
        }
    }

    /**
     * For a call that acts on a descriptor only when it reaches outside the replica: every replica runs it on a
     * private or read-only file itself.
     *
     * @return a duplicate of an EXTERNAL {@code fd} to act on, or {@link #ANSWERED}.
     */
    private int externalDuplicate(final int fd) throws ReplicaStop
    {
        if (kindOf(fd) != DescriptorKind.EXTERNAL)
        {
            proceed();
            return ANSWERED;
        }
        return duplicateOrFail(fd);
    }

    /**
     * @return a duplicate of {@code fd} to act on, or {@link #ANSWERED} once the call has failed as the kernel
     * would have failed it (a closed descriptor: EBADF).
     */
    private int duplicateOrFail(final int fd) throws ReplicaStop
    {
        final int dup = duplicate(fd);
        if (dup < 0)
        {
            value(dup);
            return ANSWERED;
        }
        sockets.share(fd, dup);
        return dup;
    }

    /**
     * A duplicate of the application's descriptor for the primary to act on; {@link #handle} closes it once the
     * call is answered.
     *
     * @return the duplicate, or -errno.
     */
    private int duplicate(final int fd)
    {
        if (heldDuplicate >= 0 && heldDuplicateOf == fd)
        {
            return heldDuplicate;
        }
        final int dup = PROCESS.pidfd_getfd(appPidfd, fd, 0);
        if (dup < 0)
        {
            return -Native.lastErrno();
        }
        if (heldDuplicate >= 0)
        {
            PROCESS.close(heldDuplicate); // a call on two descriptors (statx's dirfd): the first is done with
        }
        heldDuplicate = dup;
        heldDuplicateOf = fd;
        return dup;
    }

    /**
     * What the application's {@code fd} is, told from the duplicate of it that the call then acts on.
     */
    private DescriptorKind kindOf(final int fd)
    {
        final int dup = duplicate(fd);
        return dup < 0 ? DescriptorKind.EXTERNAL : classifier.classify(call.tid, fd, dup);
    }

    private void releaseDuplicate()
    {
        if (heldDuplicate >= 0)
        {
            PROCESS.close(heldDuplicate);
            heldDuplicate = -1;
        }
        if (heldInput >= 0)
        {
            PROCESS.close(heldInput);
            heldInput = -1;
        }
    }

    private void appendCall(final int action, final long signature, final long result, final int length)
        throws ReplicaStop
    {
        LogRecord.putCall(record, 0, call.nr, action, signature, result);
        log.append(TYPE_CALL, record, 0, length);
    }

    /**
     * Log STOP for the backups and end this replica.
     */
    private void stop(final String message) throws ReplicaStop
    {
        record.putInt(STOP_CALL_NUMBER_OFFSET, call.nr);
        final int length = record.putStringWithoutLengthUtf8(STOP_MESSAGE_OFFSET, message);
        record.putInt(STOP_MESSAGE_LENGTH_OFFSET, length);
        log.append(TYPE_STOP, record, 0, STOP_MESSAGE_OFFSET + length);
        throw new ReplicaStop(call.nr, message);
    }

    private void respond(final int rc) throws ReplicaStop
    {
        if (rc < 0 && rc != SeccompListener.GONE)
        {
            throw new ReplicaStop(call.nr, "cannot answer " + call.name() + ": errno " + -rc);
        }
    }
}
