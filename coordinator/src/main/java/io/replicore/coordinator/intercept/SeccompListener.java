package io.replicore.coordinator.intercept;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.coordinator.natives.SocketCalls;
import io.replicore.coordinator.natives.SeccompIoctl;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The coordinator's end of one application's seccomp listener: receive the next notification into a reused
 * buffer and answer it. No allocation per call.
 */
public final class SeccompListener implements AutoCloseable
{
    /** The notifying thread is gone (killed, or its call interrupted by a signal): nothing to answer. */
    public static final int GONE = -2;
    /** {@link #awaitNotification}: no process of the application is left to notify. */
    public static final int ENDED = -3;
    /** The bytes of one notification, as {@link #save} copies them. */
    public static final int NOTIFICATION_LENGTH = SeccompIoctl.NOTIF_LENGTH;
    private static final int ENOENT = 2;
    private static final int EINTR = 4;

    private static final SeccompIoctl IOCTL = Native.load(SeccompIoctl.class);
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final short POLLIN = 0x1;
    private static final short POLLHUP = 0x10;

    private final int fd;
    private final Native.Scratch notification = Native.allocate(SeccompIoctl.NOTIF_LENGTH);
    private final Native.Scratch response = Native.allocate(SeccompIoctl.RESP_LENGTH);
    private final Native.Scratch addfd = Native.allocate(SeccompIoctl.ADDFD_LENGTH);
    private final Native.Scratch pollFd = Native.allocate(8);
    private final Native.Scratch idValid = Native.allocate(8);
    private final UnsafeBuffer notif = notification.buffer();
    /** Only the listener made from the descriptor closes it; its views do not. */
    private final boolean owner;
    private boolean closed;

    public SeccompListener(final int fd)
    {
        this(fd, true);
    }

    private SeccompListener(final int fd, final boolean owner)
    {
        this.fd = fd;
        this.owner = owner;
    }

    /**
     * @return another listener over the same descriptor with buffers of its own, so that another thread can receive
     * and answer notifications at the same time (the kernel hands each notification to one receiver).
     */
    public SeccompListener view()
    {
        return new SeccompListener(fd, false);
    }

    /**
     * Copy the notification in hand into {@code into} (at least {@link #NOTIFICATION_LENGTH} bytes), to answer it
     * later with {@link #restore}.
     */
    public void save(final byte[] into)
    {
        notif.getBytes(0, into, 0, NOTIFICATION_LENGTH);
    }

    /**
     * Make a notification saved with {@link #save} the one in hand again.
     */
    public void restore(final byte[] from)
    {
        notif.putBytes(0, from, 0, NOTIFICATION_LENGTH);
    }

