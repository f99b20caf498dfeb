package io.replicore.coordinator;

import io.replicore.coordinator.intercept.DescriptorClassifier;
import io.replicore.coordinator.intercept.LauncherHandshake;
import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.intercept.SyscallPolicy;
import io.replicore.coordinator.intercept.VdsoPatcher;
import io.replicore.coordinator.ioowner.BackupSockets;
import io.replicore.coordinator.ioowner.PrimarySockets;
import io.replicore.coordinator.ioowner.ServiceAddress;
import io.replicore.coordinator.ioowner.SocketTakeover;
import io.replicore.coordinator.logicaltcp.AckGate;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.coordinator.replay.ApplicationProcesses;
import io.replicore.coordinator.replay.BackupReplay;
import io.replicore.coordinator.replay.InterceptedCall;
import io.replicore.coordinator.replay.LogRecord;
import io.replicore.coordinator.replay.PrimaryCalls;
import io.replicore.coordinator.replay.ChildEnds;
import io.replicore.coordinator.replay.SignalDelivery;
import io.replicore.coordinator.replay.Timers;
import io.replicore.coordinator.replay.ReplicaStop;
import io.replicore.detscheduler.SerialToken;
import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.ReplicaSlot;
import io.replicore.mailbox.ReplicaState;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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
    /** It was primary and stopped because another replica was named primary, or it handed over on request. */
    public static final int EXIT_FENCED = 123;
    /** How long a starting backup waits for the primary to say whether it accepts through a ring. */
    private static final long RING_WAIT_NS = TimeUnit.SECONDS.toNanos(5);
    /** How long a backup's call may wait for its record's thread before that thread is looked at. */
    private static final long RECORD_WAIT_NS = TimeUnit.SECONDS.toNanos(5);

    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    /** Longest wait for a notification before the checks between calls run again. */
    private static final int POLL_MS = 20;
    private static final int ENDS_POLL_MS = 1;
    /** How Java reports a process ended by SIGKILL. */
    private static final int KILLED_FROM_OUTSIDE = 128 + 9;
    private static final int COMMAND_DONE = 0;
    /** The helper next to the launcher that registers taken-over sockets in the application's epoll sets. */
    private static final String REARM = "replicore-rearm";
    private static final int COMMAND_REFUSED = 1;
    /** {@link ControlBlock#COMMAND_SIGNAL}'s argument: the signal, then the process. */
    private static final int SIGNAL_NUMBER_MASK = 0x7F;
    private static final int SIGNAL_PROCESS_SHIFT = 7;

    private final ReplicaContext ctx;
    private final EventLog events;
    private Mailbox mailbox;
    private ReplicaSlot slot;
    private volatile boolean beating = true;
    /** The sequence of the last admin command this replica acted on, so a command is acted on once. */
    private int handledCommand;
    /** The primary's signals to deliver (replicore signal); a new one with each set of lanes. */
    private SignalDelivery signals;
    /** The application's first process, by its id inside the replica: where a signal goes by default, and which
     * gets the standard descriptors at a takeover. */
    private int firstProcess;
    /** The primary's sockets as handed to this replica while it is a backup. */
    private BackupSockets heldSockets;
    /** Threads that called execve: their next call comes from the new image. */
    private final Set<Integer> execPending = ConcurrentHashMap.newKeySet();
    private final AtomicLong interceptedCalls = new AtomicLong();
    /** The application's processes and threads, whose calls arrive here first. */
    private ApplicationProcesses processes;
    /** Lanes of the primary role that were still in a call when it ended. */
    private int strayLanes;
    /** Kernel partitions: the address the primary answers for; null if none was given. */
    private final ServiceAddress serviceAddress;
    /** Kernel partitions: the acknowledgement gate on the service device; null without one. */
    private AckGate gate;

    public ReplicaCoordinator(final ReplicaContext ctx, final EventLog events)
    {
        this.ctx = ctx.conclude();
        this.events = events;
        this.serviceAddress = ctx.serviceAddress() == null ? null :
            new ServiceAddress(ctx.serviceAddress(), ctx.serviceDevice(), events::info);
    }

    private boolean kernelPartition()
    {
        return ctx.partition() == PartitionKind.KERNEL;
    }

    /**
     * Kernel partitions: the primary answers for the service's address from here on.
     */
    private void claimServiceAddress() throws ReplicaStop
    {
        if (serviceAddress == null)
        {
            return;
        }
        try
        {
            final long tookNs = serviceAddress.claim();
            events.info(String.format(Locale.ROOT, "service address %s claimed on %s and announced in %.3f ms",
                ctx.serviceAddress(), ctx.serviceDevice(), tookNs / 1e6));
        }
        catch (final IOException ex)
        {
            throw new ReplicaStop(-1, "cannot take the service address over: " + ex.getMessage());
        }
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
            handledCommand = ControlBlock.commandSequenceOf(mailbox.control().commandWord());
            // Bound before registering: a primary that sees this replica live can always hand it a socket.
            heldSockets = new BackupSockets(mailbox.runId(), slot, kernelPartition());
            joinPartitionCgroup();
            slot.register((int)ProcessHandle.current().pid(), ctx.replicaId(), System.currentTimeMillis());
            final Thread heartbeat = startHeartbeat();
            try
            {
                // beating meanwhile: under emulation loading the gate takes seconds, which is no primary's death
                return attachGate() ? runApplication() : EXIT_FAILED;
            }
            finally
            {
                beating = false;
                heartbeat.join();
                heldSockets.close();
                detachGate();
            }
        }
        finally
        {
            if (strayLanes == 0)
            {
                mailbox.close();
            }
            else
            {
                // They would touch it when their read returns; the mapping ends with this process, just after.
                events.info(strayLanes + " lanes still wait in calls of threads that are gone");
            }
        }
    }

    /**
     * Kernel partitions: put the acknowledgement gate on the service device, in every replica, so that a backup
     * that takes over has it in place before the service address comes to its kernel.
     *
     * @return false if it was asked for and cannot be attached: this replica stops, naming why.
     */
    private boolean attachGate()
    {
        if (!ctx.ackGate())
        {
            return true;
        }
        try
        {
            final long startNs = System.nanoTime();
            gate = AckGate.attach(ctx.gateLoader(), ctx.serviceDevice(), serviceAddress.address());
            events.info(String.format(Locale.ROOT, "acknowledgement gate on %s for %s attached in %.3f ms; SACK " +
                "is off in this network stack", ctx.serviceDevice(), serviceAddress.address(),
                (System.nanoTime() - startNs) / 1e6));
            return true;
        }
        catch (final IOException ex)
        {
            fail("cannot attach the acknowledgement gate: " + ex.getMessage() + " (--no-ack-gate runs without it, " +
                "and loses what a dying kernel acknowledged before it was logged)");
            return false;
        }
    }

    private void detachGate()
    {
        if (gate == null)
        {
            return;
        }
        try
        {
            gate.close();
        }
        catch (final IOException ex)
        {
            events.info("the acknowledgement gate stays on " + ctx.serviceDevice() + ": " + ex.getMessage());
        }
    }

    /**
     * Enter this replica's partition cgroup before the application is started, so that it is born in it.
     */
    private void joinPartitionCgroup()
    {
        final String[] why = new String[1];
        final PartitionCgroup cgroup =
            PartitionCgroup.join(mailbox.runId(), ctx.replicaId(), ProcessHandle.current().pid(), why);
        events.info(cgroup != null ? "partition cgroup " + cgroup.directory() :
            "no partition cgroup (" + why[0] + "): faults are injected with signals");
    }

    private int runApplication() throws IOException, InterruptedException
    {
        final boolean primary = mailbox.control().primaryId() == ctx.replicaId();
        final Path socket = Path.of("/tmp", "replicore-" + Long.toHexString(mailbox.runId()) + "-" +
            ctx.replicaId() + ".sock");
        final Process application;
        final SeccompListener listener;
        final int appPid;
        try (LauncherHandshake handshake = new LauncherHandshake(socket))
        {
            application = startLauncher(socket, primary);
            try
            {
                listener = new SeccompListener(handshake.handshake(
                    application, SyscallPolicy.filter(ctx.schedulingMode()), ctx.handshakeTimeoutMs()));
                appPid = handshake.programPid();
            }
            catch (final IOException ex)
            {
                application.destroyForcibly();
                fail("cannot start " + ctx.command().get(0) + ": " + ex.getMessage());
                return EXIT_FAILED;
            }
        }
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
        if (primary)
        {
            try
            {
                claimServiceAddress(); // before the application binds to it
            }
            catch (final ReplicaStop stop)
            {
                application.destroyForcibly();
                fail(stop.getMessage());
                return EXIT_FAILED;
            }
        }
        final int maxRecord = mailbox.newWriter(0, 1).maxPayloadLength();
        final ApplicationProcesses processes = new ApplicationProcesses(appPid, pidfd, ctx.schedulingMode());
        this.processes = processes;
        final Application app = new Application(application, listener,
            new InterceptedCall(listener, processes.threads(), maxRecord), pidfd, appPid, processes,
            new ChildEnds(listener, processes), new Timers(), maxRecord);
        try
        {
            if (primary)
            {
                return runAsPrimary(app, new PrimaryLog(mailbox, ctx.replicaId(), 0));
            }
            return runBackup(app, new StdioHandover(appPid));
        }
        finally
        {
            processes.close();
            PROCESS.close(pidfd);
            listener.close();
            if (application.isAlive())
            {
                application.destroyForcibly();
            }
        }
    }

    /**
     * The application as its coordinator holds it.
     */
    private record Application(
        Process process, SeccompListener listener, InterceptedCall call, int pidfd, int pid,
        ApplicationProcesses processes, ChildEnds ends, Timers timers, int maxRecord)
    {
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

    private int runAsPrimary(final Application app, final PrimaryLog log)
        throws IOException, InterruptedException
    {
        try (PrimarySockets sockets = new PrimarySockets(mailbox, ctx.replicaId(), log, events::info,
            kernelPartition(), gate))
        {
            final PrimaryLanes lanes = lanes(app, log, sockets);
            try
            {
                lanes.serve(app.call(), null);
            }
            finally
            {
                strayLanes = lanes.strayLanes();
            }
            return primaryExit(log, app.process().waitFor());
        }
        catch (final ReplicaStop stop)
        {
            return endAsPrimary(app, stop);
        }
    }

    /**
     * The primary's lanes over the application: each lane handles calls with a PrimaryCalls of its own, sharing
     * the log, the sockets and the application's processes.
     */
    private PrimaryLanes lanes(final Application app, final PrimaryLog log, final PrimarySockets sockets)
    {
        final AtomicLong accepts = new AtomicLong();
        signals = new SignalDelivery(sequence -> mailbox.control().commandResult(sequence, COMMAND_DONE), app.ends(),
            app.timers());
        signals.findSleepers(app.processes()); // a new primary's: asleep where its predecessor let them
        firstProcess = app.processes().threads().of(app.pid()).logicalPid();
        final SignalDelivery signals = this.signals;
        return new PrimaryLanes(app.listener(), app.processes().threads(), app.maxRecord(), (call, lanes) ->
        {
            try
            {
                return new PrimaryCalls(call, log, sockets,
                    new DescriptorClassifier(ctx.stateDir(), ctx.stateCopy(), app.pid()), app.processes(), signals,
                    app.pidfd(), ctx.dieInAcceptAt(), accepts, () ->
                    {
                        lanes.checkNotStopped();
                        primaryChecks(log);
                    })::handle;
            }
            catch (final IOException ex)
            {
                throw new ReplicaStop(-1, "cannot classify the application's descriptors: " + ex.getMessage());
            }
        }, () -> primaryChecks(log), this::observe);
    }

    /**
     * Between two calls, and between the slices of a wait that has returned nothing: a primary that has been
     * replaced stops (fencing); one asked to hand over does so here, where no call is half done; a signal asked
     * for is queued, and delivered to a thread asleep waiting for one.
     */
    private synchronized void primaryChecks(final PrimaryLog log) throws ReplicaStop
    {
        log.checkStillPrimary();
        signals.fireTimers(process -> processes.hostPidOf(process) > 0);
        signals.deliverToSleepers(log);
        signals.releaseOverdue(log, thread -> events.info("thread " + thread + "'s process ended at no point of its " +
            "parent, which made no call for " + TimeUnit.NANOSECONDS.toMillis(SignalDelivery.END_PATIENCE_NS) +
            " ms: its exit signal is not ordered"));
        final ControlBlock control = mailbox.control();
        final long command = control.commandWord();
        final int sequence = ControlBlock.commandSequenceOf(command);
        if (sequence == handledCommand)
        {
            return;
        }
        handledCommand = sequence;
        switch (ControlBlock.commandOf(command))
        {
            case ControlBlock.COMMAND_FAILOVER -> handOverOnRequest(log, sequence);
            case ControlBlock.COMMAND_SIGNAL -> postSignal(ControlBlock.commandArgumentOf(command), sequence);
            default ->
            {
            }
        }
    }

    private void handOverOnRequest(final PrimaryLog log, final int sequence) throws ReplicaStop
    {
        final ControlBlock control = mailbox.control();
        if (!anyLiveBackup())
        {
            control.commandResult(sequence, COMMAND_REFUSED);
            events.alert("planned failover refused: no live backup to hand over to");
            return;
        }
        control.commandResult(sequence, COMMAND_DONE);
        throw new ReplicaStop(-1, "handed over in a planned failover", log.lastSequence(),
            ReplicaStop.Kind.HANDED_OVER);
    }

    /**
     * {@code replicore signal}: the signal waits for the process's next chance ({@link SignalDelivery}); the command
     * is answered once it has been delivered.
     */
    private void postSignal(final int argument, final int sequence)
    {
        final int signo = argument & SIGNAL_NUMBER_MASK;
        final int process = argument >>> SIGNAL_PROCESS_SHIFT;
        final int owner = process != 0 ? process : firstProcess;
        events.info("signal " + signo + " for process " + owner + " waits for its next call");
        signals.post(owner, signo, sequence);
    }

    private boolean anyLiveBackup()
    {
        for (int id = 0; id < mailbox.replicaCount(); id++)
        {
            if (mailbox.slot(id).state() == ReplicaState.BACKUP)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * The application ended: the backups learn its status from the log.
     */
    private int primaryExit(final PrimaryLog log, final int status) throws ReplicaStop
    {
        if (status == KILLED_FROM_OUTSIDE)
        {
            // SIGKILL comes from outside the application (an operator, the OOM killer, a dying partition): no backup
            // would meet it at this point, so it is this partition's fault, not the program's end.
            throw new ReplicaStop(-1, "the application was killed (SIGKILL) from outside; signals are not " +
                "replicated, so a backup takes over", log.lastSequence(), ReplicaStop.Kind.FAILED);
        }
        final UnsafeBuffer exit = new UnsafeBuffer(new byte[LogRecord.EXIT_LENGTH]);
        exit.putInt(LogRecord.EXIT_STATUS_OFFSET, status);
        log.append(LogRecord.TYPE_EXIT, exit, 0, LogRecord.EXIT_LENGTH);
        mailbox.control().exitStatus(status);
        slot.state(ReplicaState.STOPPED);
        events.info("application exited with status " + status + " after " + slot.interceptedCalls() +
            " intercepted calls");
        return status;
    }

    private int endAsPrimary(final Application app, final ReplicaStop stop) throws InterruptedException
    {
        final boolean fenced = stop.kind() == ReplicaStop.Kind.FENCED || stop.kind() == ReplicaStop.Kind.HANDED_OVER;
        if (fenced)
        {
            // First, so that a backup waiting on a handover starts at once. The slot may say DEAD already (a
            // successor declared this replica lost): it says why it stopped now.
            slot.lastError(ReplicaState.FENCED.code(), stop.getMessage());
            slot.state(ReplicaState.FENCED);
        }
        app.process().destroyForcibly();
        app.process().waitFor();
        if (fenced && serviceAddress != null)
        {
            try
            {
                serviceAddress.release();
            }
            catch (final IOException ex)
            {
                events.info("the service address stays on this kernel: " + ex.getMessage());
            }
        }
        if (fenced)
        {
            events.alert((stop.kind() == ReplicaStop.Kind.FENCED ? "fenced: " : "") + stop.getMessage());
            return EXIT_FENCED;
        }
        fail(stop.getMessage());
        return EXIT_FAILED;
    }

    private int runBackup(final Application app, final StdioHandover stdio) throws InterruptedException
    {
        final int primaryId = mailbox.control().primaryId();
        final PrimaryLiveness watch = new PrimaryLiveness(mailbox, primaryId, ctx.heartbeatTimeoutNs(),
            kernelPartition());
        final Backup backup = new Backup(app, stdio, watch, new BackupReplay(app.call(),
            mailbox.newReader(primaryId, ctx.replicaId()), watch, slot, heldSockets, ctx.corruptInputAt(),
            app.processes(), app.ends(), app.timers()));
        // The primary's accept ring first: it may be serving already, and a connection it accepts as it dies is
        // saved only if this backup holds the ring by then.
        final long ringDeadline = System.nanoTime() + RING_WAIT_NS;
        while (!backup.borrowAcceptRing() && watch.lostReason(System.nanoTime()) == null &&
            System.nanoTime() - ringDeadline < 0)
        {
            Thread.sleep(1);
        }
        prepareTakeover();
        try
        {
            serveAsBackup(app, backup);
            if (backup.isPrimary())
            {
                backup.serveAsPrimary();
            }
            return backup.finish(app.process().waitFor());
        }
        catch (final ReplicaStop stop)
        {
            if (backup.isPrimary())
            {
                return endAsPrimary(app, stop);
            }
            app.process().destroyForcibly();
            app.process().waitFor();
            if (stop.isDivergence())
            {
                return diverged(stop);
            }
            fail(stop.getMessage());
            return EXIT_FAILED;
        }
        finally
        {
            backup.close();
        }
    }

    /**
     * Load and initialise now what a takeover runs (the primary's native bindings are generated at class
     * initialisation, tens of milliseconds), so that it is not paid while the service waits.
     */
    private static void prepareTakeover()
    {
        for (final Class<?> type : new Class<?>[]{PrimaryCalls.class, PrimaryLog.class, Succession.class,
            DescriptorClassifier.class, StdioHandover.class, io.replicore.coordinator.ioowner.PrimarySockets.class,
            SocketTakeover.class})
        {
            try
            {
                Class.forName(type.getName(), true, type.getClassLoader());
            }
            catch (final ClassNotFoundException ex)
            {
                throw new IllegalStateException(ex);
            }
        }
        SocketTakeover.warmUp();
    }

    /**
     * A call a backup holds until its record comes: the notification, and its arrival number in serial mode.
     */
    private record HeldCall(byte[] notification, int arrival)
    {
    }

    /**
     * A backup's role, which turns into the primary's when the primary is lost and this replica succeeds it.
     */
    private final class Backup implements AutoCloseable
    {
        private final Application app;
        private final StdioHandover stdio;
        private final BackupReplay replay;
        private PrimaryLiveness watch;
        private PrimaryLog log;
        private PrimaryLanes lanes;
        private PrimarySockets sockets;
        /** Calls of threads whose records are not next in the log, by the thread's id inside the replica. */
        private final Map<Integer, HeldCall> held = new HashMap<>();
        private boolean ioPending;
        /** Whether the accept ring of the primary followed is held (borrowed again from each new primary). */
        private boolean ringBorrowed;

        Backup(final Application app, final StdioHandover stdio, final PrimaryLiveness watch, final BackupReplay replay)
        {
            this.app = app;
            this.stdio = stdio;
            this.watch = watch;
            this.replay = replay;
        }

        /**
         * Hold the accept ring of the primary followed, once it has said whether it has one.
         *
         * @return false while it has not said yet.
         */
        boolean borrowAcceptRing()
        {
            final int ring = watch.borrowAcceptRing();
            if (ring == PrimaryLiveness.RING_NOT_YET)
            {
                return false;
            }
            if (ring >= 0)
            {
                heldSockets.holdAcceptRing(ring);
            }
            ringBorrowed = true;
            slot.ringHeld(mailbox.control().epoch()); // the primary's accepts wait for this
            return true;
        }

        boolean isPrimary()
        {
            return lanes != null;
        }

        /**
         * Answer calls in log order: the call in hand if the next record is its thread's, then every held call whose
         * record comes next. A call whose record is not next is held until it is. In serial mode a record is
         * answered only while no thread of the application runs.
         */
        void handle() throws ReplicaStop
        {
            final InterceptedCall call = app.call();
            boolean inHand = true;
            while (lanes == null && (inHand || !held.isEmpty()))
            {
                final int thread = replay.nextThread();
                if (replay.deliverToSleeper())
                {
                    continue;
                }
                final SerialToken serialToken = processes.serialToken();
                final boolean mayAnswer = serialToken == null || serialToken.isFree();
                if (inHand && thread == call.logicalTid() && mayAnswer)
                {
                    inHand = !replay.handle(); // still in hand after a signal that left the call going
                    continue;
                }
                if (inHand)
                {
                    final byte[] saved = new byte[SeccompListener.NOTIFICATION_LENGTH];
                    app.listener().save(saved);
                    held.put(call.logicalTid(), new HeldCall(saved, call.arrivalNumber()));
                    inHand = false;
                }
                if (thread == BackupReplay.LOST)
                {
                    succeed();
                    continue;
                }
                if (!mayAnswer)
                {
                    return;
                }
                final HeldCall next = held.remove(thread);
                if (next == null)
                {
                    return;
                }
                app.listener().restore(next.notification());
                call.load();
                call.arrival(next.arrival());
                if (!replay.handle())
                {
                    held.put(thread, next); // a signal left the call going: its own record comes later
                }
            }
        }

        /**
         * Go on as the primary, with lanes, answering first the calls held while a backup.
         */
        void serveAsPrimary() throws ReplicaStop
        {
            held.keySet().stream().sorted().forEach(thread -> lanes.holdOver(held.get(thread).notification()));
            held.clear();
            try
            {
                lanes.serve(app.call(), ioPending ? this::handOverIo : null);
            }
            finally
            {
                strayLanes = lanes.strayLanes();
            }
        }

        void between() throws ReplicaStop
        {
            if (!held.isEmpty())
            {
                replay.checkWaitingRecord(RECORD_WAIT_NS);
            }
            replay.deliverToSleeper();
            if (!ringBorrowed)
            {
                borrowAcceptRing();
            }
            if (replay.primaryGoneAndLogReplayed())
            {
                succeed();
            }
        }

        /**
         * The real standard descriptors go to the application during a notification (SECCOMP_IOCTL_NOTIF_ADDFD
         * needs one): the first call it makes as the new primary's.
         */
        private void handOverIo() throws ReplicaStop
        {
            ioPending = false;
            final long startNs = System.nanoTime();
            heldSockets.takeHandedOver(replay.lastSequence());
            final BitSet unheld = (BitSet)replay.placeholders().clone();
            unheld.andNot(heldSockets.held(firstProcess));
            final SocketTakeover takeover = SocketTakeover.prepare(heldSockets, replay.lastSequence(),
                ctx.launcher().resolveSibling(REARM), firstProcess, listener -> stdio.handOver(listener, unheld,
                    kernelPartition() ? replay::reopenPlaceholder : null), gate);
            sockets.adopt(takeover);
            claimServiceAddress(); // once the connections exist here (kernel partitions), or a client is reset
            sockets.knockForOpened(); // the address is here now: the knocks reach the listening sockets
            try
            {
                heldSockets.close();
            }
            catch (final IOException ex)
            {
                events.info("closing the socket hand-over channel: " + ex.getMessage());
            }
            events.info(String.format(Locale.ROOT, "the sockets handed over taken in %.3f ms; each process gets its " +
                "own at its next call", (System.nanoTime() - startNs) / 1e6));
        }

        int finish(final int status) throws ReplicaStop
        {
            while (lanes == null && !replay.finish(status))
            {
                succeed();
            }
            if (lanes != null)
            {
                return primaryExit(log, status);
            }
            slot.state(ReplicaState.STOPPED);
            events.info("replayed to the end: application exited with status " + status + " like the primary's");
            return status;
        }

        /**
         * The primary is lost and its log replayed to the end: take over, or follow whoever did.
         *
         * @return true if this replica is the primary now.
         */
        private boolean succeed() throws ReplicaStop
        {
            final long detectedNs = System.nanoTime();
            final String reason = replay.lostReason();
            final int lostId = watch.primaryId();
            final int next = Succession.decide(mailbox, lostId, ctx.replicaId(), ctx.heartbeatTimeoutNs(), reason);
            watch.close();
            watch = new PrimaryLiveness(mailbox, next, ctx.heartbeatTimeoutNs(), kernelPartition());
            ringBorrowed = false;
            if (next != ctx.replicaId())
            {
                replay.follow(mailbox.newReaderFromAnySequence(next, ctx.replicaId()), watch);
                heldSockets.follow(mailbox.control().epoch(), replay.lastSequence());
                events.info("primary replica " + lostId + " lost (" + reason + "); following replica " + next +
                    ", primary of epoch " + mailbox.control().epoch());
                return false;
            }
            log = new PrimaryLog(mailbox, ctx.replicaId(), replay.lastSequence());
            if (replay.lastSequence() > 0)
            {
                log.repeat(replay.lastRecordType(), replay.lastRecord(), 0, replay.lastRecordLength());
            }
            ioPending = true;
            try
            {
                sockets = new PrimarySockets(mailbox, ctx.replicaId(), log, events::info, kernelPartition(), gate);
                lanes = lanes(app, log, sockets);
            }
            catch (final IOException ex)
            {
                throw new ReplicaStop(-1, "cannot take over: " + ex.getMessage());
            }
            // A planned failover that made this replica primary is done: it is not a request to this one.
            handledCommand = ControlBlock.commandSequenceOf(mailbox.control().commandWord());
            slot.state(ReplicaState.PRIMARY);
            final long tookNs = System.nanoTime() - detectedNs;
            mailbox.control().recordFailover(tookNs, System.currentTimeMillis());
            events.alert(String.format(Locale.ROOT, "took over as primary of epoch %d at log record %d in %.3f ms " +
                "(%s)", mailbox.control().epoch(), replay.lastSequence(), tookNs / 1e6, reason));
            return true;
        }

        @Override
        public void close()
        {
            watch.close();
            if (sockets != null)
            {
                try
                {
                    sockets.close();
                }
                catch (final IOException ex)
                {
                    events.info("closing the socket hand-over channel: " + ex.getMessage());
                }
            }
        }
    }

    /**
     * The backup's loop: wait for a notification, let the observer see it, hand it to the backup. Between calls
     * and at least every {@link #POLL_MS} while none comes, the backup checks on the primary. Returns when no
     * process of the application is left, or when this replica has become the primary.
     */
    private void serveAsBackup(final Application app, final Backup backup) throws ReplicaStop
    {
        final SeccompListener listener = app.listener();
        while (!backup.isPrimary())
        {
            backup.between();
            if (backup.isPrimary())
            {
                return;
            }
            // While it holds a child's end, the record that lets it run may come with no call to wake the loop.
            final int rc = listener.awaitNotification(app.ends().isEmpty() ? POLL_MS : ENDS_POLL_MS);
            if (rc == SeccompListener.ENDED)
            {
                return;
            }
            if (rc == SeccompListener.GONE)
            {
                continue;
            }
            if (rc < 0)
            {
                throw new ReplicaStop(-1, "cannot receive notifications: errno " + -rc);
            }
            app.call().load();
            observe(app.call());
            backup.handle();
        }
    }

    /**
     * Every call is seen here first, in either role and from any lane: the first call of a freshly executed image
     * patches its vDSO, and the slot counts calls.
     */
    private void observe(final InterceptedCall call) throws ReplicaStop
    {
        processes.arrived(call);
        if (!execPending.isEmpty() && execPending.remove(call.tid()))
        {
            patchVdso(call);
        }
        if (call.nr() == io.replicore.coordinator.intercept.Syscalls.EXECVE)
        {
            execPending.add(call.tid());
        }
        slot.interceptedCalls(interceptedCalls.incrementAndGet());
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
            events.info("diverged " + stop.getMessage() + "; stopped (two replicas: the primary's output stands)");
            return EXIT_DIVERGED;
        }
        final Vote vote = awaitVote(stop.sequence());
        if (vote.agreeWithPrimary > 0)
        {
            events.info("diverged " + stop.getMessage() + "; replicas " + vote.agreeing + " agree, so this " +
                "replica is the odd one and stopped");
        }
        else if (vote.agreeWithMe > 0)
        {
            final ReplicaSlot primary = mailbox.slot(mailbox.control().primaryId());
            primary.lastError(ReplicaState.DIVERGED.code(), "outvoted at log record " + stop.sequence() +
                " by replicas " + vote.disagreeing);
            if (primary.compareAndSetState(ReplicaState.PRIMARY, ReplicaState.DIVERGED) && !kernelPartition())
            {
                // In kernel partitions its pid is another kernel's: the slot's state fences it instead.
                ProcessHandle.of(primary.pid()).ifPresent(ProcessHandle::destroyForcibly);
            }
            events.info("diverged " + stop.getMessage() + "; replicas " + vote.disagreeing + " disagree with the primary, which " +
                "is the odd one: it was stopped");
        }
        else
        {
            events.info("diverged " + stop.getMessage() + "; no other backup gave a verdict in time; stopped");
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
