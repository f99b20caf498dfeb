package io.replicore.mailbox;

import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.agrona.checksum.Crc32c;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

import static io.replicore.mailbox.MailboxLayout.*;

/**
 * One service's shared-memory region, mapped: header, control block, replica slots and one Agrona
 * {@link OneToOneRingBuffer} per ordered pair of replicas. See {@link MailboxLayout} for the bytes.
 * <p>
 * The same code maps a file in /dev/shm, a PCI BAR resource file (an ivshmem device in a QEMU guest) and a
 * character device exposing reserved memory. Closing unmaps the region: close only when no writer, reader or
 * flyweight of it is in use.
 */
public final class Mailbox implements AutoCloseable
{
    private final String path;
    private final long address;
    private final long mappedLength;
    private final UnsafeBuffer buffer;
    private final int replicaCount;
    private final int channelCapacity;
    private final long runId;
    private final ControlBlock control;
    private final ReplicaSlot[] slots;
    private final OneToOneRingBuffer[] rings;
    private boolean closed;

    private Mailbox(final String path, final long address, final long mappedLength)
    {
        this.path = path;
        this.address = address;
        this.mappedLength = mappedLength;
        this.buffer = new UnsafeBuffer(address, (int)mappedLength);
        this.replicaCount = buffer.getInt(REPLICA_COUNT_OFFSET);
        this.channelCapacity = buffer.getInt(CHANNEL_CAPACITY_OFFSET);
        this.runId = buffer.getLong(RUN_ID_OFFSET);
        this.control = new ControlBlock(buffer, CONTROL_OFFSET);
        this.slots = new ReplicaSlot[replicaCount];
        for (int i = 0; i < replicaCount; i++)
        {
            slots[i] = new ReplicaSlot(buffer, i);
        }
        final int channelsOffset = channelsOffset(replicaCount);
        final int stride = channelStride(channelCapacity);
        this.rings = new OneToOneRingBuffer[channelCount(replicaCount)];
        for (int i = 0; i < rings.length; i++)
        {
            rings[i] = new OneToOneRingBuffer(new UnsafeBuffer(
                address + channelsOffset + (long)i * stride, channelCapacity + RingBufferDescriptor.TRAILER_LENGTH));
        }
    }

    /**
     * Create a new region, or format a fresh (all-zero) BAR or device. An existing mailbox is replaced only when
     * {@link MailboxContext#reset()} is set and none of its replicas still beats.
     *
     * @throws MailboxException naming the file, what is wrong and the fix.
     */
    public static Mailbox create(final MailboxContext ctx)
    {
        ctx.conclude();
        final String path = PciMailboxLocator.resolve(ctx.path());
        final int replicaCount = ctx.replicaCountOrDefault();
        final int channelCapacity = ctx.channelCapacityOrDefault();
        final long needed = MailboxLayout.totalLength(replicaCount, channelCapacity);
        final Path file = Path.of(path);

        if (!Files.exists(file))
        {
            createFile(file, needed);
        }

        final long available = regionLength(file, ctx, needed);
        if (available >= HEADER_LENGTH)
        {
            final long mapped = Math.min(available, Integer.MAX_VALUE);
            final long address = MemoryMapping.map(path, mapped);
            try
            {
                final UnsafeBuffer header = new UnsafeBuffer(address, HEADER_LENGTH);
                if (!isZero(header, 0, HEADER_LENGTH))
                {
                    refuseToReplace(path, header, address, mapped, ctx);
                }
            }
            finally
            {
                MemoryMapping.unmap(address, mapped);
            }
        }

        if (available < needed)
        {
            if (!Files.isRegularFile(file))
            {
                throw new MailboxException(path, "holds " + available + " bytes but " + replicaCount +
                    " replicas with channels of " + channelCapacity + " bytes need " + needed,
                    "use a larger BAR or device, or a smaller channel capacity");
            }
            setLength(file, needed);
        }

        final long address = MemoryMapping.map(path, needed);
        final UnsafeBuffer region = new UnsafeBuffer(address, (int)needed);
        format(new UnsafeBuffer(address, HEADER_LENGTH), region, replicaCount, channelCapacity, needed);
        return new Mailbox(path, address, needed);
    }

