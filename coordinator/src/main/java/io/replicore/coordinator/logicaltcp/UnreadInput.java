package io.replicore.coordinator.logicaltcp;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

/**
 * A connection's input as a backup of a kernel partition knows it between being announced and being read: the
 * bytes the primary logged because the application was told they were there (an INPUT record), which the primary's
 * kernel has acknowledged, and of which the application has read only the first part or none. A new primary puts
 * them back in the rebuilt connection's receive queue, so the application finds what it was told of. Oldest first.
 */
public final class UnreadInput
{
    private final ExpandableArrayBuffer bytes = new ExpandableArrayBuffer(0);
    private int start;
    private int end;

    /**
     * The primary announced {@code length} more bytes, at {@code offset} of {@code from}.
     */
    public void announced(final DirectBuffer from, final int offset, final int length)
    {
        if (start == end)
        {
            start = 0;
            end = 0;
        }
        else if (start > 0 && end + length > bytes.capacity())
        {
            bytes.putBytes(0, bytes, start, end - start); // compact rather than grow
            end -= start;
            start = 0;
        }
        bytes.putBytes(end, from, offset, length);
        end += length;
    }

    /**
     * The application read {@code count} bytes: the first of them, as many as there are, are no longer unread.
     */
    public void read(final long count)
    {
        start += (int)Math.min(count, end - start);
    }

    public int length()
    {
        return end - start;
    }

    /**
     * @return the unread bytes as one buffer, valid until the next change.
     */
    public DirectBuffer buffer()
    {
        return bytes;
    }

    /**
     * @return where the unread bytes start in {@link #buffer()}.
     */
    public int offset()
    {
        return start;
    }
}
