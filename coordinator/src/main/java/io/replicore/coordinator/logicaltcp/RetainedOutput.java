package io.replicore.coordinator.logicaltcp;

import io.replicore.coordinator.replay.Signature;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The last bytes the application wrote to one connection, as a backup of a kernel partition replays them: the
 * primary's kernel may not have had all of them acknowledged when it died, and a new primary must send again what
 * the client lacks. The primary's kernel cannot hold more unacknowledged bytes than its send buffer, so keeping
 * the last {@link #limit()} bytes (the largest send buffer a socket may get, twice over) covers all of them; the
 * rebuilt socket starts that far back, and the client drops what it already has. The ring grows as bytes come,
 * so a short connection costs little.
 */
public final class RetainedOutput implements Signature.OutputTap
{
    private static final int INITIAL_CAPACITY = 4096;
    private static final int LIMIT = readLimit();

    private byte[] ring = new byte[0];
    /** Bytes ever written: the position after the last one. */
    private long written;

    /**
     * @return the most bytes kept per connection: twice the larger of tcp_wmem's maximum and wmem_max, plus 64 KiB.
     */
    public static int limit()
    {
        return LIMIT;
    }

    private static int readLimit()
    {
        long largest = 4L << 20;
        try
        {
            // readString gets a sysctl file wrong (it reads one byte of it): read lines
            final String[] tcpWmem = Files.readAllLines(Path.of("/proc/sys/net/ipv4/tcp_wmem")).get(0).trim()
                .split("\\s+");
            final long wmemMax = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/net/core/wmem_max")).get(0).trim());
            largest = Math.max(Long.parseLong(tcpWmem[tcpWmem.length - 1]), wmemMax);
        }
        catch (final IOException | RuntimeException ex)
        {
            // not Linux's /proc: the kernel's default maximum stands
        }
        return (int)Math.min(Integer.MAX_VALUE / 2, 2 * largest + 65536);
    }

    @Override
    public void take(final ByteBuffer bytes)
    {
        final int length = bytes.remaining();
        grow(length);
        int left = length;
        while (left > 0)
        {
            final int at = (int)(written % ring.length);
            final int piece = Math.min(left, ring.length - at);
            bytes.get(ring, at, piece);
            written += piece;
            left -= piece;
        }
    }

    private void grow(final int more)
    {
        if (ring.length == LIMIT)
        {
            return;
        }
        final long wanted = Math.min(LIMIT, Math.max(written + more, (long)INITIAL_CAPACITY));
        if (wanted <= ring.length)
        {
            return;
        }
        int capacity = Math.max(ring.length, INITIAL_CAPACITY);
        while (capacity < wanted)
        {
            capacity = (int)Math.min(LIMIT, 2L * capacity);
        }
        final byte[] larger = new byte[capacity];
        final long from = firstRetained();
        for (long position = from; position < written; position++)
        {
            larger[(int)(position % capacity)] = ring[(int)(position % ring.length)];
        }
        ring = larger;
    }

    /**
     * @return bytes written so far.
     */
    public long written()
    {
        return written;
    }

    /**
     * @return the stream position of the oldest byte still kept.
     */
    public long firstRetained()
    {
        return ring.length == 0 ? written : Math.max(0, written - ring.length);
    }

    /**
     * Copy kept bytes from stream position {@code from} into {@code into}, as many as fit.
     *
     * @return how many were copied.
     */
    public int copy(final long from, final ByteBuffer into)
    {
        if (from < firstRetained() || from > written)
        {
            throw new IllegalArgumentException("position " + from + " is not kept: " + firstRetained() + " to " +
                written);
        }
        final int length = (int)Math.min(into.remaining(), written - from);
        int done = 0;
        while (done < length)
        {
            final int at = (int)((from + done) % ring.length);
            final int piece = Math.min(length - done, ring.length - at);
            into.put(ring, at, piece);
            done += piece;
        }
        return length;
    }
}