    /**
     * Open an existing region to join it as a replica or to read and command it as an admin. Every field of the
     * header is checked; nothing is re-initialised.
     *
     * @throws MailboxException naming the file, what is wrong and the fix.
     */
    public static Mailbox open(final MailboxContext ctx)
    {
        ctx.conclude();
        final String path = PciMailboxLocator.resolve(ctx.path());
        final Path file = Path.of(path);
        if (!Files.exists(file))
        {
            throw new MailboxException(path, "does not exist",
                "start the service first (replicore run --mailbox " + path + " ...) or check the path");
        }

        long available = regionLength(file, ctx, 0);
        if (available == 0)
        {
            available = probeTotalLength(path);
        }
        if (available < HEADER_LENGTH)
        {
            throw new MailboxException(path, "is truncated: " + available +
                " bytes, less than a mailbox header (" + HEADER_LENGTH + ")", "remove it and start the service again");
        }

        long address = MemoryMapping.map(path, Math.min(available, Integer.MAX_VALUE));
        final long mapped = Math.min(available, Integer.MAX_VALUE);
        try
        {
            final UnsafeBuffer header = new UnsafeBuffer(address, HEADER_LENGTH);
            validateHeader(path, header, available);
            validateExpectations(path, header, ctx);
        }
        catch (final RuntimeException ex)
        {
            MemoryMapping.unmap(address, mapped);
            throw ex;
        }
        final long total = new UnsafeBuffer(address, HEADER_LENGTH).getLong(TOTAL_LENGTH_OFFSET);
        if (total != mapped)
        {
            // A BAR or device larger than the mailbox: keep only the mailbox mapped.
            MemoryMapping.unmap(address, mapped);
            address = MemoryMapping.map(path, total);
        }
        return new Mailbox(path, address, total);
    }

    public String path()
    {
        return path;
    }

    public int replicaCount()
    {
        return replicaCount;
    }

    public int channelCapacity()
    {
        return channelCapacity;
    }

    public long totalLength()
    {
        return mappedLength;
    }

    public long runId()
    {
        return runId;
    }

    public int creatorPid()
    {
        return buffer.getInt(CREATOR_PID_OFFSET);
    }

    public long createdTimeMs()
    {
        return buffer.getLong(CREATED_TIME_OFFSET);
    }

    public ControlBlock control()
    {
        return control;
    }

    public ReplicaSlot slot(final int replicaId)
    {
        return slots[replicaId];
    }

    /**
     * The bare Agrona ring of the channel from {@code from} to {@code to}, for measurement and inspection; the
     * replication log uses {@link #newWriter} and {@link #newReader}.
     */
    public OneToOneRingBuffer ring(final int from, final int to)
    {
        return rings[channelIndex(replicaCount, from, to)];
    }

    /**
     * @return the writer of the channel from {@code from} to {@code to}. Only one may be in use per channel.
     */
    public ChannelWriter newWriter(final int from, final int to)
    {
        return newWriter(from, to, 1);
    }

    /**
     * A writer whose first record carries {@code firstSequence}: a new primary numbers its records by their
     * position in the replicated log, which goes on from where the old primary's ended.
     */
    public ChannelWriter newWriter(final int from, final int to, final long firstSequence)
    {
        if (firstSequence < 1)
        {
            throw new IllegalArgumentException("a channel's sequences start at 1 or later: " + firstSequence);
        }
        return new ChannelWriter(ring(from, to), firstSequence);
    }

    /**
     * @return the reader of the channel from {@code from} to {@code to}. Only one may be in use per channel.
     */
    public ChannelReader newReader(final int from, final int to)
    {
        return new ChannelReader(ring(from, to), 1);
    }

