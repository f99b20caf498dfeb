package io.replicore.coordinator.logicaltcp;

import io.replicore.coordinator.natives.GateCalls;
import io.replicore.coordinator.natives.Native;
import jnr.ffi.Pointer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;

/**
 * The consumer's side of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF), mapped into this process, as the kernel lays
 * it out (kernel/bpf/ringbuf.c): the consumer position on a page of its own, which the consumer writes; then, read
 * only, the producer position on a page of its own and the data area, mapped twice in a row so that a record that
 * wraps reads as one piece.
 * <pre>
 *   mapping 1 (read-write, offset 0):        0 Consumer Position (8)
 *   mapping 2 (read-only, offset PAGE):      0 Producer Position (8)
 *                                         PAGE data, SIZE bytes, then the same SIZE bytes again
 *   a record at data + (position & (SIZE - 1)):
 *     0 Length (4): bit 31 BUSY (being written), bit 30 DISCARD, the rest the length | 4 Page Offset (4)
 *     8 the record's bytes, the whole padded to 8
 * </pre>
 * Positions grow without bound. A record may be read once its length shows no BUSY bit (read with acquire
 * semantics after the producer position); the consumer position is published with release semantics, after which
 * the kernel may reuse the space. One consumer thread.
 */
final class BpfRingBuffer implements AutoCloseable
{
    /** x86-64's page: the replicas' filter allows no other architecture. */
    static final int PAGE = 4096;
    static final int RECORD_HEADER_LENGTH = 8;
    private static final int BUSY_BIT = 1 << 31;
    private static final int DISCARD_BIT = 1 << 30;
    private static final GateCalls CALLS = Native.load(GateCalls.class);

    private final int fd;
    private final int size;
    private final Pointer consumerPage;
    private final Pointer producerPages;
    private final UnsafeBuffer consumer;
    private final UnsafeBuffer producer;
    private final UnsafeBuffer data;
    private final Native.Scratch pollfd = Native.allocate(8);

    /**
     * Handles one record; its bytes are valid only during the call.
     */
    @FunctionalInterface
    interface RecordHandler
    {
        void onRecord(UnsafeBuffer buffer, int offset, int length);
    }

    /**
     * @param fd the ring buffer map, which this object closes.
     * @param size its data size (the map's max_entries), a power of two and a multiple of {@link #PAGE}.
     */
    BpfRingBuffer(final int fd, final int size) throws IOException
    {
        this.fd = fd;
        this.size = size;
        consumerPage = map(PAGE, GateCalls.PROT_READ | GateCalls.PROT_WRITE, 0);
        final Pointer pages;
        try
        {
            pages = map(PAGE + 2L * size, GateCalls.PROT_READ, PAGE);
        }
        catch (final IOException ex)
        {
            CALLS.munmap(consumerPage, PAGE);
            throw ex;
        }
        producerPages = pages;
        consumer = new UnsafeBuffer(consumerPage.address(), PAGE);
        producer = new UnsafeBuffer(producerPages.address(), PAGE);
        data = new UnsafeBuffer(producerPages.address() + PAGE, 2 * size);
    }

    private Pointer map(final long length, final int prot, final long offset) throws IOException
    {
        final Pointer mapped = CALLS.mmap(null, length, prot, GateCalls.MAP_SHARED, fd, offset);
        if (mapped == null || mapped.address() == -1L)
        {
            throw new IOException("cannot map the gate's ring buffer: errno " + Native.lastErrno());
        }
        return mapped;
    }

    /**
     * Hand every committed record to {@code handler} and give their space back.
     *
     * @return how many records were handled.
     */
    int drain(final RecordHandler handler)
    {
        long position = consumer.getLongVolatile(0);
        final long end = producer.getLongVolatile(0);
        int handled = 0;
        while (position < end)
        {
            final int at = (int)(position & (size - 1));
            final int header = data.getIntVolatile(at);
            if ((header & BUSY_BIT) != 0)
            {
                break;
            }
            final int length = header & ~(BUSY_BIT | DISCARD_BIT);
            if ((header & DISCARD_BIT) == 0)
            {
                handler.onRecord(data, at + RECORD_HEADER_LENGTH, length);
                handled++;
            }
            position += (RECORD_HEADER_LENGTH + length + 7) & ~7L;
            consumer.putLongOrdered(0, position);
        }
        return handled;
    }

    /**
     * Wait up to {@code timeoutMs} for a record (the kernel wakes a poller when one is committed).
     */
    void await(final int timeoutMs)
    {
        final UnsafeBuffer entry = pollfd.buffer();
        entry.putInt(0, fd);
        entry.putShort(4, (short)GateCalls.POLLIN);
        entry.putShort(6, (short)0);
        CALLS.poll(pollfd.pointer(), 1, timeoutMs);
    }

    @Override
    public void close()
    {
        CALLS.munmap(producerPages, PAGE + 2L * size);
        CALLS.munmap(consumerPage, PAGE);
        CALLS.close(fd);
    }
}
