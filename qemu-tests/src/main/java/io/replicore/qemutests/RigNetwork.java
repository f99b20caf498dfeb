package io.replicore.qemutests;

import java.util.ArrayList;
import java.util.List;

/**
 * The rig's network, in namespaces the rig creates and deletes, so the test range 198.18.0.0/24 (RFC 2544) never
 * touches the host's own network:
 * <pre>
 *   namespace RUN-net:    br0 --+-- tap0 (QEMU of replica 0: 198.18.0.11 in the guest)
 *                               +-- tap1 (QEMU of replica 1: 198.18.0.12)  ...
 *                               +-- veth0 ==== eth0 in namespace RUN-client: 198.18.0.2 (curl, ab, ...)
 * </pre>
 * QEMU runs inside RUN-net ({@code ip netns exec}) to open its tap. The service's virtual IP,
 * {@link #VIRTUAL_IP}, belongs to whichever replica is primary (the coordinator takes it over); the rig only
 * reserves it.
 */
public final class RigNetwork implements AutoCloseable
{
    public static final String PREFIX = "198.18.0.";
    public static final int PREFIX_LENGTH = 24;
    public static final String CLIENT_IP = PREFIX + "2";
    /** The service's address, answered only by the primary. */
    public static final String VIRTUAL_IP = PREFIX + "100";
    public static final String BRIDGE = "br0";

    private static final long IP_TIMEOUT_MS = 10_000;

    private final String netNs;
    private final String clientNs;
    private final int replicaCount;
    private final List<String> created = new ArrayList<>();

    private RigNetwork(final RigContext ctx)
    {
        this.netNs = ctx.netNamespace();
        this.clientNs = ctx.clientNamespace();
        this.replicaCount = ctx.replicaCount();
    }

    /** The guest address of replica {@code id}: 198.18.0.11, .12, ... */
    public static String replicaIp(final int id)
    {
        return PREFIX + (11 + id);
    }

    /** A fixed MAC per replica (locally administered QEMU range), so ARP caches in tests stay meaningful. */
    public static String replicaMac(final int id)
    {
        return String.format("52:54:00:12:00:%02x", 0x11 + id);
    }

    public static String tap(final int id)
    {
        return "tap" + id;
    }

    /**
     * Create both namespaces, the bridge, one tap per replica and the client's veth pair. On failure whatever was
     * made is removed again.
     */
    public static RigNetwork create(final RigContext ctx)
    {
        final RigNetwork network = new RigNetwork(ctx);
        try
        {
            network.build();
            return network;
        }
        catch (final RuntimeException ex)
        {
            network.close();
            throw ex;
        }
    }

    private void build()
    {
        for (final String ns : List.of(netNs, clientNs))
        {
            if (Exec.run(IP_TIMEOUT_MS, "ip", "netns", "add", ns).orThrow().ok())
            {
                created.add(ns);
            }
        }
        ip("-n", netNs, "link", "set", "lo", "up");
        ip("-n", netNs, "link", "add", BRIDGE, "type", "bridge");
        ip("-n", netNs, "link", "set", BRIDGE, "up");
        for (int id = 0; id < replicaCount; id++)
        {
            ip("-n", netNs, "tuntap", "add", "dev", tap(id), "mode", "tap");
            ip("-n", netNs, "link", "set", tap(id), "master", BRIDGE);
            ip("-n", netNs, "link", "set", tap(id), "up");
        }
        ip("-n", netNs, "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", clientNs);
        ip("-n", netNs, "link", "set", "veth0", "master", BRIDGE);
        ip("-n", netNs, "link", "set", "veth0", "up");
        ip("-n", clientNs, "link", "set", "lo", "up");
        ip("-n", clientNs, "addr", "add", CLIENT_IP + "/" + PREFIX_LENGTH, "dev", "eth0");
        ip("-n", clientNs, "link", "set", "eth0", "up");
    }

    private static void ip(final String... args)
    {
        final List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Exec.run(IP_TIMEOUT_MS, command).orThrow();
    }

    public String netNamespace()
    {
        return netNs;
    }

    public String clientNamespace()
    {
        return clientNs;
    }

    /** @return {@code command} prefixed so that it runs in the client namespace. */
    public List<String> inClient(final String... command)
    {
        final List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", clientNs));
        full.addAll(List.of(command));
        return full;
    }

    /** @return {@code command} prefixed so that it runs in the namespace of the bridge and taps. */
    public List<String> inNet(final List<String> command)
    {
        final List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netNs));
        full.addAll(command);
        return full;
    }

    /** Run a short command in the client namespace and wait for it. */
    public Exec.Result runInClient(final long timeoutMs, final String... command)
    {
        return Exec.run(timeoutMs, inClient(command));
    }

    /** Delete the namespaces; their bridge, taps and veth pair go with them. */
    @Override
    public void close()
    {
        for (final String ns : created)
        {
            Exec.run(IP_TIMEOUT_MS, "ip", "netns", "del", ns);
        }
        created.clear();
    }
}