    /**
     * Ask the kernel to wake the application on the CPU that answers, when the kernel can (6.6 and later).
     *
     * @return true if the kernel took the flag.
     */
    public boolean requestSyncWakeUp()
    {
        // The kernel takes the flags by value.
        return IOCTL.ioctl(fd, SeccompIoctl.NOTIF_SET_FLAGS, SeccompIoctl.USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
    }

    /**
     * Wait up to {@code timeoutMs} for a notification and receive it.
     *
     * @return 0 with one in hand; {@link #GONE} if none came in time (or its thread went away before it could be
     * read); {@link #ENDED} once no process of the application is left; or -errno.
     */
    public int awaitNotification(final int timeoutMs)
    {
        final int revents = pollEvents(timeoutMs);
        if ((revents & POLLIN) != 0)
        {
            return receive();
        }
        return (revents & POLLHUP) != 0 ? ENDED : GONE;
    }

    /**
     * @return true while the notification in hand can still be answered: its thread is stopped in the call (a
     * signal it takes, or its end, withdraws the notification).
     */
    public boolean isCurrent()
    {
        idValid.buffer().putLong(0, id());
        return IOCTL.ioctl(fd, SeccompIoctl.NOTIF_ID_VALID, idValid.pointer()) == 0;
    }

    /**
     * @return true if a notification waits to be received.
     */
    public boolean hasPending()
    {
        return (pollEvents(0) & POLLIN) != 0;
    }

    private int pollEvents(final int timeoutMs)
    {
        final UnsafeBuffer poll = pollFd.buffer();
        poll.putInt(0, fd);
        poll.putShort(4, POLLIN);
        poll.putShort(6, (short)0);
        return SOCKETS.poll(pollFd.pointer(), 1, timeoutMs) > 0 ? poll.getShort(6) : 0;
    }

    /**
     * Block until the next notification.
     *
     * @return 0, or {@link #GONE} if the notifying thread went away before it could be read, or -errno.
     */
    public int receive()
    {
        notif.setMemory(0, SeccompIoctl.NOTIF_LENGTH, (byte)0);
        if (IOCTL.ioctl(fd, SeccompIoctl.NOTIF_RECV, notification.pointer()) == 0)
        {
            return 0;
        }
        final int errno = Native.lastErrno();
        return errno == ENOENT || errno == EINTR ? GONE : -errno;
    }

    public long id()
    {
        return notif.getLong(SeccompIoctl.NOTIF_ID_OFFSET);
    }

    /**
     * @return the notifying thread's id, in the coordinator's pid namespace.
     */
    public int tid()
    {
        return notif.getInt(SeccompIoctl.NOTIF_PID_OFFSET);
    }

    public int nr()
    {
        return notif.getInt(SeccompIoctl.DATA_NR_OFFSET);
    }

    public long arg(final int index)
    {
        return notif.getLong(SeccompIoctl.DATA_ARGS_OFFSET + index * 8);
    }

    /**
     * Copy the six raw arguments into {@code args}.
     */
    public void args(final long[] args)
    {
        for (int i = 0; i < 6; i++)
        {
            args[i] = arg(i);
        }
    }

    public int fd()
    {
        return fd;
    }

    /**
     * Let the call run in the application as if it had not been intercepted.
     */
    public int continueCall()
    {
        return send(0, 0, SeccompIoctl.USER_NOTIF_FLAG_CONTINUE);
    }

    /**
     * Complete the call without running it: {@code value} if it is not negative, else the error {@code -value}.
     */
    public int answer(final long value)
    {
        return value < 0 ? send(0, (int)value, 0) : send(value, 0, 0);
    }

    /**
     * Install {@code sourceFd} (of this process) in the application as {@code targetFd}, or at the lowest free
     * number if {@code targetFd} is negative (as open does). With {@code complete}, the call also returns that
     * number; without, the call is still to be answered.
     *
     * @return the number installed, or {@link #GONE}, or -errno.
     */
    public int installDescriptor(
        final int sourceFd, final int targetFd, final boolean closeOnExec, final boolean complete)
    {
        final UnsafeBuffer buffer = addfd.buffer();
        buffer.putLong(0, id());
        buffer.putInt(8, (targetFd >= 0 ? SeccompIoctl.ADDFD_FLAG_SETFD : 0) |
            (complete ? SeccompIoctl.ADDFD_FLAG_SEND : 0));
        buffer.putInt(12, sourceFd);
        buffer.putInt(16, Math.max(targetFd, 0));
        buffer.putInt(20, closeOnExec ? 0x80000 : 0);
        final int installed = IOCTL.ioctl(fd, SeccompIoctl.NOTIF_ADDFD, addfd.pointer());
        return installed >= 0 ? installed : errorOrGone();
    }

    private int send(final long value, final int error, final int flags)
    {
        final UnsafeBuffer buffer = response.buffer();
        buffer.putLong(SeccompIoctl.RESP_ID_OFFSET, id());
        buffer.putLong(SeccompIoctl.RESP_VAL_OFFSET, value);
        buffer.putInt(SeccompIoctl.RESP_ERROR_OFFSET, error);
        buffer.putInt(SeccompIoctl.RESP_FLAGS_OFFSET, flags);
        return IOCTL.ioctl(fd, SeccompIoctl.NOTIF_SEND, response.pointer()) == 0 ? 0 : errorOrGone();
    }

    private static int errorOrGone()
    {
        final int errno = Native.lastErrno();
        return errno == ENOENT ? GONE : -errno;
    }

    @Override
    public void close()
    {
        if (owner && !closed)
        {
            closed = true;
            PROCESS.close(fd);
        }
    }
}
