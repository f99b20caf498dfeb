package io.replicore.benchmarks;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A fresh two-replica mailbox in /dev/shm under a unique name, and a {@link MailboxPeer} process attached to it.
 * Created by a benchmark's trial set-up and closed by its tear-down; closing stops the peer (and only that
 * process), unmaps the region and removes its file.
 */
final class PeerSession implements AutoCloseable
{
    private static final String SHM_DIRECTORY = "/dev/shm";
    private static final long READY_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);
    private static final long STOP_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(10);

    private final String mode;
    private final Path file;
    private final Mailbox mailbox;
    private final ControlBlock control;
    private final Process process;
    private boolean closed;

    private PeerSession(final String mode, final Path file, final Mailbox mailbox, final Process process)
    {
        this.mode = mode;
        this.file = file;
        this.mailbox = mailbox;
        this.control = mailbox.control();
        this.process = process;
    }

    /**
     * Create the mailbox, start a peer in {@code mode} (one of {@link MailboxPeer}'s) and wait until it reads.
     */
    static PeerSession start(final String mode)
    {
        final Path file = Path.of(SHM_DIRECTORY, "replicore-bench-" + ProcessHandle.current().pid() + "-" +
            Long.toHexString(System.nanoTime()));
        final Mailbox mailbox = Mailbox.create(new MailboxContext()
            .path(file.toString())
            .replicaCount(2)
            .channelCapacity(MailboxContext.DEFAULT_CHANNEL_CAPACITY));
        Process process = null;
        try
        {
            process = new ProcessBuilder(peerCommand(mode, file, mailbox.runId()))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
            final PeerSession session = new PeerSession(mode, file, mailbox, process);
            session.awaitReady();
            return session;
        }
        catch (final IOException | RuntimeException ex)
        {
            if (process != null)
            {
                process.destroyForcibly();
            }
            mailbox.close();
            deleteQuietly(file);
            throw ex instanceof RuntimeException ? (RuntimeException)ex :
                new IllegalStateException("cannot start the peer process: " + ex.getMessage(), ex);
        }
    }

    Mailbox mailbox()
    {
        return mailbox;
    }

    /**
     * Throw if the peer has left. Called only while waiting (back-pressure, an echo not yet there): it reads a
     * control-block word the peer writes only when it leaves, a hit in this core's cache until then.
     */
    void checkPeer()
    {
        if (control.serviceState() != ControlBlock.SERVICE_RUNNING)
        {
            throw new IllegalStateException("the " + mode + " peer (pid " + process.pid() + ") stopped" +
                (process.isAlive() ? "" : " with exit status " + process.exitValue()));
        }
    }

    /**
     * Stop the peer: post {@link MailboxPeer#STOP_COMMAND} and wait; destroy it only if it does not leave.
     *
     * @throws IllegalStateException if the peer found a corrupt record or failed otherwise.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        String failure = null;
        try
        {
            control.postCommand(MailboxPeer.STOP_COMMAND, 0);
            if (!process.waitFor(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS))
            {
                failure = "did not stop within " + STOP_TIMEOUT_MS + " ms and was destroyed";
                process.destroy();
                if (!process.waitFor(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS))
                {
                    process.destroyForcibly().waitFor();
                }
            }
            else if (process.exitValue() != MailboxPeer.EXIT_OK)
            {
                failure = "exited with status " + process.exitValue() +
                    (process.exitValue() == MailboxPeer.EXIT_CORRUPT ? " (corrupt record, see its message above)" : "");
            }
            else
            {
                failure = unreadRecords();
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            failure = "was destroyed: interrupted while waiting for it to stop";
        }
        finally
        {
            mailbox.close();
            deleteQuietly(file);
        }
        if (failure != null)
        {
            throw new IllegalStateException("the " + mode + " peer (pid " + process.pid() + ") " + failure);
        }
    }

    /**
     * The peer stops only once it has found its ring empty, and the benchmark waits for every echo: so after a
     * clean stop both rings are fully consumed, and for the checked channel every record passed its checks.
     */
    private String unreadRecords()
    {
        final OneToOneRingBuffer[] rings =
        {
            mailbox.ring(MailboxPeer.BENCH_REPLICA, MailboxPeer.PEER_REPLICA),
            mailbox.ring(MailboxPeer.PEER_REPLICA, MailboxPeer.BENCH_REPLICA)
        };
        for (final OneToOneRingBuffer ring : rings)
        {
            final long unread = ring.producerPosition() - ring.consumerPosition();
            if (unread != 0)
            {
                return "stopped with " + unread + " bytes of records left unread";
            }
        }
        return null;
    }

    private void awaitReady()
    {
        final long deadline = System.nanoTime() + READY_TIMEOUT_NS;
        while (control.serviceState() != ControlBlock.SERVICE_RUNNING)
        {
            if (!process.isAlive())
            {
                throw new IllegalStateException("the " + mode + " peer exited with status " + process.exitValue() +
                    " before it was ready (its messages are above)");
            }
            if (System.nanoTime() - deadline > 0)
            {
                throw new IllegalStateException("the " + mode + " peer was not ready within " +
                    TimeUnit.NANOSECONDS.toSeconds(READY_TIMEOUT_NS) + " s");
            }
            sleepMs(1);
        }
    }

    /**
     * The same java, class path and module openings as this JVM: Agrona in the peer needs the openings too.
     */
    private static List<String> peerCommand(final String mode, final Path file, final long runId)
    {
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        final List<String> inputArguments = ManagementFactory.getRuntimeMXBean().getInputArguments();
        for (int i = 0; i < inputArguments.size(); i++)
        {
            final String argument = inputArguments.get(i);
            if (argument.startsWith("--add-opens="))
            {
                command.add(argument);
            }
            else if (argument.equals("--add-opens") && i + 1 < inputArguments.size())
            {
                command.add(argument);
                command.add(inputArguments.get(++i));
            }
        }
        // The peer allocates nothing per record: a small heap is enough and keeps its start quick.
        command.add("-Xms64m");
        command.add("-Xmx64m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(MailboxPeer.class.getName());
        command.add(mode);
        command.add(file.toString());
        command.add(Long.toHexString(runId));
        return command;
    }

    private static void sleepMs(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the peer", ex);
        }
    }

    private static void deleteQuietly(final Path file)
    {
        try
        {
            Files.deleteIfExists(file);
        }
        catch (final IOException ex)
        {
            System.err.println("cannot remove " + file + ": " + ex.getMessage());
        }
    }
}
