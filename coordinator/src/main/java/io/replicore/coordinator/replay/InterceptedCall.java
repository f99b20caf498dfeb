package io.replicore.coordinator.replay;

import io.replicore.detscheduler.ThreadIds;
import io.replicore.coordinator.intercept.ApplicationMemory;
import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.intercept.SyscallNames;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The call being handled, and the memory both roles use to handle it: the notification's arguments, access to
 * the application's memory, and one scratch buffer in which the log record (and the bytes it carries) is built
 * or received. Reused for every call.
 */
public final class InterceptedCall
{
    private static final int AT_FDCWD = -100;
    private static final int PATH_MAX = 4096;
    private static final HostCalls HOST = Native.load(HostCalls.class);
    static final int IOVEC_LENGTH = 16;
    static final int IOV_BATCH = 64;
    /** IOV_MAX: the kernel refuses more. */
    static final int IOV_MAX = 1024;
    /** struct msghdr on x86_64. */
    static final int MSG_NAME_OFFSET = 0;
    static final int MSG_NAMELEN_OFFSET = 8;
    static final int MSG_IOV_OFFSET = 16;
    static final int MSG_IOVLEN_OFFSET = 24;
    static final int MSG_CONTROL_OFFSET = 32;
    static final int MSG_CONTROLLEN_OFFSET = 40;
    static final int MSG_FLAGS_OFFSET = 48;
    static final int MSGHDR_LENGTH = 56;

    final SeccompListener listener;
    final ApplicationMemory memory = new ApplicationMemory();
    final long[] args = new long[6];
    final Native.Scratch record;
    final UnsafeBuffer recordBuffer;
    final Native.Scratch work = Native.allocate(64 * 1024);
    final Native.Scratch iovecs = Native.allocate(IOV_BATCH * IOVEC_LENGTH);
    /** The application's struct msghdr of a sendmsg or recvmsg. */
    final Native.Scratch message = Native.allocate(MSGHDR_LENGTH);
    final Signature signature;
    private final ThreadIds threads;
    int nr;
    int tid;
    /** The calling thread's process on the host, or -1 if it is gone. */
    int process;
    /** The calling thread's id inside the replica's pid namespace: the same in every replica. */
    int logicalTid;
    /** The calling thread's process id inside the replica: whose descriptor table the call's numbers are in. */
    int logicalPid;
    /** Serial mode: which of its thread's calls this is (SerialToken#arrived). */
    int arrival;

    /**
     * @param maxRecordLength the largest record the channels take; data read for the application is cut to fit.
     */
    public InterceptedCall(final SeccompListener listener, final ThreadIds threads, final int maxRecordLength)
    {
        this.listener = listener;
        this.threads = threads;
        this.record = Native.allocate(maxRecordLength);
        this.recordBuffer = record.buffer();
        this.signature = new Signature(work.byteBuffer());
    }

    /**
     * Take the notification just received.
     */
    public void load()
    {
        nr = listener.nr();
        tid = listener.tid();
        listener.args(args);
        final ThreadIds.Identity identity = threads.of(tid);
        process = identity.process();
        logicalTid = identity.logicalTid();
        logicalPid = identity.logicalPid();
    }

    /**
     * Serial mode: the call's arrival number, as the token gave it.
     */
    public void arrival(final int arrival)
    {
        this.arrival = arrival;
    }

    public int arrivalNumber()
    {
        return arrival;
    }

    public SeccompListener listener()
    {
        return listener;
    }

    /**
     * @return the calling thread's id inside the replica, by which log records name it.
     */
    public int logicalTid()
    {
        return logicalTid;
    }


    public int nr()
    {
        return nr;
    }

    public int tid()
    {
        return tid;
    }

    long signatureOfArguments()
    {
        return Signature.ofCall(nr, args, CallArity.of(nr));
    }

    /**
     * @return the most data bytes one record can carry in a single segment.
     */
    int maxData()
    {
        return record.capacity() - LogRecord.CALL_HEADER_LENGTH - LogRecord.SEGMENT_HEADER_LENGTH - 8;
    }

    /**
     * @return the arguments that take part in the signature, in hexadecimal, for divergence reports.
     */
    String describeArguments()
    {
        final StringBuilder text = new StringBuilder();
        for (int i = 0; i < CallArity.of(nr); i++)
        {
            text.append(i == 0 ? "" : ", ").append("0x").append(Long.toHexString(args[i]));
        }
        return text.toString();
    }

