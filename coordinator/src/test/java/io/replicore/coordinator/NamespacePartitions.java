package io.replicore.coordinator;

import io.replicore.coordinator.cli.ReplicoreCli;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replicas that share nothing but the mailbox, the way kernel partitions do, on one test machine: each replica's
 * coordinator and application run in a network namespace of their own (their own TCP stack, sockets, addresses),
 * joined by veth pairs to a bridge in a client namespace. Addresses come from 198.18.0.0/24 (RFC 2544's test range)
 * and exist only inside these namespaces. A partition dies the way a replica kernel does: its link goes down first,
 * so that its sockets say nothing more to the clients, then its processes are killed.
 */
final class NamespacePartitions implements AutoCloseable
{
    static final String SERVICE_ADDRESS = "198.18.0.100";
    private static final String CLIENT_ADDRESS = "198.18.0.2";

    private final String prefix =
        "rc" + ProcessHandle.current().pid() + "-" + UUID.randomUUID().toString().substring(0, 4);
    private final int replicas;
    private final String mailbox = "/dev/shm/replicore-kp-" + UUID.randomUUID();
    private final Path workDir;
    private final List<Process> coordinators = new ArrayList<>();
    private final List<String> coordinatorOptions;

    NamespacePartitions(final int replicas) throws Exception
    {
        this(replicas, List.of());
    }

    /**
     * @param coordinatorOptions more options of every replica's coordinator ({@code --no-ack-gate}).
     */
    NamespacePartitions(final int replicas, final List<String> coordinatorOptions) throws Exception
    {
        this.replicas = replicas;
        this.coordinatorOptions = coordinatorOptions;
        this.workDir = Files.createTempDirectory("replicore-kp");
        try
        {
            ip("netns", "add", client());
            ip("-n", client(), "link", "set", "lo", "up");
            ip("-n", client(), "link", "add", "br0", "type", "bridge");
            ip("-n", client(), "address", "add", CLIENT_ADDRESS + "/24", "dev", "br0");
            ip("-n", client(), "link", "set", "br0", "up");
            for (int id = 0; id < replicas; id++)
            {
                ip("netns", "add", replica(id));
                ip("-n", replica(id), "link", "set", "lo", "up");
                ip("link", "add", "eth0", "netns", replica(id), "type", "veth", "peer", "name", "port" + id,
                    "netns", client());
                ip("-n", client(), "link", "set", "port" + id, "master", "br0");
                ip("-n", client(), "link", "set", "port" + id, "up");
                ip("-n", replica(id), "address", "add", "198.18.0." + (11 + id) + "/24", "dev", "eth0");
                ip("-n", replica(id), "link", "set", "eth0", "up");
            }
            assertEquals(0, ReplicatedRun.cli("init-mailbox", "--mailbox", mailbox, "--replicas",
                String.valueOf(replicas)));
        }
        catch (final Exception | AssertionError ex)
        {
            close();
            throw ex;
        }
    }

    String client()
    {
        return prefix + "-c";
    }

    String replica(final int id)
    {
        return prefix + "-" + id;
    }

    String mailbox()
    {
        return mailbox;
    }

    /**
     * Start {@code command} in the client namespace.
     */
    ProcessBuilder inClient(final String... command)
    {
        final List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", client()));
        full.addAll(List.of(command));
        return new ProcessBuilder(full).redirectErrorStream(true);
    }

    /**
     * Start replica {@code id}'s coordinator in its namespace, as one would in its own kernel.
     */
    void start(final int id, final List<String> program) throws IOException
    {
        final List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", replica(id)));
        command.add(ProcessHandle.current().info().command().orElse("java"));
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(argument -> argument.startsWith("--add-opens")).forEach(command::add);
        command.add("-Dreplicore.launcher=" + System.getProperty("replicore.launcher"));
        command.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
            ReplicoreCli.class.getName(), "replica", "--id", String.valueOf(id), "--mailbox", mailbox,
            "--partition", "kernel", "--service-address", SERVICE_ADDRESS + "/24", "--service-device", "eth0",
            "--heartbeat-timeout", "300", "--cpus", String.valueOf(id % Runtime.getRuntime().availableProcessors()),
            "--log", events(id).toString()));
        command.addAll(coordinatorOptions);
        command.add("--");
        command.addAll(program);
        coordinators.add(new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(workDir.resolve("replica-" + id + ".out").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start());
    }

    /**
     * Start every replica, the primary first, and wait until the client reaches the service on {@code port}.
     */
    void startAll(final List<String> program, final int port) throws Exception
    {
        for (int id = 0; id < replicas; id++)
        {
            start(id, program);
        }
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (inClient("python3", "-c", "import socket; socket.create_connection(('" + SERVICE_ADDRESS + "', " +
            port + "), 1).close()").redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor() != 0)
        {
            assertTrue(System.nanoTime() < deadline, "the service did not come up:\n" + events(0));
            Thread.sleep(100);
        }
    }

    Path events(final int id)
    {
        return workDir.resolve("replica-" + id + ".events");
    }

    String eventsOf(final int id) throws IOException
    {
        return Files.exists(events(id)) ? Files.readString(events(id)) : "(no events)";
    }

    /**
     * Run {@code clients} clients of echo_clients.py for {@code seconds} against the service on {@code port} while
     * replica 0's partition dies {@code killAfterMs} in; every one must get every line back.
     *
     * @return their report.
     */
    String echoClientsAcrossPrimaryDeath(final int port, final int clients, final int seconds,
        final long killAfterMs) throws Exception
    {
        final Process echo = inClient("/usr/bin/python3", EchoServer.resource("echo_clients.py").toString(),
            SERVICE_ADDRESS, String.valueOf(port), String.valueOf(clients), String.valueOf(seconds)).start();
        Thread.sleep(killAfterMs);
        killPartition(0);
        final String report = new String(echo.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(echo.waitFor(60, TimeUnit.SECONDS), "the clients did not finish");
        assertEquals(0, echo.exitValue(), report + eventsOf(1));
        assertTrue(report.startsWith("clients=" + clients + " errors=0"), report);
        return report;
    }

    /**
     * Wait until replica {@code id}'s coordinator has ended (its application exited), at most {@code seconds}.
     *
     * @return its exit status.
     */
    int awaitEnd(final int id, final long seconds) throws InterruptedException
    {
        final Process coordinator = coordinators.get(id);
        assertTrue(coordinator.waitFor(seconds, TimeUnit.SECONDS), "replica " + id + " did not end");
        return coordinator.exitValue();
    }

    /**
     * Replica {@code id}'s partition dies: its link first, then its coordinator and application.
     */
    void killPartition(final int id) throws Exception
    {
        ip("-n", replica(id), "link", "set", "eth0", "down");
        final int appPid;
        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            appPid = box.slot(id).appPid();
        }
        coordinators.get(id).destroyForcibly();
        ProcessHandle.of(appPid).ifPresent(ProcessHandle::destroyForcibly);
    }

    /**
     * Wait until the primary's log is past {@code records}, so that a fault lands in the middle of the load.
     */
    void awaitPrimaryLogPast(final long records) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            while (box.slot(box.control().primaryId()).logSequence() < records)
            {
                assertTrue(System.nanoTime() < deadline, "the primary's log did not reach " + records);
                Thread.sleep(5);
            }
        }
    }

    /**
     * @return the epoch and the primary, as "epoch E primary P".
     */
    String leadership()
    {
        try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
        {
            return "epoch " + box.control().epoch() + " primary " + box.control().primaryId();
        }
    }

    private static void ip(final String... arguments) throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(arguments));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes());
        if (process.waitFor() != 0)
        {
            throw new IOException(String.join(" ", command) + ": " + output);
        }
    }

    @Override
    public void close() throws IOException, InterruptedException
    {
        for (final Process coordinator : coordinators)
        {
            coordinator.descendants().forEach(ProcessHandle::destroyForcibly);
            coordinator.destroyForcibly();
            coordinator.waitFor(5, TimeUnit.SECONDS);
        }
        for (int id = 0; id < replicas; id++)
        {
            new ProcessBuilder("ip", "netns", "del", replica(id)).start().waitFor();
        }
        new ProcessBuilder("ip", "netns", "del", client()).start().waitFor();
        Files.deleteIfExists(Path.of(mailbox));
    }
}
