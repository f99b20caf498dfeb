package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.RingCalls;
import jnr.ffi.Pointer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Where the primary's accepts happen: an io_uring whose descriptor every backup holds, borrowed with pidfd_getfd
 * (the primary publishes its number in its mailbox slot; the kernel will not pass an io_uring over a UNIX socket).
 * An accept puts the new connection in a slot of the ring's fixed-file table, not in the primary's descriptor
 * table; only then is it installed there (IORING_OP_FIXED_FD_INSTALL), handed to the backups, and its slot freed.
 * A primary that dies in between leaves the connection in the slot of a ring its backups keep alive, and the new
 * primary takes it out with the same install, submitted on the ring it {@link #adopt adopts}. With plain accept4
 * the connection would exist only in the dying process's table, and the kernel would reset it.
 * <pre>
 *   io_uring_params (120 bytes): sq_entries 0 (4) | cq_entries 4 (4) | ... | sq_off 40 (40) | cq_off 80 (40)
 *     sq_off: head 0 | tail 4 | ring_mask 8 | ring_entries 12 | flags 16 | dropped 20 | array 24
 *     cq_off: head 0 | tail 4 | ring_mask 8 | ring_entries 12 | overflow 16 | cqes 20
 *   sqe (64 bytes): opcode 0 (1) | flags 1 (1) | ioprio 2 (2) | fd 4 (4) | addr2 8 (8) | addr 16 (8) | len 24 (4)
 *                   | op flags 28 (4) | user_data 32 (8) | buf_index 40 (2) | personality 42 (2)
 *                   | file_index 44 (4) | addr3 48 (8) | pad 56 (8)
 *   cqe (16 bytes): user_data 0 (8) | res 8 (4) | flags 12 (4)
 * </pre>
 * Needs Linux 6.8 (IORING_OP_FIXED_FD_INSTALL) with io_uring enabled; {@link #create} says why not otherwise, and
 * accepts go back to accept4 with its window.
 */
public final class AcceptRing implements AutoCloseable
{
    /** Slots of the fixed-file table: one is in use at a time (an accept, until its hand-over). */
    static final int SLOTS = 8;

    private static final RingCalls RING = Native.load(RingCalls.class);
    private static final int ENTRIES = 4;

    private static final int PARAMS_LENGTH = 120;
    private static final int SQ_OFF = 40;
    private static final int CQ_OFF = 80;
    private static final int RING_HEAD_OFFSET = 0;
    private static final int RING_TAIL_OFFSET = 4;
    private static final int RING_MASK_OFFSET = 8;
    private static final int SQ_ARRAY_OFFSET = 24;
    private static final int CQ_CQES_OFFSET = 20;

    private static final int SQE_LENGTH = 64;
    private static final int SQE_OPCODE_OFFSET = 0;
    private static final int SQE_FLAGS_OFFSET = 1;
    private static final int SQE_FD_OFFSET = 4;
    private static final int SQE_ADDR2_OFFSET = 8;
    private static final int SQE_ADDR_OFFSET = 16;
    private static final int SQE_OP_FLAGS_OFFSET = 28;
    private static final int SQE_FILE_INDEX_OFFSET = 44;
    private static final int CQE_LENGTH = 16;
    private static final int CQE_RES_OFFSET = 8;
    private static final int RSRC_REGISTER_LENGTH = 32;

    private static final int OP_ACCEPT = 13;
    private static final int OP_CLOSE = 19;
    private static final int OP_FIXED_FD_INSTALL = 54;
    private static final int IOSQE_FIXED_FILE = 1;
    private static final int FILE_INDEX_ALLOC = ~0;
    private static final int ENTER_GETEVENTS = 1;
    private static final int REGISTER_FILES2 = 13;
    private static final int RSRC_REGISTER_SPARSE = 1;
    private static final long OFF_SQ_RING = 0;
    private static final long OFF_CQ_RING = 0x8000000L;
    private static final long OFF_SQES = 0x10000000L;
    private static final int PROT_READ_WRITE = 3;
    private static final int MAP_SHARED_POPULATE = 0x1 | 0x8000;
    private static final int EINTR = 4;
    private static final int EBADF = 9;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int EAGAIN = 11;
    private static final int F_GETFL = 3;
    private static final int O_NONBLOCK = 04000;
    private static final short POLLIN = 0x1;

    private final int fd;
    private final Mapping sqRing;
    private final Mapping cqRing;
    private final Mapping sqes;
    // Where each field lies in the mappings, as io_uring_setup told (sq_off and cq_off of the params).
    private final int sqHead;
    private final int sqTail;
    private final int sqMask;
    private final int sqArray;
    private final int cqHead;
    private final int cqTail;
    private final int cqMask;
    private final int cqes;
    private final Native.Scratch pollFd = Native.allocate(8);
    private int acceptedSlot = -1;

    private AcceptRing(final int fd, final UnsafeBuffer params) throws IllegalStateException
    {
        this.fd = fd;
        final int sqEntries = params.getInt(0);
        final int cqEntries = params.getInt(4);
        sqHead = params.getInt(SQ_OFF + RING_HEAD_OFFSET);
        sqTail = params.getInt(SQ_OFF + RING_TAIL_OFFSET);
        sqMask = params.getInt(SQ_OFF + RING_MASK_OFFSET);
        sqArray = params.getInt(SQ_OFF + SQ_ARRAY_OFFSET);
        cqHead = params.getInt(CQ_OFF + RING_HEAD_OFFSET);
        cqTail = params.getInt(CQ_OFF + RING_TAIL_OFFSET);
        cqMask = params.getInt(CQ_OFF + RING_MASK_OFFSET);
        cqes = params.getInt(CQ_OFF + CQ_CQES_OFFSET);
        sqRing = Mapping.of(fd, sqArray + sqEntries * 4L, OFF_SQ_RING);
        cqRing = Mapping.of(fd, cqes + (long)cqEntries * CQE_LENGTH, OFF_CQ_RING);
        sqes = Mapping.of(fd, (long)sqEntries * SQE_LENGTH, OFF_SQES);
    }

    /**
     * A new ring with an empty table of {@link #SLOTS} slots.
     *
     * @param why where the reason goes when this kernel cannot have one.
     * @return the ring, or null.
     */
    public static AcceptRing create(final String[] why)
    {
        final Native.Scratch params = Native.allocate(PARAMS_LENGTH);
        final int fd = (int)RING.syscall(RingCalls.SYS_IO_URING_SETUP, ENTRIES, params.pointer());
        if (fd < 0)
        {
            why[0] = "io_uring_setup: errno " + Native.lastErrno();
            return null;
        }
        final AcceptRing ring;
        try
        {
            ring = new AcceptRing(fd, params.buffer());
        }
        catch (final IllegalStateException ex)
        {
            RING.close(fd);
            why[0] = ex.getMessage();
            return null;
        }
        final Native.Scratch register = Native.allocate(RSRC_REGISTER_LENGTH);
        register.buffer().putInt(0, SLOTS);
        register.buffer().putInt(4, RSRC_REGISTER_SPARSE);
        if (RING.syscall(RingCalls.SYS_IO_URING_REGISTER, fd, REGISTER_FILES2, register.pointer(), RSRC_REGISTER_LENGTH) < 0)
        {
            why[0] = "registering its file table: errno " + Native.lastErrno();
            ring.close();
            return null;
        }
        // An empty slot answers EBADF where the install is known; a kernel before 6.8 answers EINVAL.
        final int probe = ring.take(0);
        if (probe != -EBADF)
        {
            why[0] = "IORING_OP_FIXED_FD_INSTALL is not supported (" + probe + "; it needs Linux 6.8)";
            if (probe >= 0)
            {
                RING.close(probe);
            }
            ring.close();
            return null;
        }
        return ring;
    }

    /**
     * Make and drop one ring, so that the native bindings (a third of a second to generate) are ready before a
     * client waits on the first accept, or on a takeover.
     */
    public static void warmUp()
    {
        final AcceptRing ring = create(new String[1]);
        if (ring != null)
        {
            ring.close();
        }
    }

    /**
     * Map a ring another process made (a borrowed descriptor): its offsets are those of any ring this kernel
     * makes with the same number of entries, so a scratch ring tells them.
     *
     * @return the ring, owning {@code fd}, or null if it cannot be mapped.
     */
    public static AcceptRing adopt(final int fd)
    {
        final Native.Scratch params = Native.allocate(PARAMS_LENGTH);
        final int scratch = (int)RING.syscall(RingCalls.SYS_IO_URING_SETUP, ENTRIES, params.pointer());
        if (scratch < 0)
        {
            return null;
        }
        RING.close(scratch);
        try
        {
            return new AcceptRing(fd, params.buffer());
        }
        catch (final IllegalStateException ex)
        {
            return null;
        }
    }

    public int fd()
    {
        return fd;
    }

    /**
     * Accept a connection on {@code listenFd} into a slot, then install it in this process's table.
     *
     * @param flags accept4's flags for the new descriptor.
     * @return the connection's descriptor here, or -errno (EAGAIN on a non-blocking socket with none waiting).
     */
    public int accept(final int listenFd, final int flags, final Pointer address, final Pointer lengthAddress)
    {
        // The ring's accept waits for a connection even on a non-blocking socket: answer EAGAIN as accept4 would.
        if (isNonBlocking(listenFd) && !hasPendingConnection(listenFd))
        {
            return -EAGAIN;
        }
        // Close-on-exec is the install's (the kernel refuses SOCK_CLOEXEC for a slot).
        final int slot = submit(OP_ACCEPT, 0, listenFd, address == null ? 0 : address.address(),
            lengthAddress == null ? 0 : lengthAddress.address(), flags & ~SOCK_CLOEXEC, FILE_INDEX_ALLOC);
        if (slot < 0)
        {
            return slot;
        }
        final int connection = take(slot);
        if (connection < 0)
        {
            free(slot);
            return connection;
        }
        acceptedSlot = slot;
        return connection;
    }

    private static boolean isNonBlocking(final int fd)
    {
        final int flags = RING.fcntl(fd, F_GETFL, 0);
        return flags >= 0 && (flags & O_NONBLOCK) != 0;
    }

    private boolean hasPendingConnection(final int listenFd)
    {
        final UnsafeBuffer poll = pollFd.buffer();
        poll.putInt(0, listenFd);
        poll.putShort(4, POLLIN);
        poll.putShort(6, (short)0);
        return RING.poll(pollFd.pointer(), 1, 0) > 0 && (poll.getShort(6) & POLLIN) != 0;
    }

    /**
     * The connection of the last accept is held by the backups now: free its slot.
     */
    public void release()
    {
        if (acceptedSlot >= 0)
        {
            free(acceptedSlot);
            acceptedSlot = -1;
        }
    }

    /**
     * Install the connection in {@code slot} in this process's table (close-on-exec); the slot keeps it too.
     *
     * @return the descriptor, or -errno (EBADF: the slot is empty).
     */
    public int take(final int slot)
    {
        return submit(OP_FIXED_FD_INSTALL, IOSQE_FIXED_FILE, slot, 0, 0, 0, 0);
    }

    private void free(final int slot)
    {
        submit(OP_CLOSE, 0, 0, 0, 0, 0, slot + 1);
    }

    /**
     * Submit one request and wait for its completion. Only one process submits to a ring at a time: its primary,
     * or after it died, the backup that adopted it.
     *
     * @return the completion's result.
     */
    private int submit(
        final int opcode, final int sqeFlags, final int target, final long address, final long address2,
        final int opFlags, final int fileIndex)
    {
        final UnsafeBuffer sq = sqRing.buffer;
        final int tail = sq.getIntVolatile(sqTail);
        final int index = tail & sq.getInt(sqMask);
        final UnsafeBuffer sqe = sqes.buffer;
        final int base = index * SQE_LENGTH;
        sqe.setMemory(base, SQE_LENGTH, (byte)0);
        sqe.putByte(base + SQE_OPCODE_OFFSET, (byte)opcode);
        sqe.putByte(base + SQE_FLAGS_OFFSET, (byte)sqeFlags);
        sqe.putInt(base + SQE_FD_OFFSET, target);
        sqe.putLong(base + SQE_ADDR2_OFFSET, address2);
        sqe.putLong(base + SQE_ADDR_OFFSET, address);
        sqe.putInt(base + SQE_OP_FLAGS_OFFSET, opFlags);
        sqe.putInt(base + SQE_FILE_INDEX_OFFSET, fileIndex);
        sq.putInt(sqArray + index * 4, index);
        sq.putIntOrdered(sqTail, tail + 1);
        int toSubmit = 1;
        while (true)
        {
            final long entered = RING.syscall(RingCalls.SYS_IO_URING_ENTER, fd, toSubmit, 1, ENTER_GETEVENTS, null, 0);
            if (entered < 0 && Native.lastErrno() != EINTR)
            {
                return -Native.lastErrno();
            }
            toSubmit = sq.getIntVolatile(sqHead) == tail + 1 ? 0 : 1;
            final UnsafeBuffer cq = cqRing.buffer;
            final int head = cq.getInt(cqHead);
            if (cq.getIntVolatile(cqTail) != head)
            {
                final int result = cq.getInt(cqes + (head & cq.getInt(cqMask)) * CQE_LENGTH + CQE_RES_OFFSET);
                cq.putIntOrdered(cqHead, head + 1);
                return result;
            }
        }
    }

    @Override
    public void close()
    {
        sqes.unmap();
        cqRing.unmap();
        sqRing.unmap();
        RING.close(fd);
    }

    /**
     * One mmap of the ring, seen as an Agrona buffer.
     */
    private record Mapping(Pointer pointer, long length, UnsafeBuffer buffer)
    {
        static Mapping of(final int fd, final long length, final long offset)
        {
            final long address = RING.mmap(null, length, PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, offset);
            if (address == -1)
            {
                throw new IllegalStateException("cannot map the ring: errno " + Native.lastErrno());
            }
            return new Mapping(Native.pointer(address), length, new UnsafeBuffer(address, (int)length));
        }

        void unmap()
        {
            RING.munmap(pointer, length);
        }
    }
}