    /**
     * The path the application named at {@code pathAddress}, made absolute from its working directory
     * ({@code dirfd} AT_FDCWD) or the directory descriptor {@code dirfd}; null if it cannot be read.
     */
    String resolvePath(final int dirfd, final long pathAddress)
    {
        final String path = memory.readString(tid, pathAddress, work, PATH_MAX);
        if (path == null || path.startsWith("/"))
        {
            return path;
        }
        final String base = dirfd == AT_FDCWD ? "/proc/" + tid + "/cwd" : "/proc/" + tid + "/fd/" + dirfd;
        try
        {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of(base)).resolve(path).toString();
        }
        catch (final java.io.IOException ex)
        {
            return null;
        }
    }

    String name()
    {
        return SyscallNames.nameOf(nr);
    }

    /**
     * Signature of {@code length} bytes at {@code address} of the application, read through the work buffer.
     *
     * @return the signature, with {@code -errno} if the memory could not be read reported as a signature of
     * nothing (the caller compares results too).
     */
    long signatureOfApplicationBytes(final long address, final long length)
    {
        signature.reset();
        signApplicationBytes(address, length);
        return signature.value();
    }

    /**
     * Add {@code length} bytes at {@code address} of the application to the signature.
     *
     * @return how many could be read.
     */
    long signApplicationBytes(final long address, final long length)
    {
        long done = 0;
        while (done < length)
        {
            final int chunk = (int)Math.min(work.capacity(), length - done);
            final long n = memory.read(tid, address + done, work.address(), chunk);
            if (n <= 0)
            {
                break;
            }
            signature.update(0, (int)n);
            done += n;
        }
        return done;
    }

    /**
     * Read the application's struct msghdr at {@code address} into {@link #message}.
     *
     * @return false if it could not be read.
     */
    boolean readMessageHeader(final long address)
    {
        return memory.read(tid, address, message.address(), MSGHDR_LENGTH) == MSGHDR_LENGTH;
    }

    /**
     * Signature of the first {@code total} bytes of the message whose header is at {@code address}.
     */
    long signatureOfApplicationMessage(final long address, final long total)
    {
        if (!readMessageHeader(address))
        {
            signature.reset();
            return signature.value();
        }
        final long iovCount = message.buffer().getLong(MSG_IOVLEN_OFFSET);
        return signatureOfApplicationIovecs(message.buffer().getLong(MSG_IOV_OFFSET), (int)Math.min(iovCount, IOV_MAX),
            total);
    }

    /**
     * Signature of {@code length} bytes of the file {@code fd} (a descriptor of this process) from {@code start},
     * read without moving its position; a short read is signed as far as it went (the caller compares results).
     */
    long signatureOfFile(final int fd, final long start, final long length)
    {
        signature.reset();
        long done = 0;
        while (done < length)
        {
            final long n = HOST.pread(fd, work.pointer(), Math.min(work.capacity(), length - done), start + done);
            if (n <= 0)
            {
                break;
            }
            signature.update(0, (int)n);
            done += n;
        }
        return signature.value();
    }

    /**
     * Signature of the first {@code total} bytes described by the iovec array at {@code iovAddress}.
     */
    long signatureOfApplicationIovecs(final long iovAddress, final int iovCount, final long total)
    {
        signature.reset();
        final int count = Math.min(iovCount, IOV_MAX);
        long remaining = total;
        for (int i = 0; i < count && remaining > 0; i += IOV_BATCH)
        {
            final int batch = Math.min(IOV_BATCH, count - i);
            if (memory.read(tid, iovAddress + (long)IOVEC_LENGTH * i, iovecs.address(), (long)IOVEC_LENGTH * batch) !=
                (long)IOVEC_LENGTH * batch)
            {
                break;
            }
            for (int j = 0; j < batch && remaining > 0; j++)
            {
                final long base = iovecs.buffer().getLong(IOVEC_LENGTH * j);
                final long length = Math.min(iovecs.buffer().getLong(IOVEC_LENGTH * j + 8), remaining);
                long done = 0;
                while (done < length)
                {
                    final int chunk = (int)Math.min(work.capacity(), length - done);
                    final long n = memory.read(tid, base + done, work.address(), chunk);
                    if (n <= 0)
                    {
                        return signature.value();
                    }
                    signature.update(0, (int)n);
                    done += n;
                }
                remaining -= length;
            }
        }
        return signature.value();
    }

}
