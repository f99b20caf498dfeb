package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.SocketCalls;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How the primary hands a backup a duplicate of each real socket of its application, so that the socket outlives
 * the primary: one AF_UNIX datagram socket per backup, at {@link #pathOf}, each datagram carrying the
 * application's descriptor number, the process whose number it is, and the socket itself (SCM_RIGHTS). A datagram in flight keeps its descriptor
 * alive in the kernel, so a socket is handed over the moment {@link #send} returns, whether or not the backup has
 * read it yet.
 * <pre>
 *   datagram: application descriptor number (4) | sender's epoch (4) | log position (8)
 *             | owner: the process's id inside the replica (4) | reserved (4)           + SCM_RIGHTS: one fd
 * </pre>
 * The log position is that of the record the primary appends next: the backup takes the socket when it applies
 * that record, not before, so that the numbers the application closes and reuses stay in log order. The epoch
 * tells a hand-over from a replaced primary (for a record it never appended) from its successor's.
 */
public final class SocketShadowChannel implements AutoCloseable
{
    /** As the application's number: the connection of the accept whose record comes at the position. */
    public static final int ACCEPTED = -1;

    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int EAGAIN = 11;
    private static final int MSGHDR_LENGTH = 56;
    private static final int SOCKADDR_UN_LENGTH = 110;
    private static final int CMSG_ONE_FD_LENGTH = 20;
    private static final int CMSG_ONE_FD_SPACE = 24;
    private static final int APP_FD_OFFSET = 0;
    private static final int EPOCH_OFFSET = 4;
    private static final int POSITION_OFFSET = 8;
    private static final int OWNER_OFFSET = 16;
    private static final int PAYLOAD_LENGTH = 24;

    // Scratch layout: payload | iovec | msghdr | sockaddr_un | cmsg
    private static final int PAYLOAD_OFFSET = 0;
    private static final int IOV_OFFSET = PAYLOAD_OFFSET + PAYLOAD_LENGTH;
    private static final int MSG_OFFSET = IOV_OFFSET + 16;
    private static final int NAME_OFFSET = MSG_OFFSET + MSGHDR_LENGTH;
    private static final int CONTROL_OFFSET = NAME_OFFSET + 112;
    private static final int SCRATCH_LENGTH = CONTROL_OFFSET + CMSG_ONE_FD_SPACE;

    private final int fd;
    private final Path boundPath;
    private final Native.Scratch scratch = Native.allocate(SCRATCH_LENGTH);

    private SocketShadowChannel(final int fd, final Path boundPath)
    {
        this.fd = fd;
        this.boundPath = boundPath;
    }

    public static Path pathOf(final long runId, final int replicaId)
    {
        return Path.of("/tmp", "replicore-" + Long.toHexString(runId) + "-" + replicaId + "-io.sock");
    }

    /**
     * A backup's receiving end, bound before the backup registers in its slot, so that a primary that sees the
     * backup live can always reach it.
     */
    public static SocketShadowChannel receiver(final long runId, final int replicaId) throws IOException
    {
        final Path path = pathOf(runId, replicaId);
        Files.deleteIfExists(path);
        final int fd = open();
        final SocketShadowChannel channel = new SocketShadowChannel(fd, path);
        channel.putAddress(path);
        if (SOCKETS.bind(fd, channel.scratch.at(NAME_OFFSET), SOCKADDR_UN_LENGTH) < 0)
        {
            final int errno = Native.lastErrno();
            SOCKETS.close(fd);
            throw new IOException("cannot bind " + path + ": errno " + errno);
        }
        return channel;
    }

    /**
     * The primary's sending end.
     */
    public static SocketShadowChannel sender() throws IOException
    {
        return new SocketShadowChannel(open(), null);
    }

    private static int open() throws IOException
    {
        final int fd = SOCKETS.socket(SocketCalls.AF_UNIX, SocketCalls.SOCK_DGRAM | SocketCalls.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException("cannot make a datagram socket: errno " + Native.lastErrno());
        }
        return fd;
    }

    /**
     * Hand {@code socketFd} to replica {@code toReplica} as descriptor {@code appFd} of process {@code owner}, to
     * be taken when the record at {@code position} of the primary of {@code epoch} is applied.
     *
     * @return 0, or -errno (ECONNREFUSED or ENOENT: that backup is gone).
     */
    public int send(
        final long runId, final int toReplica, final int owner, final int appFd, final int epoch,
        final long position, final int socketFd)
    {
        final UnsafeBuffer buffer = scratch.buffer();
        buffer.setMemory(0, SCRATCH_LENGTH, (byte)0);
        buffer.putInt(PAYLOAD_OFFSET + APP_FD_OFFSET, appFd);
        buffer.putInt(PAYLOAD_OFFSET + OWNER_OFFSET, owner);
        buffer.putInt(PAYLOAD_OFFSET + EPOCH_OFFSET, epoch);
        buffer.putLong(PAYLOAD_OFFSET + POSITION_OFFSET, position);
        putIov();
        putAddress(pathOf(runId, toReplica));
        buffer.putLong(MSG_OFFSET, scratch.address() + NAME_OFFSET);
        buffer.putInt(MSG_OFFSET + 8, SOCKADDR_UN_LENGTH);
        buffer.putLong(MSG_OFFSET + 32, scratch.address() + CONTROL_OFFSET);
        buffer.putLong(MSG_OFFSET + 40, CMSG_ONE_FD_SPACE);
        buffer.putLong(CONTROL_OFFSET, CMSG_ONE_FD_LENGTH);
        buffer.putInt(CONTROL_OFFSET + 8, SocketCalls.SOL_SOCKET);
        buffer.putInt(CONTROL_OFFSET + 12, SocketCalls.SCM_RIGHTS);
        buffer.putInt(CONTROL_OFFSET + 16, socketFd);
        return SOCKETS.sendmsg(fd, scratch.at(MSG_OFFSET), 0) < 0 ? -Native.lastErrno() : 0;
    }

    /**
     * Take the next socket handed over, without waiting.
     *
     * @param appFdAndEpoch where the application's number for it, the sender's epoch and the owner go.
     * @param position where the log position it belongs to goes.
     * @return the socket (close-on-exec), -1 if none is waiting, or -2 - errno on failure.
     */
    public int receive(final int[] appFdAndEpoch, final long[] position)
    {
        final UnsafeBuffer buffer = scratch.buffer();
        buffer.setMemory(0, SCRATCH_LENGTH, (byte)0);
        putIov();
        buffer.putLong(MSG_OFFSET + 32, scratch.address() + CONTROL_OFFSET);
        buffer.putLong(MSG_OFFSET + 40, CMSG_ONE_FD_SPACE);
        final long n = SOCKETS.recvmsg(fd, scratch.at(MSG_OFFSET), MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
        {
            final int errno = Native.lastErrno();
            return errno == EAGAIN ? -1 : -2 - errno;
        }
        if (n != PAYLOAD_LENGTH || buffer.getLong(MSG_OFFSET + 40) < CMSG_ONE_FD_LENGTH ||
            buffer.getInt(CONTROL_OFFSET + 12) != SocketCalls.SCM_RIGHTS)
        {
            return -2;
        }
        appFdAndEpoch[0] = buffer.getInt(PAYLOAD_OFFSET + APP_FD_OFFSET);
        appFdAndEpoch[1] = buffer.getInt(PAYLOAD_OFFSET + EPOCH_OFFSET);
        appFdAndEpoch[2] = buffer.getInt(PAYLOAD_OFFSET + OWNER_OFFSET);
        position[0] = buffer.getLong(PAYLOAD_OFFSET + POSITION_OFFSET);
        return buffer.getInt(CONTROL_OFFSET + 16);
    }

    private void putIov()
    {
        final UnsafeBuffer buffer = scratch.buffer();
        buffer.putLong(IOV_OFFSET, scratch.address() + PAYLOAD_OFFSET);
        buffer.putLong(IOV_OFFSET + 8, PAYLOAD_LENGTH);
        buffer.putLong(MSG_OFFSET + 16, scratch.address() + IOV_OFFSET);
        buffer.putLong(MSG_OFFSET + 24, 1);
    }

    private void putAddress(final Path path)
    {
        final UnsafeBuffer buffer = scratch.buffer();
        final byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        buffer.setMemory(NAME_OFFSET, 112, (byte)0);
        buffer.putShort(NAME_OFFSET, (short)SocketCalls.AF_UNIX);
        buffer.putBytes(NAME_OFFSET + 2, bytes);
    }

    @Override
    public void close() throws IOException
    {
        SOCKETS.close(fd);
        if (boundPath != null)
        {
            Files.deleteIfExists(boundPath);
        }
    }
}
