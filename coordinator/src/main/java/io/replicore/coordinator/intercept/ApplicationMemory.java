package io.replicore.coordinator.intercept;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Copies bytes between a scratch buffer of the coordinator and the memory of a thread of its application,
 * with process_vm_readv/writev. One pair of iovecs is reused for every call.
 */
public final class ApplicationMemory
{
    private static final ProcessCalls CALLS = Native.load(ProcessCalls.class);
    private static final int IOVEC_LENGTH = 16;

    private final Native.Scratch iovecs = Native.allocate(2 * IOVEC_LENGTH);
    private final UnsafeBuffer iov = iovecs.buffer();

    /**
     * Read {@code length} bytes at {@code remoteAddress} of {@code tid} into {@code localAddress}.
     *
     * @return bytes read, or -errno.
     */
    public long read(final int tid, final long remoteAddress, final long localAddress, final long length)
    {
        if (length == 0)
        {
            return 0;
        }
        prepare(remoteAddress, localAddress, length);
        final long n = CALLS.process_vm_readv(tid, iovecs.pointer(), 1, iovecs.at(IOVEC_LENGTH), 1, 0);
        return n < 0 ? -Native.lastErrno() : n;
    }

    /**
     * Write {@code length} bytes from {@code localAddress} to {@code remoteAddress} of {@code tid}.
     *
     * @return bytes written, or -errno.
     */
    public long write(final int tid, final long remoteAddress, final long localAddress, final long length)
    {
        if (length == 0)
        {
            return 0;
        }
        prepare(remoteAddress, localAddress, length);
        final long n = CALLS.process_vm_writev(tid, iovecs.pointer(), 1, iovecs.at(IOVEC_LENGTH), 1, 0);
        return n < 0 ? -Native.lastErrno() : n;
    }

    /**
     * Read a NUL-terminated string of at most {@code max} bytes; it may be cut where the mapping ends.
     */
    public String readString(final int tid, final long remoteAddress, final Native.Scratch scratch, final int max)
    {
        long n = read(tid, remoteAddress, scratch.address(), max);
        if (n < 0)
        {
            // The string may end near the end of its mapping: read up to the page boundary only.
            n = read(tid, remoteAddress, scratch.address(), Math.min(max, 4096 - (remoteAddress & 4095)));
        }
        if (n <= 0)
        {
            return null;
        }
        final UnsafeBuffer buffer = scratch.buffer();
        int length = 0;
        while (length < n && buffer.getByte(length) != 0)
        {
            length++;
        }
        return buffer.getStringWithoutLengthUtf8(0, length);
    }

    private void prepare(final long remoteAddress, final long localAddress, final long length)
    {
        iov.putLong(0, localAddress);
        iov.putLong(8, length);
        iov.putLong(IOVEC_LENGTH, remoteAddress);
        iov.putLong(IOVEC_LENGTH + 8, length);
    }
}
