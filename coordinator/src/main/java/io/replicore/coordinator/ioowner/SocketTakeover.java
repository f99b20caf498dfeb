package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.intercept.Syscalls;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.replay.ReplicaStop;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A new primary takes the application's sockets over, during the first call it handles:
 * <ol>
 *   <li>notes the application's epoll registrations of its stand-in sockets (/proc/PID/fdinfo of each epoll set);</li>
 *   <li>puts each real socket, handed over earlier by the old primary, at its number in place of the stand-in
 *   (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD);</li>
 *   <li>lines each connection's kernel state up with the log (logical TCP): bytes the log delivered to the
 *   application but still queued in the kernel, because the old primary died between logging and consuming them,
 *   are consumed now; bytes the kernel took from the old primary beyond what the log says the application wrote
 *   are reported, so the new primary does not send them twice;</li>
 *   <li>registers the real sockets in the epoll sets again ({@code replicore-rearm}: a registration is keyed by
 *   the number in the table of the process that makes it, so a helper borrows each socket at that number).</li>
 * </ol>
 */
public final class SocketTakeover
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_INFO = 11;
    private static final int TCP_INFO_LENGTH = 232;
    private static final int TCPI_STATE_OFFSET = 0;
    private static final int TCP_ESTABLISHED = 1;
    private static final int TCPI_BYTES_ACKED_OFFSET = 120;
    private static final int TCPI_BYTES_RECEIVED_OFFSET = 128;
    private static final long SIOCINQ = 0x541B;
    private static final long SIOCOUTQ = 0x5411;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int O_CLOEXEC = 02000000;
    private static final long REARM_TIMEOUT_MS = 10_000;

    private final Native.Scratch info = Native.allocate(TCP_INFO_LENGTH + 8);
    private final Native.Scratch drain = Native.allocate(64 * 1024);
    private final List<String> notes = new ArrayList<>();
    private BitSet takenOver = new BitSet();
    private final List<Integer> acceptedUnseen = new ArrayList<>();

    /**
     * @param position the last record of the old primary's log that was applied.
     * @param pendingNr the call the application is making, which the new primary answers next.
     * @return per application descriptor, the bytes the old primary sent that the application will write again.
     */
    public long[] takeOver(final SeccompListener listener, final int appPid, final BackupSockets sockets,
        final long position, final int pendingNr, final Path rearm) throws ReplicaStop
    {
        for (final int[] rest : sockets.takeRest(position))
        {
            if (pendingNr == Syscalls.ACCEPT || pendingNr == Syscalls.ACCEPT4)
            {
                // Accepted by the old primary as it died: the application's accept, made again, gets it.
                acceptedUnseen.add(rest[1]);
                notes.add("a connection the old primary had just accepted goes to the accept made again");
            }
            else if (rest[0] == SocketShadowChannel.ACCEPTED)
            {
                HOST.close(rest[1]);
            }
            else
            {
                sockets.hold(rest[0], rest[1]);
            }
        }
        if (sockets.failure() != null)
        {
            throw new ReplicaStop(-1, "cannot take the sockets over: " + sockets.failure());
        }
        final BitSet held = sockets.held();
        takenOver = held;
        final long[] alreadySent = new long[Math.max(held.length(), 1)];
        if (held.isEmpty())
        {
            return alreadySent;
        }
        final List<String> registrations = epollRegistrations(appPid, held);
        for (int fd = held.nextSetBit(0); fd >= 0; fd = held.nextSetBit(fd + 1))
        {
            final int installed = listener.installDescriptor(sockets.shadow(fd), fd, isCloseOnExec(appPid, fd), false);
            if (installed != fd && installed != SeccompListener.GONE)
            {
                throw new ReplicaStop(-1, "cannot take socket " + fd + " over: errno " + -installed);
            }
            alreadySent[fd] = lineUp(fd, sockets);
        }
        rearm(rearm, appPid, registrations);
        sockets.releaseAll();
        return alreadySent;
    }

    /**
     * @return the application descriptors whose real sockets were put in place.
     */
    public BitSet takenOver()
    {
        return takenOver;
    }

    /**
     * @return connections the old primary accepted for the call the application is making again.
     */
    public List<Integer> acceptedUnseen()
    {
        return acceptedUnseen;
    }

    /**
     * @return what was done beyond the plain hand-over, for the event log.
     */
    public List<String> notes()
    {
        return notes;
    }

    /**
     * @return bytes of the application's output the kernel already took for this connection beyond the log's.
     */
    private long lineUp(final int fd, final BackupSockets sockets) throws ReplicaStop
    {
        final int socket = sockets.shadow(fd);
        final UnsafeBuffer buffer = info.buffer();
        buffer.putInt(TCP_INFO_LENGTH, TCP_INFO_LENGTH);
        if (HOST.getsockopt(socket, IPPROTO_TCP, TCP_INFO, info.pointer(), info.at(TCP_INFO_LENGTH)) < 0 ||
            buffer.getByte(TCPI_STATE_OFFSET) != TCP_ESTABLISHED)
        {
            return 0; // listening, closing, or not TCP: no positions to line up
        }
        final long received = buffer.getLong(TCPI_BYTES_RECEIVED_OFFSET);
        final long acked = buffer.getLong(TCPI_BYTES_ACKED_OFFSET);
        final long inQueue = queued(socket, SIOCINQ);
        final long outQueue = queued(socket, SIOCOUTQ);
        final long consumed = received - inQueue;
        final long delivered = sockets.deliveredTo(fd);
        if (delivered > consumed)
        {
            discard(socket, delivered - consumed);
            notes.add("connection " + fd + ": consumed " + (delivered - consumed) + " bytes the log had delivered");
        }
        else if (delivered < consumed)
        {
            throw new ReplicaStop(-1, "connection " + fd + ": the kernel gave " + consumed + " bytes to the old " +
                "primary but its log delivered " + delivered + "; the rest is lost");
        }
        final long sent = acked + outQueue;
        final long skip = Math.max(0, sent - sockets.writtenBy(fd));
        if (skip > 0)
        {
            notes.add("connection " + fd + ": " + skip + " bytes were sent before the old primary logged them");
        }
        return skip;
    }

    private long queued(final int socket, final long request) throws ReplicaStop
    {
        if (HOST.ioctl(socket, request, info.pointer()) < 0)
        {
            throw new ReplicaStop(-1, "cannot read a connection's queue: errno " + Native.lastErrno());
        }
        return info.buffer().getInt(0) & 0xFFFF_FFFFL;
    }

    private void discard(final int socket, final long bytes) throws ReplicaStop
    {
        long left = bytes;
        while (left > 0)
        {
            final long n = HOST.recvfrom(socket, drain.pointer(), Math.min(left, drain.capacity()), MSG_DONTWAIT,
                null, null);
            if (n <= 0)
            {
                throw new ReplicaStop(-1, "cannot consume " + left + " logged bytes left in a connection's queue");
            }
            left -= n;
        }
    }

    private static boolean isCloseOnExec(final int pid, final int fd)
    {
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc/" + pid + "/fdinfo/" + fd)))
            {
                if (line.startsWith("flags:"))
                {
                    return (Integer.parseInt(line.substring(6).trim(), 8) & O_CLOEXEC) != 0;
                }
            }
        }
        catch (final IOException | NumberFormatException ex)
        {
            return true;
        }
        return true;
    }

    /**
     * @return the helper's arguments for each epoll set of the application that registers a held socket:
     * "EPFD FD EVENTS DATA ..." per set.
     */
    private static List<String> epollRegistrations(final int pid, final BitSet held) throws ReplicaStop
    {
        final List<String> sets = new ArrayList<>();
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd")))
        {
            for (final Path link : fds.toList())
            {
                final String target;
                try
                {
                    target = Files.readSymbolicLink(link).toString();
                }
                catch (final IOException ex)
                {
                    continue;
                }
                if (!"anon_inode:[eventpoll]".equals(target))
                {
                    continue;
                }
                final String epfd = link.getFileName().toString();
                final StringBuilder args = new StringBuilder(epfd);
                for (final String line : Files.readAllLines(Path.of("/proc/" + pid + "/fdinfo/" + epfd)))
                {
                    // tfd:        5 events:       19 data:                5  pos:0 ino:... sdev:...
                    final String[] words = line.trim().split("\\s+");
                    if (words.length >= 6 && "tfd:".equals(words[0]) && held.get(Integer.parseInt(words[1])))
                    {
                        args.append(' ').append(words[1]).append(' ').append(words[3]).append(' ').append(words[5]);
                    }
                }
                if (args.indexOf(" ") > 0)
                {
                    sets.add(args.toString());
                }
            }
        }
        catch (final IOException | NumberFormatException ex)
        {
            throw new ReplicaStop(-1, "cannot read the application's epoll sets: " + ex.getMessage());
        }
        return sets;
    }

    private void rearm(final Path helper, final int appPid, final List<String> registrations) throws ReplicaStop
    {
        for (final String set : registrations)
        {
            final List<String> command = new ArrayList<>(List.of(helper.toString(), String.valueOf(appPid)));
            command.addAll(List.of(set.split(" ")));
            run(command);
        }
    }

    private void run(final List<String> command) throws ReplicaStop
    {
        try
        {
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(REARM_TIMEOUT_MS, TimeUnit.MILLISECONDS) || process.exitValue() != 0)
            {
                process.destroyForcibly();
                throw new ReplicaStop(-1, "cannot register the taken-over sockets in the application's epoll set: " +
                    output.trim());
            }
            notes.add("epoll registrations made again: " + String.join(" ", command.subList(2, command.size())));
        }
        catch (final IOException ex)
        {
            throw new ReplicaStop(-1, "cannot run " + command.get(0) + ": " + ex.getMessage());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new ReplicaStop(-1, "interrupted while registering the taken-over sockets");
        }
    }
}
