package io.replicore.coordinator.intercept;

import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.SocketCalls;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Classifies the application's descriptors on the primary, from a duplicate of each (fstat, fcntl) and, for a
 * regular file, its path in /proc. Nothing is cached: the application may close and reuse a number at any time
 * without asking.
 */
public final class DescriptorClassifier
{
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFSOCK = 0140000;
    private static final int SO_DOMAIN = 39;
    /** An unnamed UNIX socket's address is its family alone. */
    private static final int UNNAMED_ADDRESS_LENGTH = 2;
    private static final int SOCKADDR_MAX = 128;
    private static final int O_ACCMODE = 3;
    /** struct stat on x86_64. */
    private static final int STAT_DEV_OFFSET = 0;
    private static final int STAT_INO_OFFSET = 8;
    private static final int STAT_MODE_OFFSET = 24;
    private static final int STAT_LENGTH = 144;
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);

    private final Path stateDir;
    private final Path stateCopy;
    private final long procDev;
    private final long sysDev;
    private final long[][] inheritedStdio;
    private final Native.Scratch stat = Native.allocate(STAT_LENGTH);
    /** An int and its length for getsockopt; a socket address and its length for getsockname and getpeername. */
    private final Native.Scratch value = Native.allocate(8);
    private final Native.Scratch address = Native.allocate(SOCKADDR_MAX + 8);

    /**
     * @param stateDir the application's state directory as it sees it, or null.
     * @param stateCopy this replica's private copy of it (the bind source), or null.
     * @param appPid the application, whose descriptors 0-2 as inherited are outside input and output even when
     * they are regular files.
     */
    public DescriptorClassifier(final Path stateDir, final Path stateCopy, final int appPid) throws IOException
    {
        this.stateDir = stateDir;
        this.stateCopy = stateCopy;
        this.procDev = (Long)Files.getAttribute(Path.of("/proc/self"), "unix:dev");
        this.sysDev = (Long)Files.getAttribute(Path.of("/sys/kernel"), "unix:dev");
        this.inheritedStdio = new long[3][];
        for (int fd = 0; fd < 3; fd++)
        {
            final Map<String, Object> attributes = attributes(appPid, fd);
            inheritedStdio[fd] = attributes == null ? null :
                new long[]{(Long)attributes.get("dev"), (Long)attributes.get("ino")};
        }
    }

    /**
     * @param dup this process's duplicate of the application's {@code fd}: one fstat tells a socket or pipe, the
     * common case, without reading /proc.
     */
    public DescriptorKind classify(final int tid, final int fd, final int dup)
    {
        final UnsafeBuffer st = stat.buffer();
        if (HOST.fstat(dup, stat.pointer()) < 0)
        {
            return DescriptorKind.EXTERNAL;
        }
        final int type = st.getInt(STAT_MODE_OFFSET) & S_IFMT;
        if (type == S_IFSOCK)
        {
            return isUnnamedPair(dup) ? DescriptorKind.INTERNAL_SOCKET : DescriptorKind.EXTERNAL;
        }
        if (type != S_IFREG)
        {
            return DescriptorKind.EXTERNAL;
        }
        final long dev = st.getLong(STAT_DEV_OFFSET);
        final long ino = st.getLong(STAT_INO_OFFSET);
        if (dev == procDev || dev == sysDev)
        {
            return DescriptorKind.EXTERNAL;
        }
        for (final long[] stdio : inheritedStdio)
        {
            if (stdio != null && stdio[0] == dev && stdio[1] == ino)
            {
                return DescriptorKind.EXTERNAL;
            }
        }
        final Path target = target(tid, fd);
        if (target != null && isPrivate(target))
        {
            return DescriptorKind.PRIVATE_FILE;
        }
        final int flags = HOST.fcntl(dup, DescriptorFlags.F_GETFL, 0);
        return flags < 0 || (flags & O_ACCMODE) != 0 ? DescriptorKind.EXTERNAL : DescriptorKind.SHARED_READ_ONLY_FILE;
    }

    /**
     * @return true if {@code socket} is a connected UNIX socket with no name at either end: only socketpair makes
     * one, so both ends are the replica's own (a socket connected to a path has its peer's name).
     */
    public boolean isUnnamedPair(final int socket)
    {
        final UnsafeBuffer v = value.buffer();
        v.putInt(4, 4);
        if (SOCKETS.getsockopt(socket, SocketCalls.SOL_SOCKET, SO_DOMAIN, value.pointer(), value.at(4)) < 0 ||
            v.getInt(0) != SocketCalls.AF_UNIX)
        {
            return false;
        }
        address.buffer().putInt(SOCKADDR_MAX, SOCKADDR_MAX);
        if (HOST.getsockname(socket, address.pointer(), address.at(SOCKADDR_MAX)) < 0 ||
            address.buffer().getInt(SOCKADDR_MAX) > UNNAMED_ADDRESS_LENGTH)
        {
            return false;
        }
        address.buffer().putInt(SOCKADDR_MAX, SOCKADDR_MAX);
        return HOST.getpeername(socket, address.pointer(), address.at(SOCKADDR_MAX)) == 0 &&
            address.buffer().getInt(SOCKADDR_MAX) <= UNNAMED_ADDRESS_LENGTH;
    }

    /**
     * @return true if {@code path} (absolute, as the application names it) lies in the private state directory.
     */
    public boolean isPrivate(final Path path)
    {
        final Path normal = path.normalize();
        return (stateDir != null && normal.startsWith(stateDir)) || (stateCopy != null && normal.startsWith(stateCopy));
    }

    private static Map<String, Object> attributes(final int tid, final int fd)
    {
        try
        {
            return Files.readAttributes(Path.of("/proc/" + tid + "/fd/" + fd), "unix:mode,dev,ino");
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            return null;
        }
    }

    private static Path target(final int tid, final int fd)
    {
        try
        {
            return Files.readSymbolicLink(Path.of("/proc/" + tid + "/fd/" + fd));
        }
        catch (final IOException ex)
        {
            return null;
        }
    }
}