    /**
     * A reader that takes the first record's sequence, whatever it is, and then requires each next one: for a
     * backup that follows a new primary, whose first record may repeat the last one the backup applied.
     */
    public ChannelReader newReaderFromAnySequence(final int from, final int to)
    {
        return new ChannelReader(ring(from, to), ChannelReader.ANY_SEQUENCE);
    }

    /**
     * The whole mapped region, for tools and tests that look at raw bytes.
     */
    public UnsafeBuffer buffer()
    {
        return buffer;
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            MemoryMapping.unmap(address, mappedLength);
        }
    }

    private static void createFile(final Path file, final long length)
    {
        try
        {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        catch (final FileAlreadyExistsException ignore)
        {
            // Another creator won the race: its region is then checked like any existing one.
        }
        catch (final IOException ex)
        {
            throw new MailboxException(file.toString(), "cannot be created: " + ex.getMessage(),
                "check that the directory exists and is writable (tmpfs /dev/shm is the usual place)");
        }
    }

    private static void setLength(final Path file, final long length)
    {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            raf.setLength(length);
        }
        catch (final IOException ex)
        {
            throw new MailboxException(file.toString(), "cannot be sized to " + length + " bytes: " + ex.getMessage(),
                "check the free space of its file system");
        }
    }

    /**
     * @return the size of a regular or BAR file, the configured size of a device, or {@code whenUnknown}.
     */
    private static long regionLength(final Path file, final MailboxContext ctx, final long whenUnknown)
    {
        try
        {
            final BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            if (attributes.isDirectory())
            {
                throw new MailboxException(file.toString(), "is a directory", "give the path of a mailbox file");
            }
            if (attributes.isRegularFile())
            {
                return attributes.size();
            }
            return ctx.regionLength() > 0 ? ctx.regionLength() : whenUnknown;
        }
        catch (final IOException ex)
        {
            throw new MailboxException(file.toString(), "cannot be read: " + ex.getMessage(), null);
        }
    }

    /**
     * A device tells no size: map its first page and take the length its header states.
     */
    private static long probeTotalLength(final String path)
    {
        final long address = MemoryMapping.map(path, PAGE_LENGTH);
        try
        {
            final UnsafeBuffer header = new UnsafeBuffer(address, HEADER_LENGTH);
            validateHeader(path, header, Long.MAX_VALUE);
            return header.getLong(TOTAL_LENGTH_OFFSET);
        }
        finally
        {
            MemoryMapping.unmap(address, PAGE_LENGTH);
        }
    }

    private static void format(
        final UnsafeBuffer header,
        final UnsafeBuffer region,
        final int replicaCount,
        final int channelCapacity,
        final long totalLength)
    {
        header.putLongVolatile(MAGIC_OFFSET, 0);
        region.setMemory(HEADER_LENGTH, region.capacity() - HEADER_LENGTH, (byte)0);
        header.setMemory(LAYOUT_VERSION_OFFSET, HEADER_LENGTH - LAYOUT_VERSION_OFFSET, (byte)0);
        header.putInt(LAYOUT_VERSION_OFFSET, LAYOUT_VERSION);
        header.putInt(HEADER_LENGTH_OFFSET, HEADER_LENGTH);
        header.putLong(TOTAL_LENGTH_OFFSET, totalLength);
        header.putInt(REPLICA_COUNT_OFFSET, replicaCount);
        header.putInt(CHANNEL_CAPACITY_OFFSET, channelCapacity);
        header.putInt(SLOT_LENGTH_OFFSET, SLOT_LENGTH);
        header.putInt(CONTROL_OFFSET_OFFSET, CONTROL_OFFSET);
        header.putInt(SLOTS_OFFSET_OFFSET, SLOTS_OFFSET);
        header.putInt(CHANNELS_OFFSET_OFFSET, channelsOffset(replicaCount));
        header.putInt(CHANNEL_STRIDE_OFFSET, channelStride(channelCapacity));
        header.putInt(CREATOR_PID_OFFSET, (int)ProcessHandle.current().pid());
        header.putLong(RUN_ID_OFFSET, newRunId());
        header.putLong(CREATED_TIME_OFFSET, System.currentTimeMillis());

        new ControlBlock(region, CONTROL_OFFSET).initialise();
        for (int i = 0; i < replicaCount; i++)
        {
            new ReplicaSlot(region, i).initialise();
        }

        header.putInt(HEADER_CHECKSUM_OFFSET, headerChecksum(header));
        // The magic goes last, with release order: whoever sees it sees a complete header.
        header.putLongVolatile(MAGIC_OFFSET, MAGIC);
    }

    private static long newRunId()
    {
        long id;
        do
        {
            id = new SecureRandom().nextLong();
        }
        while (id == 0);
        return id;
    }

    static int headerChecksum(final UnsafeBuffer header)
    {
        return Crc32c.INSTANCE.compute(header.addressOffset(), CHECKSUMMED_OFFSET, CHECKSUMMED_LENGTH);
    }

    private static void validateHeader(final String path, final UnsafeBuffer header, final long available)
    {
        final long magic = header.getLongVolatile(MAGIC_OFFSET);
        if (magic == 0 && isZero(header, 0, HEADER_LENGTH))
        {
            throw new MailboxException(path, "is not formatted (its header is all zeros)",
                "start the service that creates it first (replicore run --mailbox " + path + " ...)");
        }
        if (magic != MAGIC)
        {
            throw new MailboxException(path, "is not a Replicore mailbox (magic 0x" + Long.toHexString(magic) +
                ", expected 0x" + Long.toHexString(MAGIC) + ")", "check the path");
        }
        final int version = header.getInt(LAYOUT_VERSION_OFFSET);
        if (version != LAYOUT_VERSION)
        {
            throw new MailboxException(path, "has layout version " + version + " but this build reads version " +
                LAYOUT_VERSION, "run the same Replicore version on every replica, or recreate the mailbox");
        }
        final int stored = header.getInt(HEADER_CHECKSUM_OFFSET);
        final int computed = headerChecksum(header);
        if (stored != computed)
        {
            throw new MailboxException(path, "has a corrupt header (checksum 0x" + Integer.toHexString(stored) +
                ", computed 0x" + Integer.toHexString(computed) + ")",
                "stop the service and remove the file; a damaged header is never repaired in place");
        }
        final int replicaCount = header.getInt(REPLICA_COUNT_OFFSET);
        final int channelCapacity = header.getInt(CHANNEL_CAPACITY_OFFSET);
        final long total = header.getLong(TOTAL_LENGTH_OFFSET);
        if (replicaCount < 2 || replicaCount > MAX_REPLICAS ||
            header.getInt(HEADER_LENGTH_OFFSET) != HEADER_LENGTH ||
            header.getInt(SLOT_LENGTH_OFFSET) != SLOT_LENGTH ||
            header.getInt(CONTROL_OFFSET_OFFSET) != CONTROL_OFFSET ||
            header.getInt(SLOTS_OFFSET_OFFSET) != SLOTS_OFFSET ||
            header.getInt(CHANNELS_OFFSET_OFFSET) != channelsOffset(replicaCount) ||
            channelCapacity < MIN_CHANNEL_CAPACITY || channelCapacity > MAX_CHANNEL_CAPACITY ||
            header.getInt(CHANNEL_STRIDE_OFFSET) != channelStride(channelCapacity) ||
            total != MailboxLayout.totalLength(replicaCount, channelCapacity))
        {
            throw new MailboxException(path, "has a header whose sizes do not agree with layout version " +
                LAYOUT_VERSION, "remove it; it was not written by this layout");
        }
        if (total > available)
        {
            throw new MailboxException(path, "is truncated: its header says " + total + " bytes but only " +
                available + " are there", "stop the service and remove the file");
        }
    }

    private static void validateExpectations(final String path, final UnsafeBuffer header, final MailboxContext ctx)
    {
        final int replicaCount = header.getInt(REPLICA_COUNT_OFFSET);
        if (ctx.replicaCount() != 0 && ctx.replicaCount() != replicaCount)
        {
            throw new MailboxException(path, "was created for " + replicaCount + " replicas, not " +
                ctx.replicaCount(), "use --replicas " + replicaCount + " or another mailbox");
        }
        final int channelCapacity = header.getInt(CHANNEL_CAPACITY_OFFSET);
        if (ctx.channelCapacity() != 0 && ctx.channelCapacity() != channelCapacity)
        {
            throw new MailboxException(path, "has channels of " + channelCapacity + " bytes, not " +
                ctx.channelCapacity(), "use the same channel capacity as the service that created it");
        }
        final long runId = header.getLong(RUN_ID_OFFSET);
        if (ctx.expectedRunId() != 0 && ctx.expectedRunId() != runId)
        {
            throw new MailboxException(path, "belongs to run " + Long.toHexString(runId) + ", not run " +
                Long.toHexString(ctx.expectedRunId()) + " that this replica was started for",
                "the region was re-created since; start this replica again from the current run");
        }
    }

    /**
     * An existing mailbox (or anything else) is in the way: explain why it stays, unless a stale one may go.
     */
    private static void refuseToReplace(
        final String path, final UnsafeBuffer header, final long address, final long needed, final MailboxContext ctx)
    {
        try
        {
            validateHeader(path, header, needed);
        }
        catch (final MailboxException ex)
        {
            if (ctx.reset() && header.getLongVolatile(MAGIC_OFFSET) == MAGIC)
            {
                return;
            }
            throw new MailboxException(path, "exists and cannot be reused: " + ex.getMessage(),
                header.getLongVolatile(MAGIC_OFFSET) == MAGIC ?
                "remove it (rm " + path + ") or pass --reset to replace it" : "remove it or choose another path");
        }

        // A view on the caller's mapping, not closed here: the caller unmaps it.
        final Mailbox existing = new Mailbox(path, address, needed);
        {
            final List<String> beating = beatingReplicas(existing, ctx.livenessProbeNs());
            if (!beating.isEmpty())
            {
                throw new MailboxException(path, "is in use by a running service (" + String.join(", ", beating) +
                    " beating)", "stop that service first (replicore status --mailbox " + path +
                    ") or choose another path");
            }
            if (!ctx.reset())
            {
                throw new MailboxException(path, "was left by a previous run (run " +
                    Long.toHexString(existing.runId()) + ", created " + Instant.ofEpochMilli(existing.createdTimeMs()) +
                    " by pid " + existing.creatorPid() + "; no replica beat for " +
                    ctx.livenessProbeNs() / 1_000_000 + " ms)",
                    "remove it (rm " + path + ") or pass --reset to replace it");
            }
        }
    }

    private static List<String> beatingReplicas(final Mailbox mailbox, final long probeNs)
    {
        final HeartbeatMonitor monitor = new HeartbeatMonitor(mailbox, System.nanoTime());
        final long deadline = System.nanoTime() + probeNs;
        while (System.nanoTime() < deadline)
        {
            LockSupport.parkNanos(Math.min(probeNs, 10_000_000L));
            monitor.poll(System.nanoTime());
        }
        final long now = System.nanoTime();
        final List<String> beating = new ArrayList<>();
        for (int i = 0; i < mailbox.replicaCount(); i++)
        {
            if (monitor.silenceNs(i, now) < probeNs)
            {
                beating.add("replica " + i + " (pid " + mailbox.slot(i).pid() + ")");
            }
        }
        return beating;
    }

    private static boolean isZero(final UnsafeBuffer buffer, final int offset, final int length)
    {
        for (int i = offset; i < offset + length; i += 8)
        {
            if (buffer.getLong(i) != 0)
            {
                return false;
            }
        }
        return true;
    }
}
