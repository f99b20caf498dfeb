package io.replicore.coordinator.ioowner;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.TcpRepairCalls;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;

/**
 * How the application made one of its sockets, as a backup of a kernel partition replays it: the options it set,
 * the address it bound, whether it listens. The backup's own socket at that number was made by the application
 * but never bound (the calls were answered from the log); a new primary makes a socket the same way in its own
 * kernel, so that it listens on the service's address, and puts it in the application's place.
 */
final class SocketRecipe
{
    private static final TcpRepairCalls CALLS = Native.load(TcpRepairCalls.class);

    private final List<Option> options = new ArrayList<>();
    private byte[] address;
    private int backlog = -1;

    private record Option(int level, int name, byte[] value)
    {
    }

    void option(final int level, final int name, final byte[] value)
    {
        options.removeIf(option -> option.level == level && option.name == name);
        options.add(new Option(level, name, value));
    }

    void bind(final byte[] address)
    {
        this.address = address;
    }

    void listen(final int backlog)
    {
        this.backlog = backlog;
    }

    boolean isListening()
    {
        return backlog >= 0 && address != null && address.length >= 2;
    }

    /**
     * "198.18.0.100:80", or what the address is, for the event log.
     */
    String describe()
    {
        if (address == null || address.length < 8)
        {
            return "an unbound socket";
        }
        final int port = ((address[2] & 0xFF) << 8) | (address[3] & 0xFF);
        return family() == 2 ? (address[4] & 0xFF) + "." + (address[5] & 0xFF) + "." + (address[6] & 0xFF) + "." +
            (address[7] & 0xFF) + ":" + port : "an IPv6 socket on port " + port;
    }

    private int family()
    {
        return (address[0] & 0xFF) | ((address[1] & 0xFF) << 8);
    }

    /**
     * Make the listening socket: the application's options, its address (which this kernel may not hold yet:
     * IP_FREEBIND), its backlog.
     *
     * @return the socket (blocking, close-on-exec), or -1 with the reason in {@code why[0]}.
     */
    int build(final String[] why)
    {
        final int socket = CALLS.socket(family(), TcpRepairCalls.SOCK_STREAM | TcpRepairCalls.SOCK_CLOEXEC, 0);
        if (socket < 0)
        {
            why[0] = "socket: errno " + Native.lastErrno();
            return -1;
        }
        final String failure = configure(socket);
        if (failure != null)
        {
            why[0] = failure;
            CALLS.close(socket);
            return -1;
        }
        return socket;
    }

    private String configure(final int socket)
    {
        final int largest = options.stream().mapToInt(option -> option.value.length).max().orElse(0);
        final Native.Scratch scratch = Native.allocate(Math.max(Math.max(largest, address.length), 4));
        final UnsafeBuffer buffer = scratch.buffer();
        for (final Option option : options)
        {
            buffer.putBytes(0, option.value);
            if (CALLS.setsockopt(socket, option.level, option.name, scratch.pointer(), option.value.length) < 0)
            {
                return "setsockopt(" + option.level + ", " + option.name + "): errno " + Native.lastErrno();
            }
        }
        buffer.putInt(0, 1);
        if (CALLS.setsockopt(socket, TcpRepairCalls.IPPROTO_IP, TcpRepairCalls.IP_FREEBIND, scratch.pointer(), 4) < 0)
        {
            return "IP_FREEBIND: errno " + Native.lastErrno();
        }
        buffer.putBytes(0, address);
        if (CALLS.bind(socket, scratch.pointer(), address.length) < 0)
        {
            return "bind to " + describe() + ": errno " + Native.lastErrno();
        }
        if (CALLS.listen(socket, backlog) < 0)
        {
            return "listen: errno " + Native.lastErrno();
        }
        return null;
    }
}
