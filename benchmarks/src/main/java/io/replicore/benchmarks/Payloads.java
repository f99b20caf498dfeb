package io.replicore.benchmarks;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.SplittableRandom;

/**
 * Record payloads for the benchmarks, made once per trial.
 */
final class Payloads
{
    private Payloads()
    {
    }

    /**
     * @return a cache-line aligned off-heap buffer of {@code length} pseudo-random bytes (not zeros, so the CRC
     * and the copies work on ordinary data).
     */
    static UnsafeBuffer newPayload(final int length)
    {
        final UnsafeBuffer payload = new UnsafeBuffer(BufferUtil.allocateDirectAligned(Math.max(length, 64), 64));
        final SplittableRandom random = new SplittableRandom(length);
        for (int i = 0; i < payload.capacity(); i++)
        {
            payload.putByte(i, (byte)random.nextInt());
        }
        return payload;
    }
}
