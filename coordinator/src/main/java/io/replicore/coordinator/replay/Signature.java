package io.replicore.coordinator.replay;

import java.nio.ByteBuffer;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;

/**
 * Signatures a backup compares with the primary's: of a call (number and arguments) and of output bytes.
 */
public final class Signature
{
    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private final CRC32 crc32 = new CRC32();
    private final CRC32C crc32c = new CRC32C();
    private final ByteBuffer view;
    /** Also given every byte signed, while set: a backup keeps what it signs of a connection's output. */
    private OutputTap tap;

    /**
     * Whoever else must see the output bytes a signature is taken over.
     */
    @FunctionalInterface
    public interface OutputTap
    {
        /**
         * @param bytes the bytes signed, from its position to its limit; the tap may move its position.
         */
        void take(ByteBuffer bytes);
    }

    /**
     * @param scratch the direct buffer that output bytes are read into before {@link #update}.
     */
    public Signature(final ByteBuffer scratch)
    {
        this.view = scratch.duplicate();
    }

    /**
     * FNV-1a over the call number and its first {@code arity} arguments.
     */
    public static long ofCall(final int nr, final long[] args, final int arity)
    {
        long hash = mix(FNV_OFFSET, nr);
        for (int i = 0; i < arity; i++)
        {
            hash = mix(hash, args[i]);
        }
        return hash;
    }

    /**
     * FNV-1a over a string, for arguments that are paths.
     */
    public static long ofString(final int nr, final String value)
    {
        long hash = mix(FNV_OFFSET, nr);
        for (int i = 0; i < value.length(); i++)
        {
            hash = mix(hash, value.charAt(i));
        }
        return hash;
    }

    private static long mix(final long hash, final long value)
    {
        long h = hash;
        for (int i = 0; i < 8; i++)
        {
            h ^= (value >>> (8 * i)) & 0xFF;
            h *= FNV_PRIME;
        }
        return h;
    }

    /**
     * Start the signature of a run of output bytes, fed in pieces by {@link #update}.
     */
    public void reset()
    {
        crc32.reset();
        crc32c.reset();
    }

    /**
     * Add {@code length} bytes of the scratch memory this signature reads, starting at {@code offset}.
     */
    public void update(final int offset, final int length)
    {
        view.limit(offset + length).position(offset);
        crc32c.update(view);
        view.position(offset);
        crc32.update(view);
        if (tap != null)
        {
            view.position(offset);
            tap.take(view);
        }
    }

    /**
     * Give {@code tap} every byte signed from now on, until it is set to null.
     */
    public void tap(final OutputTap tap)
    {
        this.tap = tap;
    }

    /**
     * @return two independent 32-bit CRCs in one word: the chance that different bytes match is about 2^-64.
     */
    public long value()
    {
        return (crc32c.getValue() << 32) | crc32.getValue();
    }
}
