package io.replicore.coordinator.intercept;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.SocketCalls;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The coordinator's side of the launcher's control protocol (coordinator/src/main/c/launch.h): accept the
 * launcher's connection, read HELLO, send the seccomp filter, receive the listener descriptor by SCM_RIGHTS.
 */
public final class LauncherHandshake implements AutoCloseable
{
    static final int HELLO_MAGIC = 0x434e4c52;
    static final int HELLO_VERSION = 1;
    static final int FILTER_MAGIC = 0x544c4652;
    static final int LISTENER_MAGIC = 0x4e54534c;

    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final int SOCKADDR_UN_LENGTH = 110;
    private static final int POLLIN = 1;
    private static final int MSGHDR_LENGTH = 56;
    private static final int CMSG_SPACE_ONE_FD = 24;
    private static final int SOL_SOCKET = 1;
    private static final int SO_PEERCRED = 17;
    /** struct ucred: pid, uid, gid. */
    private static final int UCRED_LENGTH = 12;

    private final Path path;
    private final int listenFd;
    private final Native.Scratch scratch = Native.allocate(64 * 1024);
    private int connectionFd = -1;
    private int peerPid = -1;

    /**
     * Listen on {@code path}, a Unix socket the launcher will connect to.
     */
    public LauncherHandshake(final Path path) throws IOException
    {
        this.path = path;
        Files.deleteIfExists(path);
        final byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length >= SOCKADDR_UN_LENGTH - 2)
        {
            throw new IOException("control socket path too long for AF_UNIX: " + path);
        }
        listenFd = SOCKETS.socket(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_CLOEXEC, 0);
        if (listenFd < 0)
        {
            throw failure("socket");
        }
        final UnsafeBuffer buffer = scratch.buffer();
        buffer.setMemory(0, SOCKADDR_UN_LENGTH, (byte)0);
        buffer.putShort(0, (short)SocketCalls.AF_UNIX);
        buffer.putBytes(2, name);
        if (SOCKETS.bind(listenFd, scratch.pointer(), 2 + name.length + 1) != 0)
        {
            throw failure("bind " + path);
        }
        if (SOCKETS.listen(listenFd, 1) != 0)
        {
            throw failure("listen " + path);
        }
    }

    /**
     * Run the handshake with the launcher started as {@code launcher}.
     *
     * @return the seccomp listener descriptor, now owned by the caller.
     * @throws IOException if the launcher exits or misbehaves first, with what it said.
     */
    public int handshake(final Process launcher, final BpfProgram filter, final long timeoutMs) throws IOException
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        awaitReadable(listenFd, launcher, deadline);
        connectionFd = SOCKETS.accept4(listenFd, null, null, SocketCalls.SOCK_CLOEXEC);
        if (connectionFd < 0)
        {
            throw failure("accept on " + path);
        }
        peerPid = readPeerPid();

        final UnsafeBuffer buffer = scratch.buffer();
        receive(12, launcher, deadline, false);
        if (buffer.getInt(0) != HELLO_MAGIC || buffer.getInt(4) != HELLO_VERSION)
        {
            throw new IOException("launcher spoke another protocol: magic 0x" + Integer.toHexString(buffer.getInt(0)) +
                " version " + buffer.getInt(4));
        }

        buffer.putInt(0, FILTER_MAGIC);
        buffer.putInt(4, filter.instructionCount());
        filter.copyTo(buffer, 8);
        sendAll(8 + filter.length());

        final int listener = receive(8, launcher, deadline, true);
        if (buffer.getInt(0) != LISTENER_MAGIC)
        {
            throw new IOException("launcher sent 0x" + Integer.toHexString(buffer.getInt(0)) + " for its listener");
        }
        final int status = buffer.getInt(4);
        if (status != 0 || listener < 0)
        {
            throw new IOException("launcher could not install the seccomp filter: errno " + -status);
        }
        return listener;
    }

    /**
     * @return the host pid of the process that connected: the program's, which the launcher starts inside a pid
     * namespace of its own, so it is neither the launcher's pid nor the one the program sees.
     */
    public int programPid()
    {
        return peerPid;
    }

    private int readPeerPid() throws IOException
    {
        final UnsafeBuffer buffer = scratch.buffer();
        buffer.putInt(UCRED_LENGTH, UCRED_LENGTH);
        if (SOCKETS.getsockopt(connectionFd, SOL_SOCKET, SO_PEERCRED, scratch.pointer(),
            Native.pointer(scratch.address() + UCRED_LENGTH)) != 0)
        {
            throw failure("SO_PEERCRED on " + path);
        }
        return buffer.getInt(0);
    }

    private void awaitReadable(final int fd, final Process launcher, final long deadline) throws IOException
    {
        final UnsafeBuffer buffer = scratch.buffer();
        while (true)
        {
            buffer.putInt(0, fd);
            buffer.putShort(4, (short)POLLIN);
            buffer.putShort(6, (short)0);
            final int ready = SOCKETS.poll(scratch.pointer(), 1, 50);
            if (ready > 0)
            {
                return;
            }
            if (!launcher.isAlive())
            {
                throw new IOException("launcher exited with status " + launcher.exitValue() + " before the handshake");
            }
            if (System.nanoTime() > deadline)
            {
                throw new IOException("launcher did not complete the handshake in time");
            }
        }
    }

    /**
     * Receive exactly {@code length} bytes into the scratch buffer's start.
     *
     * @return the descriptor that came with them, or -1.
     */
    private int receive(final int length, final Process launcher, final long deadline, final boolean expectFd)
        throws IOException
    {
        final int dataOffset = 0;
        final int iovOffset = 32 * 1024;
        final int msgOffset = iovOffset + 16;
        final int controlOffset = msgOffset + MSGHDR_LENGTH + 8;
        final UnsafeBuffer buffer = scratch.buffer();
        int received = 0;
        int fd = -1;
        while (received < length)
        {
            awaitReadable(connectionFd, launcher, deadline);
            buffer.putLong(iovOffset, scratch.address() + dataOffset + received);
            buffer.putLong(iovOffset + 8, length - received);
            buffer.setMemory(msgOffset, MSGHDR_LENGTH, (byte)0);
            buffer.setMemory(controlOffset, CMSG_SPACE_ONE_FD, (byte)0);
            buffer.putLong(msgOffset + 16, scratch.address() + iovOffset);
            buffer.putLong(msgOffset + 24, 1);
            if (expectFd)
            {
                buffer.putLong(msgOffset + 32, scratch.address() + controlOffset);
                buffer.putLong(msgOffset + 40, CMSG_SPACE_ONE_FD);
            }
            final long n = SOCKETS.recvmsg(connectionFd, scratch.at(msgOffset), 0x40000000 /* MSG_CMSG_CLOEXEC */);
            if (n < 0)
            {
                throw failure("recvmsg from launcher");
            }
            if (n == 0)
            {
                throw new IOException("launcher closed the control socket (exit status " +
                    (launcher.isAlive() ? "not yet known" : launcher.exitValue()) + ")");
            }
            if (expectFd && fd < 0 && buffer.getLong(msgOffset + 40) >= 20 &&
                buffer.getInt(controlOffset + 8) == SocketCalls.SOL_SOCKET &&
                buffer.getInt(controlOffset + 12) == SocketCalls.SCM_RIGHTS)
            {
                fd = buffer.getInt(controlOffset + 16);
            }
            received += (int)n;
        }
        return fd;
    }

    private void sendAll(final int length) throws IOException
    {
        int sent = 0;
        while (sent < length)
        {
            final long n = SOCKETS.send(connectionFd, scratch.at(sent), length - sent, 0x4000 /* MSG_NOSIGNAL */);
            if (n < 0)
            {
                throw failure("send to launcher");
            }
            sent += (int)n;
        }
    }

    private static IOException failure(final String what)
    {
        final int errno = Native.lastErrno();
        return new IOException(what + " failed: errno " + errno);
    }

    @Override
    public void close() throws IOException
    {
        if (connectionFd >= 0)
        {
            SOCKETS.close(connectionFd);
            connectionFd = -1;
        }
        SOCKETS.close(listenFd);
        Files.deleteIfExists(path);
    }
}
