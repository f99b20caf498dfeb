package io.replicore.coordinator;

import io.replicore.coordinator.intercept.DescriptorClassifier;
import io.replicore.coordinator.intercept.LauncherHandshake;
import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.intercept.SyscallPolicy;
import io.replicore.coordinator.intercept.VdsoPatcher;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.coordinator.natives.SocketCalls;
import io.replicore.coordinator.replay.BackupReplay;
import io.replicore.coordinator.replay.InterceptedCall;
import io.replicore.coordinator.replay.LogRecord;
import io.replicore.coordinator.replay.PrimaryCalls;
import io.replicore.coordinator.replay.ReplicaStop;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * One replica's coordinator: joins the mailbox, starts the application under the launcher's seccomp filter,
 * then plays its role for every notified call until the application ends or the replica must stop.
 */
public final class ReplicaCoordinator
{
    /** Exit codes of a replica's coordinator process besides the application's own status. */
    public static final int EXIT_FAILED = 125;
    public static final int EXIT_DIVERGED = 124;

    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final int POLLIN = 0x1;
    private static final int POLLHUP = 0x10;
    private static final int EXEC_PENDING = 1;

    private final ReplicaContext ctx;
    private final EventLog events;
    private Mailbox mailbox;
    private ReplicaSlot slot;
    private volatile boolean beating = true;

    public ReplicaCoordinator(final ReplicaContext ctx, final EventLog events)
    {
        this.ctx = ctx.conclude();
        this.events = events;
    }

    /**
     * Run the replica to its end.
     *
     * @return the application's exit status, or {@link #EXIT_FAILED} or {@link #EXIT_DIVERGED}.
     */
    public int run() throws IOException, InterruptedException
    {
        if (ctx.cpus() != null)
        {
            coordinatorCpus().pinThisProcess();
        }
        mailbox = Mailbox.open(new MailboxContext().path(ctx.mailboxPath()).expectedRunId(ctx.runId()));
        try
        {
            if (ctx.replicaId() >= mailbox.replicaCount())
            {
                throw new IllegalArgumentException("replica " + ctx.replicaId() + " does not exist in a mailbox of " +
                    mailbox.replicaCount() + " replicas");
            }
            slot = mailbox.slot(ctx.replicaId());
            slot.register((int)ProcessHandle.current().pid(), ctx.replicaId(), System.currentTimeMillis());
            final Thread heartbeat = startHeartbeat();
            try
            {
                return runApplication();
            }
            finally
            {
                beating = false;
                heartbeat.join();
            }
        }
        finally
        {
            mailbox.close();
        }
    }

    private int runApplication() throws IOException, InterruptedException
    {
        final boolean primary = mailbox.control().primaryId() == ctx.replicaId();
        final Path socket = Path.of("/tmp", "replicore-" + Long.toHexString(mailbox.runId()) + "-" +
            ctx.replicaId() + ".sock");
        final Process application;
        final SeccompListener listener;
        try (LauncherHandshake handshake = new LauncherHandshake(socket))
        {
            application = startLauncher(socket, primary);
            try
            {
                listener = new SeccompListener(handshake.handshake(
                    application, SyscallPolicy.filter(), ctx.handshakeTimeoutMs()));
            }
            catch (final IOException ex)
            {
                application.destroyForcibly();
                fail("cannot start " + ctx.command().get(0) + ": " + ex.getMessage());
                return EXIT_FAILED;
            }
        }
        final int appPid = (int)application.pid();
        slot.appPid(appPid);
        final boolean syncWakeUp = listener.requestSyncWakeUp();
        slot.state(primary ? ReplicaState.PRIMARY : ReplicaState.BACKUP);
        events.info((primary ? "primary" : "backup") + " of epoch " + mailbox.control().epoch() + ", application pid " +
            appPid + ", CPUs " + (ctx.cpus() == null ? "any" : ctx.cpus()) +
            (ctx.appCpus() == null ? "" : " (application on " + ctx.appCpus() + ", coordinator on " +
            coordinatorCpus() + ")") +
            (syncWakeUp ? ", synchronous wake-ups" : ""));

        final int pidfd = PROCESS.pidfd_open(appPid, 0);
        if (pidfd < 0)
        {
            application.destroyForcibly();
            fail("pidfd_open of the application failed: errno " + Native.lastErrno());
            return EXIT_FAILED;
        }
        final int maxRecord = mailbox.newWriter(0, 1).maxPayloadLength();
        final InterceptedCall call = new InterceptedCall(listener, maxRecord);
        try
        {
            return primary ?
                runPrimary(application, listener, call, pidfd) :
                runBackup(application, listener, call);
        }
        finally
        {
            PROCESS.close(pidfd);
            listener.close();
            if (application.isAlive())
            {
                application.destroyForcibly();
            }
        }
    }

