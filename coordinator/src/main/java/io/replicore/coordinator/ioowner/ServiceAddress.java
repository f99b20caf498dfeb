package io.replicore.coordinator.ioowner;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The service's address in kernel partitions: the one address clients reach, which only the primary's kernel
 * answers for. A new primary puts it on its network device and announces it with gratuitous ARP, so that the
 * clients and the bridge send to this kernel from then on, before it rebuilds the connections; a primary that
 * hands over on purpose lets it go first. It uses iproute2's {@code ip} and iputils' {@code arping}, which a
 * takeover runs once: the netlink and raw-socket code they stand for is not on any hot path.
 */
public final class ServiceAddress
{
    private static final Pattern IPV4_CIDR =
        Pattern.compile("((25[0-5]|2[0-4]\\d|1?\\d?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1?\\d?\\d)/(3[0-2]|[12]?\\d)");
    private static final long COMMAND_TIMEOUT_S = 10;
    /** Gratuitous ARPs sent, one a second: the first at once, the others for a switch or client that missed it. */
    private static final int ANNOUNCEMENTS = 3;

    private final String cidr;
    private final String device;
    private final Consumer<String> events;

    public ServiceAddress(final String cidr, final String device, final Consumer<String> events)
    {
        this.cidr = cidr;
        this.device = device;
        this.events = events;
    }

    /**
     * @return true if {@code text} is an IPv4 address with a prefix length.
     */
    public static boolean isCidr(final String text)
    {
        return text != null && IPV4_CIDR.matcher(text).matches();
    }

    public String address()
    {
        return cidr.substring(0, cidr.indexOf('/'));
    }

    /**
     * Hold the address on the device (nothing changes if it is there already) and announce it.
     *
     * @return how long it took, in nanoseconds, until the first announcement was sent.
     */
    public long claim() throws IOException
    {
        final long startNs = System.nanoTime();
        run(List.of("ip", "address", "replace", cidr, "dev", device));
        // arping waits a second between announcements: it goes on alone, and its first one leaves at once.
        final Process arping = new ProcessBuilder("arping", "-q", "-U", "-c", String.valueOf(ANNOUNCEMENTS),
            "-I", device, address()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        arping.onExit().thenAccept(done ->
        {
            if (done.exitValue() != 0)
            {
                events.accept("arping for " + address() + " on " + device + " exited with " + done.exitValue());
            }
        });
        return System.nanoTime() - startNs;
    }

    /**
     * Let the address go, so that only the next primary answers for it.
     */
    public void release() throws IOException
    {
        run(List.of("ip", "address", "del", cidr, "dev", device));
    }

    private void run(final List<String> command) throws IOException
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            if (!process.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish in " + COMMAND_TIMEOUT_S + " s");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException(String.join(" ", command) + " was interrupted");
        }
        final String output = new String(process.getInputStream().readAllBytes()).trim();
        if (process.exitValue() != 0)
        {
            throw new IOException(String.join(" ", command) + " failed (exit " + process.exitValue() + "): " + output);
        }
    }
}
