package io.replicore.coordinator;

import io.replicore.coordinator.cli.ReplicoreCli;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
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
 * Runs {@code replicore run} as its own process, the way a user does, and keeps what it printed and how each
 * replica ended.
 */
final class ReplicatedRun
{
    final int exitCode;
    final String stdout;
    final String stderr;
    final Path workDir;
    final int replicas;

    private ReplicatedRun(final int exitCode, final String stdout, final String stderr, final Path workDir,
        final int replicas)
    {
        this.exitCode = exitCode;
        this.stdout = stdout;
        this.stderr = stderr;
        this.workDir = workDir;
        this.replicas = replicas;
    }

    /**
     * @return a TCP port nothing listens on now, for a replicated server.
     */
    static int freePort() throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0))
        {
            return socket.getLocalPort();
        }
    }

    static Path testProgram(final String name)
    {
        return Path.of(System.getProperty("replicore.testPrograms"), name);
    }

    /**
     * @param runOptions options of {@code run} before the program, such as --state-dir.
     * @param stdin bytes for the program's standard input, or null for none.
     */
    static ReplicatedRun run(final int replicas, final List<String> runOptions, final byte[] stdin,
        final String... program) throws IOException, InterruptedException
    {
        return start(replicas, runOptions, stdin, program).finish();
    }

    /**
     * Start {@code replicore run} and return while it runs, for tests that act on the service meanwhile.
     */
    static Running start(final int replicas, final List<String> runOptions, final byte[] stdin,
        final String... program) throws IOException
    {
        final Running running = launch(replicas, runOptions, stdin != null, program);
        if (stdin != null)
        {
            try (var in = running.process().getOutputStream())
            {
                in.write(stdin);
            }
        }
        return running;
    }

    /**
     * Start {@code replicore run} with its standard input a pipe that the test writes as the program runs, through
     * {@code process().getOutputStream()}.
     */
    static Running startWithInput(final int replicas, final String... program) throws IOException
    {
        return launch(replicas, List.of(), true, program);
    }

    private static Running launch(final int replicas, final List<String> runOptions, final boolean input,
        final String... program) throws IOException
    {
        final String mailbox = "/dev/shm/replicore-test-" + UUID.randomUUID();
        final Path workDir = Files.createTempDirectory("replicore-work");
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        for (final String argument : ManagementFactory.getRuntimeMXBean().getInputArguments())
        {
            if (argument.startsWith("--add-opens"))
            {
                command.add(argument);
            }
        }
        command.add("-Dreplicore.launcher=" + System.getProperty("replicore.launcher"));
        command.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
            ReplicoreCli.class.getName(), "run", "--replicas", String.valueOf(replicas),
            "--mailbox", mailbox, "--work-dir", workDir.toString()));
        command.addAll(runOptions);
        command.add("--");
        command.addAll(List.of(program));

        final Path out = workDir.resolve("run.out");
        final Path err = workDir.resolve("run.err");
        final ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile())
            .redirectError(err.toFile());
        if (!input)
        {
            builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        return new Running(builder.start(), mailbox, workDir, replicas, String.join(" ", program));
    }

    /**
     * A {@code replicore run} still going.
     */
    record Running(Process process, String mailbox, Path workDir, int replicas, String program)
    {
        Path stdoutFile()
        {
            return workDir.resolve("run.out");
        }

        /**
         * Wait until the replicated server accepts connections on {@code port}.
         */
        void awaitListening(final int port) throws Exception
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (true)
            {
                try (Socket socket = new Socket())
                {
                    socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return;
                }
                catch (final IOException ex)
                {
                    if (!process.isAlive() || System.nanoTime() > deadline)
                    {
                        throw new AssertionError("nothing listens on " + port + ": " +
                            Files.readString(workDir.resolve("run.err")), ex);
                    }
                    Thread.sleep(50);
                }
            }
        }

        /**
         * Wait until every backup has replayed the primary's log up to its end, failing at once if one is not live
         * or has diverged.
         */
        void awaitBackupsCaughtUp() throws Exception
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
            {
                while (true)
                {
                    final long primary = box.slot(box.control().primaryId()).logSequence();
                    boolean caughtUp = true;
                    for (int id = 0; id < replicas; id++)
                    {
                        final ReplicaSlot slot = box.slot(id);
                        if (id == box.control().primaryId())
                        {
                            assertEquals(ReplicaState.PRIMARY, slot.state());
                            continue;
                        }
                        assertEquals(ReplicaState.BACKUP, slot.state(), "replica " + id + ": " +
                            slot.lastErrorMessage());
                        assertEquals(0, slot.divergenceCount());
                        caughtUp &= slot.logSequence() == primary;
                    }
                    if (caughtUp)
                    {
                        return;
                    }
                    assertTrue(System.nanoTime() < deadline, "the backups did not catch up with the primary");
                    Thread.sleep(20);
                }
            }
        }

        /**
         * Wait until every live replica's slot counts {@code connections} open connections.
         */
        void awaitConnections(final int connections) throws Exception
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            try (Mailbox box = Mailbox.open(new MailboxContext().path(mailbox)))
            {
                for (int id = 0; id < replicas; id++)
                {
                    final ReplicaSlot slot = box.slot(id);
                    while (slot.state().isLive() && slot.connections() != connections)
                    {
                        assertTrue(System.nanoTime() < deadline, "replica " + id + " counts " +
                            slot.connections() + " connections, not " + connections);
                        Thread.sleep(5);
                    }
                }
            }
        }

        /**
         * End the run if it still goes, and remove its mailbox.
         */
        void stop() throws IOException, InterruptedException
        {
            process.destroy();
            process.waitFor(30, TimeUnit.SECONDS);
            Files.deleteIfExists(Path.of(mailbox));
        }

        /**
         * @return what the replica's event log says so far.
         */
        String events(final int replica) throws IOException
        {
            return eventsOf(workDir, replica);
        }

        ReplicatedRun finish() throws IOException, InterruptedException
        {
            if (!process.waitFor(120, TimeUnit.SECONDS))
            {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                throw new AssertionError("replicore run did not finish in 120 s: " + program);
            }
            return new ReplicatedRun(process.exitValue(),
                Files.readString(workDir.resolve("run.out"), StandardCharsets.ISO_8859_1),
                Files.readString(workDir.resolve("run.err"), StandardCharsets.UTF_8), workDir, replicas);
        }
    }

    private static String eventsOf(final Path workDir, final int replica) throws IOException
    {
        final Path log = workDir.resolve("replica-" + replica).resolve("events.log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    static ReplicatedRun run(final int replicas, final String... program) throws IOException, InterruptedException
    {
        return run(replicas, List.of(), null, program);
    }

    /**
     * Run an admin command in this JVM, as an operator would from the shell; what it says goes to stderr when it
     * does not succeed.
     *
     * @return its exit code.
     */
    static int cli(final String... args)
    {
        final StringWriter out = new StringWriter();
        final int code = ReplicoreCli.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(out))
            .execute(args);
        if (code != 0)
        {
            System.err.println("replicore " + String.join(" ", args) + " -> " + code + ": " + out);
        }
        return code;
    }

    String events(final int replica) throws IOException
    {
        return eventsOf(workDir, replica);
    }

    /**
     * @return true if the backup replayed the primary's whole log and its application ended the same way.
     */
    boolean backupReplayedToTheEnd(final int replica) throws IOException
    {
        return events(replica).contains("replayed to the end");
    }

    /**
     * Fails with everything the run said unless it exited 0 and every backup replayed to the end.
     */
    ReplicatedRun assertClean() throws IOException
    {
        return assertEndedWith(0);
    }

    /**
     * Fails with everything the run said unless it exited with {@code expectedExitCode} and every backup replayed
     * to the end, its application ending the same way.
     */
    ReplicatedRun assertEndedWith(final int expectedExitCode) throws IOException
    {
        final StringBuilder problems = new StringBuilder();
        if (exitCode != expectedExitCode)
        {
            problems.append("exit code ").append(exitCode).append('\n');
        }
        for (int id = 1; id < replicas; id++)
        {
            if (!backupReplayedToTheEnd(id))
            {
                problems.append("backup ").append(id).append(" did not replay to the end:\n").append(events(id));
            }
        }
        if (problems.length() > 0)
        {
            throw new AssertionError(problems + "stderr:\n" + stderr + "stdout:\n" + stdout);
        }
        return this;
    }

    List<String> lines()
    {
        return stdout.lines().toList();
    }

    /**
     * @return the value of the {@code key=value} line the test program printed.
     */
    String value(final String key)
    {
        return lines().stream().filter(line -> line.startsWith(key + "=")).map(line -> line.substring(key.length() + 1))
            .reduce((a, b) -> { throw new AssertionError("key " + key + " printed twice:\n" + stdout); })
            .orElseThrow(() -> new AssertionError("no " + key + " in:\n" + stdout + "\nstderr:\n" + stderr));
    }
}