    /**
     * The partition less the application's CPUs, so that answering a call need not wait for the application's core;
     * the whole partition when the application has all of it.
     */
    private CpuSet coordinatorCpus()
    {
        final CpuSet partition = CpuSet.parse(ctx.cpus());
        if (ctx.appCpus() == null)
        {
            return partition;
        }
        final CpuSet rest = partition.minus(CpuSet.parse(ctx.appCpus()));
        return rest.isEmpty() ? partition : rest;
    }

    private Process startLauncher(final Path socket, final boolean primary) throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(ctx.launcher().toString());
        command.add("--control");
        command.add(socket.toString());
        command.add("--die-with-parent");
        if (ctx.cpus() != null)
        {
            command.add("--cpus");
            command.add(ctx.appCpus() != null ? ctx.appCpus() : ctx.cpus());
        }
        if (ctx.stateCopy() != null)
        {
            command.add("--bind");
            command.add(ctx.stateCopy() + ":" + ctx.stateDir());
        }
        command.add("--");
        command.addAll(ctx.command());
        final ProcessBuilder builder = new ProcessBuilder(command);
        if (primary)
        {
            builder.inheritIO();
        }
        else
        {
            // A backup's outputs are never performed; only what the launcher says before the filter can appear.
            builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
            builder.redirectError(ctx.logFile() == null ? ProcessBuilder.Redirect.DISCARD :
                ProcessBuilder.Redirect.appendTo(ctx.logFile().toFile()));
        }
        return builder.start();
    }

    private int runPrimary(
        final Process application, final SeccompListener listener, final InterceptedCall call, final int pidfd)
        throws IOException, InterruptedException
    {
        final PrimaryLog log = new PrimaryLog(mailbox, ctx.replicaId());
        final int appPid = (int)application.pid();
        final DescriptorClassifier classifier = new DescriptorClassifier(ctx.stateDir(), ctx.stateCopy(), appPid);
        final PrimaryCalls calls = new PrimaryCalls(call, log, classifier, appPid, pidfd,
            (int)ProcessHandle.current().pid());
        try
        {
            serve(listener, call, calls::handle);
        }
        catch (final ReplicaStop stop)
        {
            application.destroyForcibly();
            application.waitFor();
            fail(stop.getMessage());
            return EXIT_FAILED;
        }
        final int status = application.waitFor();
        final UnsafeBuffer exit = new UnsafeBuffer(new byte[LogRecord.EXIT_LENGTH]);
        exit.putInt(LogRecord.EXIT_STATUS_OFFSET, status);
        log.append(LogRecord.TYPE_EXIT, exit, 0, LogRecord.EXIT_LENGTH);
        mailbox.control().exitStatus(status);
        slot.state(ReplicaState.STOPPED);
        events.info("application exited with status " + status + " after " + slot.interceptedCalls() +
            " intercepted calls");
        return status;
    }

    private int runBackup(final Process application, final SeccompListener listener, final InterceptedCall call)
        throws InterruptedException
    {
        final int primaryId = mailbox.control().primaryId();
        final BackupReplay replay = new BackupReplay(call, mailbox.newReader(primaryId, ctx.replicaId()),
            mailbox.slot(primaryId), slot, ctx.corruptInputAt());
        try
        {
            serve(listener, call, replay::handle);
            final int status = application.waitFor();
            replay.finish(status);
            slot.state(ReplicaState.STOPPED);
            events.info("replayed to the end: application exited with status " + status + " like the primary's");
            return status;
        }
        catch (final ReplicaStop stop)
        {
            application.destroyForcibly();
            application.waitFor();
            if (stop.isDivergence())
            {
                return diverged(stop);
            }
            fail(stop.getMessage());
            return EXIT_FAILED;
        }
    }

    /**
     * Handles one notified call; throws to stop the replica.
     */
    @FunctionalInterface
    private interface CallHandler
    {
        void handle() throws ReplicaStop;
    }

    /**
     * The loop both roles share: wait for a notification, patch the vDSO of a freshly executed image, hand the
     * call to the role. Returns when no process of the application is left.
     */
    private void serve(final SeccompListener listener, final InterceptedCall call, final CallHandler handler)
        throws ReplicaStop
    {
        final Native.Scratch pollFd = Native.allocate(8);
        final UnsafeBuffer poll = pollFd.buffer();
        int execState = 0;
        long calls = 0;
        while (true)
        {
            poll.putInt(0, listener.fd());
            poll.putShort(4, (short)POLLIN);
            poll.putShort(6, (short)0);
            if (SOCKETS.poll(pollFd.pointer(), 1, 100) <= 0)
            {
                continue;
            }
            final int revents = poll.getShort(6);
            if ((revents & POLLIN) == 0)
            {
                if ((revents & POLLHUP) != 0)
                {
                    return;
                }
                continue;
            }
            final int rc = listener.receive();
            if (rc == SeccompListener.GONE)
            {
                continue;
            }
            if (rc < 0)
            {
                throw new ReplicaStop(-1, "cannot receive notifications: errno " + -rc);
            }
            call.load();
            if (execState == EXEC_PENDING)
            {
                patchVdso(call);
                execState = 0;
            }
            if (call.nr() == io.replicore.coordinator.intercept.Syscalls.EXECVE)
            {
                execState = EXEC_PENDING;
            }
            handler.handle();
            slot.interceptedCalls(++calls);
        }
    }

    /**
     * The first call after an exec comes from the new image, before any of its code ran: the moment to make its
     * clock functions real system calls.
     */
    private void patchVdso(final InterceptedCall call) throws ReplicaStop
    {
        try
        {
            final int patched = VdsoPatcher.patch(call.tid());
            events.info("vDSO of " + call.tid() + ": " + patched + " functions now enter the kernel");
        }
        catch (final IOException ex)
        {
            throw new ReplicaStop(call.nr(), "cannot patch the application's vDSO, so its clock cannot be " +
                "replicated: " + ex.getMessage());
        }
    }

    private void fail(final String message)
    {
        slot.lastError(ReplicaState.FAILED.code(), message);
        slot.state(ReplicaState.FAILED);
        events.alert("stopped: " + message);
    }

    /**
     * This backup's calls or outputs differ from the primary's. With two replicas there is no tie-break: the backup
     * stops. With three or more, the other backups' verdicts on the same record decide who is the odd one.
     */
    private int diverged(final ReplicaStop stop) throws InterruptedException
    {
        slot.incrementDivergenceCount();
        slot.lastError(ReplicaState.DIVERGED.code(), stop.getMessage());
        slot.state(ReplicaState.DIVERGED);
        if (mailbox.replicaCount() < 3)
        {
            events.alert("diverged " + stop.getMessage() + "; stopped (two replicas: the primary's output stands)");
            return EXIT_DIVERGED;
        }
        final Vote vote = awaitVote(stop.sequence());
        if (vote.agreeWithPrimary > 0)
        {
            events.alert("diverged " + stop.getMessage() + "; replicas " + vote.agreeing + " agree, so this " +
                "replica is the odd one and stopped");
        }
        else if (vote.agreeWithMe > 0)
        {
            final ReplicaSlot primary = mailbox.slot(mailbox.control().primaryId());
            primary.lastError(ReplicaState.DIVERGED.code(), "outvoted at log record " + stop.sequence() +
                " by replicas " + vote.disagreeing);
            if (primary.compareAndSetState(ReplicaState.PRIMARY, ReplicaState.DIVERGED))
            {
                ProcessHandle.of(primary.pid()).ifPresent(ProcessHandle::destroyForcibly);
            }
            events.alert("diverged " + stop.getMessage() + "; replicas " + vote.disagreeing + " disagree with the primary, which " +
                "is the odd one: it was stopped");
        }
        else
        {
            events.alert("diverged " + stop.getMessage() + "; no other backup gave a verdict in time; stopped");
        }
        return EXIT_DIVERGED;
    }

    private record Vote(int agreeWithPrimary, int agreeWithMe, String agreeing, String disagreeing)
    {
    }

    private Vote awaitVote(final long sequence) throws InterruptedException
    {
        final long deadline = System.nanoTime() + ctx.voteTimeoutNs();
        final int primaryId = mailbox.control().primaryId();
        while (true)
        {
            final List<String> agree = new ArrayList<>();
            final List<String> disagree = new ArrayList<>(List.of(String.valueOf(ctx.replicaId())));
            int undecided = 0;
            for (int id = 0; id < mailbox.replicaCount(); id++)
            {
                if (id == primaryId || id == ctx.replicaId())
                {
                    continue;
                }
                final ReplicaSlot other = mailbox.slot(id);
                if (other.logSequence() >= sequence)
                {
                    agree.add(String.valueOf(id));
                }
                else if (other.state() == ReplicaState.DIVERGED && other.logSequence() == sequence - 1)
                {
                    disagree.add(String.valueOf(id));
                }
                else if (other.state().isLive())
                {
                    undecided++;
                }
            }
            if (undecided == 0 || !agree.isEmpty() || System.nanoTime() > deadline)
            {
                agree.add(0, String.valueOf(primaryId));
                return new Vote(agree.size() - 1, disagree.size() - 1, String.join(" and ", agree),
                    String.join(" and ", disagree));
            }
            Thread.sleep(1);
        }
    }

    private Thread startHeartbeat()
    {
        final Thread thread = new Thread(() ->
        {
            while (beating)
            {
                slot.beat(System.nanoTime());
                LockSupport.parkNanos(ctx.heartbeatIntervalNs());
            }
        }, "replicore-heartbeat-" + ctx.replicaId());
        thread.setDaemon(true);
        thread.start();
        return thread;
    }
}
