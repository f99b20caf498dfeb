package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.SocketCalls;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A walk over the ancillary data a recvmsg returned: a run of struct cmsghdr, each padded to 8 bytes.
 * <pre>
 *   cmsghdr: length, header included (8) | level (4) | type (4) | data ...   next at align(length, 8)
 *   SCM_RIGHTS (level SOL_SOCKET, type 1): the data is descriptors, 4 bytes each
 * </pre>
 * Used as {@code for (int at = first(); at >= 0; at = next(at))} over {@link #wrap wrapped} bytes.
 */
final class ControlMessages
{
    private static final int LENGTH_OFFSET = 0;
    private static final int LEVEL_OFFSET = 8;
    private static final int TYPE_OFFSET = 12;
    private static final int HEADER_LENGTH = 16;
    private static final int DESCRIPTOR_LENGTH = 4;

    private UnsafeBuffer buffer;
    private int base;
    private long length;

    /**
     * Walk the {@code length} bytes of ancillary data at {@code base} in {@code buffer}.
     */
    ControlMessages wrap(final UnsafeBuffer buffer, final int base, final long length)
    {
        this.buffer = buffer;
        this.base = base;
        this.length = length;
        return this;
    }

    /**
     * @return where the first message starts, or -1 if there is none.
     */
    int first()
    {
        return fits(0) ? 0 : -1;
    }

    /**
     * @return where the message after the one at {@code at} starts, or -1 if there is none.
     */
    int next(final int at)
    {
        final int following = at + (int)((messageLength(at) + 7) & ~7L);
        return fits(following) ? following : -1;
    }

    private boolean fits(final int at)
    {
        if (at + HEADER_LENGTH > length)
        {
            return false;
        }
        final long messageLength = messageLength(at);
        return messageLength >= HEADER_LENGTH && at + messageLength <= length;
    }

    private long messageLength(final int at)
    {
        return buffer.getLong(base + at + LENGTH_OFFSET);
    }

    /**
     * @return true if the message at {@code at} passes descriptors (SCM_RIGHTS).
     */
    boolean isRights(final int at)
    {
        return buffer.getInt(base + at + LEVEL_OFFSET) == SocketCalls.SOL_SOCKET &&
            buffer.getInt(base + at + TYPE_OFFSET) == SocketCalls.SCM_RIGHTS;
    }

    int type(final int at)
    {
        return buffer.getInt(base + at + TYPE_OFFSET);
    }

    /**
     * @return how many descriptors the SCM_RIGHTS message at {@code at} carries.
     */
    int descriptorCount(final int at)
    {
        return (int)((messageLength(at) - HEADER_LENGTH) / DESCRIPTOR_LENGTH);
    }

    int descriptor(final int at, final int index)
    {
        return buffer.getInt(descriptorOffset(at, index));
    }

    void descriptor(final int at, final int index, final int fd)
    {
        buffer.putInt(descriptorOffset(at, index), fd);
    }

    private int descriptorOffset(final int at, final int index)
    {
        return base + at + HEADER_LENGTH + DESCRIPTOR_LENGTH * index;
    }
}
