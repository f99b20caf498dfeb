package io.replicore.qemutests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The shell line a guest's job uses to run Java: the host's own JRE and class path, which the guest sees at the
 * same paths through the 9p root. Under TCG the JIT's code runs several times slower than on the host, so the
 * guest JVM is kept small: serial GC, C1 only, a small heap.
 */
public final class GuestJava
{
    /** Agrona needs these, as bin/replicore and the root pom's surefire configuration pass them. */
    public static final List<String> OPENS = List.of(
        "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/java.util.zip=ALL-UNNAMED");
    public static final List<String> GUEST_FLAGS =
        List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx192m", "-Xss512k");
    /** A rig guest's coordinator: serial GC and C1 only, as {@link #GUEST_FLAGS}, with room for a service's log. */
    public static final List<String> COORDINATOR_FLAGS = List.of("-Xmx256m", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1");
    /**
     * The environment, and nothing else, that a job gives a JVM whose coordinator runs a replica of a program in a
     * kernel partition (the replica kernel's java-main does too): a program's initial stack holds its environment, so
     * replicas whose environments differ pass their calls different stack addresses (a divergence at the program's
     * first newfstatat).
     */
    public static final String FIXED_ENVIRONMENT = "env -i HOME=/ PATH=/usr/bin:/bin";
    /** The coordinator's command line entry point ({@code replicore}). */
    public static final String COORDINATOR_MAIN = "io.replicore.coordinator.cli.ReplicoreCli";

    private GuestJava()
    {
    }

    /** The java binary of this JVM. */
    public static String javaBinary()
    {
        return ProcessHandle.current().info().command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /** This JVM's class path, existing entries only (the guest's view of the host's files is the same). */
    public static String classPath()
    {
        return String.join(":", classPathEntries());
    }

    /** The entries of {@link #classPath()}: directories, jars, and {@code DIR/*} for every jar of DIR. */
    public static List<String> classPathEntries()
    {
        return Arrays.stream(System.getProperty("java.class.path").split(":"))
            .filter(entry -> !entry.isEmpty() && (entry.endsWith("*") || Files.exists(Path.of(entry))))
            .collect(Collectors.toList());
    }

    /** A shell command line running {@code mainClass} with {@code args} on this JVM's class path. */
    public static String command(final String mainClass, final String... args)
    {
        final StringBuilder line = new StringBuilder(launcher(javaBinary(), GUEST_FLAGS, classPath()))
            .append(' ').append(mainClass);
        for (final String arg : args)
        {
            line.append(' ').append(quote(arg));
        }
        return line.toString();
    }

    /**
     * The start of a shell command line running {@code java} with Agrona's opens, {@code flags} and
     * {@code classPath}; the main class and its arguments follow it.
     */
    public static String launcher(final String java, final List<String> flags, final String classPath)
    {
        final StringBuilder line = new StringBuilder(quote(java));
        for (final String flag : OPENS)
        {
            line.append(' ').append(flag);
        }
        for (final String flag : flags)
        {
            line.append(' ').append(flag);
        }
        return line.append(" -cp ").append(quote(classPath)).toString();
    }

    /**
     * A guest job that runs one replica's coordinator on the ivshmem mailbox: it enables the device and starts
     * {@code ReplicoreCli replica} from the coordinator's build ({@code coordinatorTarget}: its jar, lib/ and
     * native launcher, seen at the host's paths through the 9p root). The host formatted the mailbox as
     * {@code replicore run} does, so replica 0 starts as primary. The event log goes to /rig/events.log; the peers
     * are in other kernels ({@link #replicaArgs}).
     */
    public static String coordinatorJob(final Path coordinatorTarget, final int id, final long heartbeatTimeoutMs,
        final String extraArgs, final String program)
    {
        return "dev=$(grep -l 0x1110 /sys/bus/pci/devices/*/device); dev=${dev%/device}\n" +
            "echo 1 > $dev/enable\n" + NETWORK_DUMPER +
            "exec " + coordinatorCommand(coordinatorTarget) + " " +
            String.join(" ", replicaArgs(id, "$dev/resource2", "/rig/events.log", heartbeatTimeoutMs)) +
            (extraArgs.isBlank() ? "" : " " + extraArgs) + " -- " + program + "\n";
    }

    /**
     * The shell line that runs the coordinator's command line ({@code replicore}) from its build with this JVM's
     * java; its subcommand and arguments follow it.
     */
    public static String coordinatorCommand(final Path coordinatorTarget)
    {
        return launcher(javaBinary(), COORDINATOR_FLAGS, String.join(":", coordinatorClassPath(coordinatorTarget))) +
            " " + COORDINATOR_MAIN;
    }

    /**
     * {@code replicore replica}'s arguments up to the program: replica {@code id} on {@code mailbox}, its event log
     * in {@code log}, its peers in other kernels, watched by heartbeat only.
     */
    public static List<String> replicaArgs(final int id, final String mailbox, final String log,
        final long heartbeatTimeoutMs)
    {
        return List.of("replica", "--id", String.valueOf(id), "--mailbox", mailbox, "--log", log,
            "--heartbeat-timeout", String.valueOf(heartbeatTimeoutMs), "--partition", "kernel");
    }

    /**
     * The coordinator's class path from its build ({@code coordinatorTarget}): its jar, beside which its native
     * launcher is found (native/replicore-launch), and its libraries.
     */
    public static List<String> coordinatorClassPath(final Path coordinatorTarget)
    {
        final Path target = coordinatorTarget.toAbsolutePath().normalize();
        try (Stream<Path> files = Files.list(target))
        {
            final String jar = files.map(Path::toString)
                .filter(f -> f.matches(".*/replicore-coordinator-[^/]*\\.jar") && !f.endsWith("-tests.jar"))
                .findFirst().orElseThrow(() -> new IllegalStateException("no coordinator jar in " + target +
                    ": build it (bin/setup)"));
            return List.of(jar, target.resolve("lib") + "/*");
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("no coordinator build in " + target + " (" + ex.getMessage() +
                "): build it (bin/setup)", ex);
        }
    }

    /**
     * A background loop of a guest job: when the host puts {@link ReplicaVm#DUMP_REQUEST} in the share, the kernel's
     * TCP connections (ss), its TCP counters that tell why segments were dropped (/proc/net/snmp and netstat) and
     * the tc filters go to {@link ReplicaVm#DUMP} there, for a failure's report.
     */
    private static final String NETWORK_DUMPER = "( while :; do if [ -e /rig/" + ReplicaVm.DUMP_REQUEST + " ]; then " +
        "rm -f /rig/" + ReplicaVm.DUMP_REQUEST + "; { ss -tnie; grep -E '^Tcp' /proc/net/snmp /proc/net/netstat; " +
        "tc -s filter show dev eth0 egress; tc -s filter show dev eth0 ingress; } > /rig/" +
        ReplicaVm.DUMP + ".tmp 2>&1; mv /rig/" + ReplicaVm.DUMP + ".tmp /rig/" + ReplicaVm.DUMP + "; fi; sleep 0.5; " +
        "done ) &\n";

    /** Single-quote for /bin/sh. */
    public static String quote(final String s)
    {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
