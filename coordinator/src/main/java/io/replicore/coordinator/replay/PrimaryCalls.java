package io.replicore.coordinator.replay;

import io.replicore.coordinator.intercept.DescriptorClassifier;
import io.replicore.coordinator.intercept.DescriptorFlags;
import io.replicore.coordinator.intercept.DescriptorKind;
import io.replicore.coordinator.intercept.SeccompListener;
import io.replicore.coordinator.natives.HostCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import io.replicore.coordinator.natives.SocketCalls;
import jnr.ffi.Pointer;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static io.replicore.coordinator.intercept.Syscalls.*;
import static io.replicore.coordinator.replay.LogRecord.*;

/**
 * The primary's side of every notified call: perform it for real where its outcome depends on the world, log the
 * outcome for the backups, and only then answer the application.
 */
public final class PrimaryCalls
{
    private static final HostCalls HOST = Native.load(HostCalls.class);
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final SocketCalls SOCKETS = Native.load(SocketCalls.class);
    private static final int ENOSYS = 38;
    private static final int SIGKILL = 9;
    private static final int SIGPIPE = 13;
    private static final int SIGCONT = 18;
    private static final int SIGSTOP = 19;
    private static final int EBADF = 9;
    private static final int EFAULT = 14;
    private static final int EINVAL = 22;
    private static final int EPIPE = 32;
    private static final int SOCK_NONBLOCK = 0x800;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int SOCK_CLOEXEC = 0x80000;
    /** sizeof(struct sockaddr_storage). */
    private static final int SOCKADDR_MAX = 128;
    /** Socket options are small structures; a larger one is refused as a fault. */
    private static final int OPTION_MAX = 256;
    /** sizeof(struct epoll_event) on x86_64: packed u32 events and u64 data. */
    private static final int EPOLL_EVENT_LENGTH = 12;
    /** The longest a primary waits for readiness without looking whether it has been replaced. */
    private static final int WAIT_SLICE_MS = 20;
    private static final long WAIT_SLICE_NS = TimeUnit.MILLISECONDS.toNanos(WAIT_SLICE_MS);
    /** The most one write puts in a pipe that polls writable without blocking: a page, one free pipe buffer. */
    private static final int PIPE_PAGE = 4096;
    /** How long a child's end waits for its parent to fall asleep in wait4, and how often it looks. */
    private static final long SLEEPER_WAIT_NS = TimeUnit.MILLISECONDS.toNanos(2);
    private static final long SLEEPER_POLL_NS = TimeUnit.MICROSECONDS.toNanos(20);
    /** A wait without a deadline. */
    private static final long FOREVER = Long.MAX_VALUE;
    /** Longer timeouts (146 years) are cut to this, so that a deadline on the monotonic clock cannot wrap. */
    private static final long TIMEOUT_MAX_NS = Long.MAX_VALUE / 2;
    /** {@link #waitInSlices} polls {@link #pollfds} instead of an epoll set. */
    private static final int OWN_POLLFDS = -1;
    /** struct pollfd: int fd, short events, short revents. */
    private static final int POLLFD_FD_OFFSET = 0;
    private static final int POLLFD_EVENTS_OFFSET = 4;
    private static final int POLLFD_REVENTS_OFFSET = 6;
    private static final int POLLFD_LENGTH = 8;
    private static final int POLLIN = 0x1;
    private static final int POLLPRI = 0x2;
    private static final int POLLOUT = 0x4;
    private static final int POLLERR = 0x8;
    private static final int POLLHUP = 0x10;
    private static final short POLLNVAL = 0x20;
    private static final int POLLRDNORM = 0x40;
    private static final int POLLRDBAND = 0x80;
    private static final int POLLWRNORM = 0x100;
    private static final int POLLWRBAND = 0x200;
    /** select's sets, in the order of its arguments: read, write, except. */
    private static final int SELECT_SETS = 3;
    /** Per set, the event that says the set asked for a descriptor. */
    private static final int[] SELECT_ASKS = {POLLIN, POLLOUT, POLLPRI};
    /** Per set, the events select counts as ready in it (POLLIN_SET, POLLOUT_SET, POLLEX_SET in fs/select.c). */
    private static final int[] SELECT_READY = {
        POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR, POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR, POLLPRI};
    /** Every descriptor table has room for this many (NR_OPEN_DEFAULT); select looks at none beyond the table. */
    private static final int DESCRIPTOR_TABLE_MIN = 64;
    private static final byte[] FDSIZE_KEY = "\nFDSize:\t".getBytes(StandardCharsets.US_ASCII);
    private static final int RLIMIT_NOFILE = 7;
    private static final int RLIMIT_CURRENT_OFFSET = 0;
    /** struct timespec and struct timeval: seconds, then nanoseconds or microseconds. */
    private static final int TIMEOUT_SECONDS_OFFSET = 0;
    private static final int TIMEOUT_FRACTION_OFFSET = 8;
    private static final int TIMEOUT_LENGTH = 16;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final long MICROS_PER_SECOND = 1_000_000L;
    /** pselect6's sixth argument points at the signal mask's address and its length. */
    private static final int SIGSET_ARGPACK_ADDRESS_OFFSET = 0;
    private static final int SIGSET_ARGPACK_SIZE_OFFSET = 8;
    private static final int SIGSET_ARGPACK_LENGTH = 16;
    /** sizeof(sigset_t) in the kernel: a mask of another length is EINVAL. */
    private static final long SIGSET_LENGTH = 8;
    private static final long UNSIGNED_INT_MASK = 0xFFFF_FFFFL;
    /** Instead of a count: a signal interrupted the wait, and the call is not to be answered. */
    private static final int INTERRUPTED = Integer.MIN_VALUE;
    /** Instead of a descriptor: the call has been answered already. */
    private static final int ANSWERED = -1;
    private static final int AT_FDCWD = -100;
    private static final int TIMER_ABSTIME = 1;
    // prctl options about the calling process alone (linux/prctl.h)
    private static final int PR_SET_PDEATHSIG = 1;
    private static final int PR_GET_PDEATHSIG = 2;
    private static final int PR_GET_DUMPABLE = 3;
    private static final int PR_SET_DUMPABLE = 4;
    private static final int PR_GET_KEEPCAPS = 7;
    private static final int PR_SET_KEEPCAPS = 8;
    private static final int PR_SET_NAME = 15;
    private static final int PR_GET_NAME = 16;
    private static final int PR_CAPBSET_READ = 23;
    private static final int PR_SET_NO_NEW_PRIVS = 38;
    private static final int PR_GET_NO_NEW_PRIVS = 39;
    private static final int AT_EMPTY_PATH = 0x1000;
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000;
    private static final int STAT_LENGTH = 144;
    private static final int STATX_LENGTH = 256;
    private static final int UTSNAME_LENGTH = 390;
    private static final int SYSINFO_LENGTH = 112;
    private static final int CPU_SET_MAX = 1024;
    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    private static final int CLOCK_THREAD_CPUTIME_ID = 3;
    private static final int CLOCK_MONOTONIC = 1;
    private static final int PATH_MAX = 4096;
    private static final int SEEK_SET = 0;
    private static final int SEEK_CUR = 1;
    /** Ancillary data a recvmsg may ask for; any that arrives stops the replica. */
    private static final int CONTROL_MAX = 256;
    /** The segments a recvmsg adds beyond its data: name length, name, control length, flags. */
    private static final int MESSAGE_SEGMENTS_LENGTH = 4 * (SEGMENT_HEADER_LENGTH + 8) + SOCKADDR_MAX;
    // The primary's own struct msghdr for recvmsg, and what it points to.
    private static final int OWN_MSGHDR_OFFSET = 0;
    private static final int OWN_IOVEC_OFFSET = InterceptedCall.MSGHDR_LENGTH;
    private static final int OWN_NAME_OFFSET = OWN_IOVEC_OFFSET + InterceptedCall.IOVEC_LENGTH;
    private static final int OWN_CONTROL_OFFSET = OWN_NAME_OFFSET + SOCKADDR_MAX;
    private static final int OWN_MESSAGE_LENGTH = OWN_CONTROL_OFFSET + CONTROL_MAX;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    /** The most descriptors one receive can bring in {@link #CONTROL_MAX} bytes of ancillary data. */
    private static final int PASSED_MAX = CONTROL_MAX / 4;
    /** The RECEIVE record's first segment at its largest. */
    private static final int RECEIVED_SEGMENT_MAX =
        SEGMENT_HEADER_LENGTH + RECEIVED_DESCRIPTORS_OFFSET + 4 * PASSED_MAX;

    private final InterceptedCall call;
    private final SeccompListener listener;
    private final LogSink log;
    private final SocketOwner sockets;
    private final DescriptorClassifier classifier;
    private final ApplicationProcesses processes;
    private final SignalDelivery signals;
    private final TimerSignalInfo signalInfo = new TimerSignalInfo();
    /** Serial mode's switch points; null in parallel mode, where they are not notified. */
    private final SerialCalls serial;
    private final TimerCalls timerCalls;
    private final Timespecs times;
    /** The thread of the call in hand does not run on: the answer found it gone, or a signal is to end it there. */
    private boolean gone;
    private final int appPidfd;
    private final UnsafeBuffer record;
    private final Native.Scratch ownMessage = Native.allocate(OWN_MESSAGE_LENGTH);
    /** The primary's own pollfd array for poll and select: duplicates of the application's descriptors. */
    private final Native.Scratch pollfds;
    /**
     * What a readiness call writes back before the time left: poll's pollfd array, or select's three sets (0 for
     * a set not passed); and where the bytes of each lie in the record (-1: none).
     */
    private final long[] readinessAddress = new long[SELECT_SETS];
    private final int[] readinessData = new int[SELECT_SETS];
    /** The descriptors {@link #duplicate} made for the call in hand; the last one is of {@link #lastDuplicated}. */
    private int[] heldDuplicates = new int[16];
    private int heldCount;
    private int lastDuplicated = -1;
    /** The application's numbers of the descriptors the call in hand received ({@link #installPassed}). */
    private final int[] passedNumbers = new int[PASSED_MAX];
    private final ControlMessages controlMessages = new ControlMessages();
    /** What {@link #kindOf} found {@code kindFd} to be, for the call in hand. */
    private DescriptorKind lastKind;
    private int kindFd = -1;
    /** The value length the application offered to the call in hand (getsockopt, getsockname...). */
    private int valueCapacity;
    private final long dieInAcceptAt;
    private final PrimaryChecks whileWaiting;
    /** Accepts made by every lane, for {@link #dieInAcceptAt}; its monitor makes the lanes' accepts one at a time. */
    private final AtomicLong accepts;
    /** Kernel partitions: the state of the connection being accepted, for its record. */
    private final UnsafeBuffer connectionState = new UnsafeBuffer(new byte[128]);
    /** Why {@link #emit} stopped short: an errno, or 0. */
    private int emitError;

    /**
     * @param processes the application's processes and threads, shared by the primary's lanes.
     * @param signals signals the operator asked for, shared by the lanes.
     * @param appPidfd a pidfd of the application's first process, whose death ends the replica.
     * @param dieInAcceptAt fault injection: kill this partition right after the N-th accept (0: never), counted
     * in {@code accepts}, which the lanes share.
     * @param whileWaiting run between the slices of a wait.
     */
    public PrimaryCalls(
        final InterceptedCall call, final LogSink log, final SocketOwner sockets,
        final DescriptorClassifier classifier, final ApplicationProcesses processes, final SignalDelivery signals,
        final int appPidfd, final long dieInAcceptAt, final AtomicLong accepts, final PrimaryChecks whileWaiting)
    {
        this.signals = signals;
        this.dieInAcceptAt = dieInAcceptAt;
        this.accepts = accepts;
        this.processes = processes;
        this.serial = processes.serialToken() == null ? null : new SerialCalls(call, processes, whileWaiting);
        this.whileWaiting = whileWaiting;
        this.call = call;
        this.listener = call.listener;
        this.log = log;
        this.sockets = sockets;
        this.classifier = classifier;
        this.appPidfd = appPidfd;
        this.record = call.recordBuffer;
        this.pollfds = Native.allocate(call.record.capacity());
        this.timerCalls = new TimerCalls(call, signals.timers());
        this.times = new Timespecs(call);
    }

    /**
     * Handle the loaded notification.
     *
     * @throws ReplicaStop for a call that cannot be replicated; it has been logged as STOP for the backups.
     */
    public void handle() throws ReplicaStop
    {
        log.checkStillPrimary();
        sockets.beforeCall(call.logicalPid, call.process, listener);
        final long restarted = signals.awake(call.tid, call);
        gone = false;
        if (serial != null && !SerialCalls.mayWait(call.nr))
        {
            serial.acquire(); // its effects too happen while no other thread runs
        }
        try
        {
            if (restarted != SignalDelivery.NO_ANSWER)
            {
                value(restarted); // the kernel would have failed it, not made it again
            }
            else if (!signals.isPendingFor(call.logicalPid, call.logicalTid) || !deliverSignal())
            {
                dispatch(call.args);
            }
        }
        finally
        {
            releaseDuplicates();
        }
        processes.answered(call, gone);
    }

    private void dispatch(final long[] a) throws ReplicaStop
    {
        switch (call.nr)
        {
            case EXECVE -> execve();
            case READ -> input((int)a[0], a[1], a[2], -1);
            case PREAD64 -> input((int)a[0], a[1], a[2], a[3]);
            case READV -> inputVector((int)a[0], a[1], (int)a[2]);
            case WRITE -> output((int)a[0], a[1], a[2], -1);
            case PWRITE64 -> output((int)a[0], a[1], a[2], a[3]);
            case WRITEV -> outputVector((int)a[0], a[1], (int)a[2]);
            case OPEN -> openForWriting(AT_FDCWD, a[0], (int)a[1], (int)a[2]);
            case OPENAT -> openForWriting((int)a[0], a[1], (int)a[2], (int)a[3]);
            case FSTAT -> statDescriptor((int)a[0], a[1]);
            case NEWFSTATAT -> statAt((int)a[0], a[1], a[2], (int)a[3]);
            case STATX -> statxAt((int)a[0], a[1], (int)a[2], (int)a[3], a[4]);
            case IOCTL -> ioctl((int)a[0], a[1], a[2]);
            case CONNECT -> connect((int)a[0], a[1], (int)a[2]);
            case GETRANDOM -> getrandom(a[0], a[1], (int)a[2]);
            case UNAME -> fillStruct(a[0], UTSNAME_LENGTH, HOST.uname(call.record.at(dataOffset())));
            case SYSINFO -> fillStruct(a[0], SYSINFO_LENGTH, HOST.sysinfo(call.record.at(dataOffset())));
            case CLOCK_GETTIME -> clockGettime((int)a[0], a[1]);
            case GETTIMEOFDAY -> gettimeofday(a[0], a[1]);
            case TIME -> time(a[0]);
            case GETCPU -> getcpu(a[0], a[1]);
            case SCHED_GETAFFINITY -> schedGetaffinity((int)a[0], a[1], a[2]);
            case RSEQ -> value(-ENOSYS);
            case UNLINK, RMDIR, MKDIR, CHMOD, CHOWN, TRUNCATE -> changePaths(AT_FDCWD, a[0], AT_FDCWD, 0);
            case RENAME, LINK -> changePaths(AT_FDCWD, a[0], AT_FDCWD, a[1]);
            case SYMLINK -> changePaths(AT_FDCWD, a[1], AT_FDCWD, 0);
            case UNLINKAT, MKDIRAT, FCHMODAT, FCHOWNAT -> changePaths((int)a[0], a[1], AT_FDCWD, 0);
            case RENAMEAT, RENAMEAT2 -> changePaths((int)a[0], a[1], (int)a[2], a[3]);
            case FTRUNCATE, FCHMOD, FCHOWN, FALLOCATE -> changeDescriptor((int)a[0]);
            case CLOSE -> close((int)a[0]);
            case BIND -> socketValue((int)a[0], SocketOp.BIND, a[1], (int)a[2]);
            case LISTEN -> socketValue((int)a[0], SocketOp.LISTEN, 0, (int)a[1]);
            case SHUTDOWN -> socketValue((int)a[0], SocketOp.SHUTDOWN, 0, (int)a[1]);
            case SETSOCKOPT -> setsockopt((int)a[0], (int)a[1], (int)a[2], a[3], (int)a[4]);
            case GETSOCKOPT -> getsockopt((int)a[0], (int)a[1], (int)a[2], a[3], a[4]);
            case GETSOCKNAME, GETPEERNAME -> socketName((int)a[0], a[1], a[2]);
            case ACCEPT -> accept((int)a[0], a[1], a[2], 0);
            case ACCEPT4 -> accept((int)a[0], a[1], a[2], (int)a[3]);
            case SENDTO -> send((int)a[0], a[1], a[2], a[4]);
            case RECVFROM -> recvfrom((int)a[0], a[1], a[2], (int)a[3], a[4], a[5]);
            case SENDMSG -> sendmsg((int)a[0], a[1]);
            case RECVMSG -> recvmsg((int)a[0], a[1], (int)a[2]);
            case SENDFILE -> sendfile((int)a[0], (int)a[1], a[2], a[3]);
            case EPOLL_WAIT, EPOLL_PWAIT -> epollWait((int)a[0], a[1], (int)a[2], (int)a[3]);
            case POLL -> poll(a[0], a[1] & UNSIGNED_INT_MASK, (int)a[2]);
            case PPOLL -> ppoll(a[0], a[1] & UNSIGNED_INT_MASK, a[2], a[3], a[4]);
            case SELECT -> select((int)a[0], a[1], a[2], a[3], a[4]);
            case PSELECT6 -> pselect6((int)a[0], a[1], a[2], a[3], a[4], a[5]);
            case CLONE, CLONE3, FORK, VFORK -> createChild();
            // Ids inside the replica's pid namespace are the same in every replica: each replica runs these itself.
            case WAIT4, WAITID -> waitForChild();
            case KILL -> sendSignal((int)a[0], SignalDelivery.ANY_THREAD, (int)a[1]);
            case ALARM, SETITIMER, GETITIMER, TIMER_CREATE, TIMER_SETTIME, TIMER_GETTIME, TIMER_GETOVERRUN,
                TIMER_DELETE -> timerCall();
            case TKILL -> sendSignal(processOfThread((int)a[0]), (int)a[0], (int)a[1]);
            case TGKILL -> sendSignal((int)a[0], (int)a[1], (int)a[2]);
            case EXIT_GROUP -> exitGroup();
            // Waits for a signal with the mask the program chose: a signal that ends it is taken at the same point in
            // every replica, inside the wait (a program that unblocks its signals only here, as nginx's master does).
            case RT_SIGSUSPEND, PAUSE -> sleepForSignal();
            // Credentials are the process's own, and every replica drops the same privileges at the same point.
            case SETUID, SETGID, SETREUID, SETREGID, SETGROUPS, SETRESUID, SETRESGID -> proceed();
            case PRCTL -> prctl((int)a[0]);
            case CLOSE_RANGE -> closeRange(a[0] & UNSIGNED_INT_MASK, a[1] & UNSIGNED_INT_MASK);
            // Serial mode only: in parallel mode the filter lets these run.
            case FUTEX -> futex(a);
            case EXIT -> exitThread();
            case NANOSLEEP -> sleep(CLOCK_MONOTONIC, 0, a[0], a[1]);
            case CLOCK_NANOSLEEP -> sleep((int)a[0], (int)a[1], a[2], a[3]);
            case SCHED_YIELD -> value(0);
            default -> stop(call.name() + " (system call " + call.nr + ") cannot be replicated by this version");
        }
    }

    private int dataOffset()
    {
        return CALL_HEADER_LENGTH + SEGMENT_HEADER_LENGTH;
    }

    private void execve() throws ReplicaStop
    {
        final String path = call.memory.readString(call.tid, call.args[0], call.work, PATH_MAX);
        final long signature = path == null ? call.signatureOfArguments() : Signature.ofString(EXECVE, path);
        appendCall(ACTION_CONTINUE, signature, 0, CALL_HEADER_LENGTH);
        respond(listener.continueCall());
    }

    /**
     * A new thread or process: every replica makes its own, one at a time in log order (ApplicationProcesses), so
     * that it gets the same id inside every replica's pid namespace.
     */
    private void createChild() throws ReplicaStop
    {
        appendCall(ACTION_CONTINUE, call.signatureOfArguments(), 0, CALL_HEADER_LENGTH);
        // A vfork (or clone with CLONE_VFORK) sleeps until its child has left it: a child's end is taken there.
        // Marked before the answer, after which the thread may make its next call at once, in another lane.
        signals.asleep(call);
        respond(processes.createChild(call, listener::continueCall));
    }

    /**
     * wait4 and waitid run in every replica; a child's end is taken while the caller sleeps in one (ChildEnds), so
     * that the zombies it finds are the same everywhere.
     */
    private void waitForChild() throws ReplicaStop
    {
        signals.asleep(call); // before the answer, as for a clone
        proceed();
    }

    private void futex(final long[] a) throws ReplicaStop
    {
        if (!SerialCalls.isOrdered((int)a[1]))
        {
            stop("futex operation " + SerialCalls.command((int)a[1]) + " is not ordered by serial mode; run this " +
                "program with --scheduling parallel");
        }
        value(serial.futex(a[0], (int)a[1], (int)a[2], a[3], (int)a[5]));
    }

    /**
     * Every replica closes its own descriptors; the primary forgets the sockets among them.
     */
    private void closeRange(final long first, final long last) throws ReplicaStop
    {
        proceed();
        for (int fd = (int)Math.min(first, Integer.MAX_VALUE); fd <= last && fd < sockets.trackedLimit(call.logicalPid);
            fd++)
        {
            sockets.closed(call.logicalPid, fd);
        }
    }

    /**
     * A signal the application sends one of its own processes (ids inside the replica) is delivered as an
     * operator's is ({@link SignalDelivery}): at a point of the target that every replica reproduces, instead of
     * wherever it happens to be running. kill answers at once, as the kernel's does once the signal is queued.
     * The kernel keeps the rest: a signal to the caller itself (raise, abort: delivered before the call returns),
     * the existence check (signal 0), process groups, SIGKILL, SIGSTOP and SIGCONT, and a target the coordinator
     * does not know (the kernel's ESRCH).
     */
    private void sendSignal(final int owner, final int thread, final int signo) throws ReplicaStop
    {
        if (owner <= 0 && thread == SignalDelivery.ANY_THREAD && signo > 0 && signo != SIGKILL && signo != SIGSTOP &&
            signo != SIGCONT)
        {
            signalGroup(owner, signo);
            return;
        }
        final boolean toItself = owner == call.logicalPid && (thread == SignalDelivery.ANY_THREAD ||
            thread == call.logicalTid);
        if (toItself || owner <= 0 || signo <= 0 || signo == SIGKILL || signo == SIGSTOP || signo == SIGCONT ||
            (thread == SignalDelivery.ANY_THREAD ? processes.hostPidOf(owner) :
            processes.threads().hostTidOf(thread)) < 0)
        {
            proceed();
            return;
        }
        signals.post(owner, thread, signo, SignalDelivery.NO_COMMAND);
        value(0);
    }

    /**
     * nanosleep and clock_nanosleep, in either mode: the primary sleeps in slices (serial mode: without the grant,
     * so that other threads run meanwhile), and a backup is told how it ended without sleeping. A signal for the
     * thread meanwhile is delivered here and ends the sleep, as a timer's SIGALRM or the operator's signal ends the
     * kernel's (which never makes a sleep again after a handler: EINTR), and a relative one leaves the time left at
     * {@code left}, as the kernel's does.
     */
    private void sleep(final int clock, final int flags, final long request, final long left) throws ReplicaStop
    {
        final long ns = times.read(request);
        if (ns < 0)
        {
            value(ns == Timespecs.UNREADABLE ? -EFAULT : -EINVAL);
            return;
        }
        final boolean absolute = (flags & TIMER_ABSTIME) != 0;
        final long deadlineNs = absolute ? times.deadlineOf(clock, ns) : System.nanoTime() + ns;
        while (System.nanoTime() - deadlineNs < 0)
        {
            LockSupport.parkNanos(Math.min(WAIT_SLICE_NS, deadlineNs - System.nanoTime()));
            whileWaiting.check();
            if (signals.isPendingFor(call.logicalPid, call.logicalTid))
            {
                // A relative sleep a signal ends leaves the time left where the program asked for it.
                final long leftNs = Math.max(0, deadlineNs - System.nanoTime());
                record.putLong(dataOffset(), leftNs / Timespecs.NANOS_PER_SECOND);
                record.putLong(dataOffset() + 8, leftNs % Timespecs.NANOS_PER_SECOND);
                if (deliverSignal(absolute ? 0 : left, Timespecs.TIMESPEC_LENGTH))
                {
                    return;
                }
            }
        }
        value(0);
    }

    /**
     * A timer that signals is the coordinator's ({@link Timers}): set or read here, its signal posted when it
     * expires and delivered at a logged point.
     */
    private void timerCall() throws ReplicaStop
    {
        final long result;
        try
        {
            result = timerCalls.apply(record, dataOffset());
        }
        catch (final ReplicaStop unsupported)
        {
            stop(unsupported.getMessage());
            return;
        }
        if (result < 0 || timerCalls.outAddress() == 0)
        {
            value(result);
        }
        else
        {
            resultWithData(result, timerCalls.outAddress(), timerCalls.outLength());
        }
    }

    /**
     * kill of a process group (0: the caller's, -N: group N) or of every process but the caller (-1): each of the
     * application's processes in it takes the signal at a point of its own, as from a kill of it alone; the caller,
     * if it is one of them, takes it in this call, as the kernel gives it before the call returns (and a handler's
     * SA_RESTART makes the call again, which is answered 0 without sending it twice).
     */
    private void signalGroup(final int target, final int signo) throws ReplicaStop
    {
        final int group = target == 0 ? ApplicationProcesses.groupOf(call.process) : -target;
        boolean caller = false;
        int members = 0;
        for (final int process : processes.all())
        {
            final int member = processes.threads().of(process).logicalPid();
            final boolean in = target == -1 ? member != call.logicalPid :
                ApplicationProcesses.groupOf(process) == group;
            if (member < 0 || !in)
            {
                continue;
            }
            members++;
            if (member == call.logicalPid)
            {
                caller = true;
            }
            else
            {
                signals.post(member, SignalDelivery.ANY_THREAD, signo, SignalDelivery.NO_COMMAND);
            }
        }
        if (members == 0)
        {
            proceed(); // none of the application's processes: the kernel answers (ESRCH)
            return;
        }
        final int effect = caller ? SignalDelivery.effectOf(call.process, call.tid, signo) : SignalDelivery.DROPPED;
        if (effect == SignalDelivery.DROPPED || !signalThisThread(signo, null, effect, 0, 0, 0))
        {
            value(0);
        }
    }

    /**
     * @return the process of the known thread {@code thread} (ids inside the replica), or 0 if it is not known.
     */
    private int processOfThread(final int thread)
    {
        final int hostTid = processes.threads().hostTidOf(thread);
        return hostTid < 0 ? 0 : processes.threads().of(hostTid).logicalPid();
    }

    /**
     * The thread sleeps until a signal comes: every replica lets it, and a signal the operator asks for meanwhile is
     * delivered while it sleeps there ({@link SignalDelivery#deliverToSleepers}).
     */
    private void sleepForSignal() throws ReplicaStop
    {
        // Before the answer, as for a clone: a signal is sent only once the thread sleeps in the kernel, not while
        // it is still stopped in the notification (ChildWatch.sleepsIn), where it would withdraw the call instead
        // of ending the wait.
        signals.asleep(call);
        proceed();
    }

    /**
     * A signal the operator asked for, waiting for the calling thread's process, goes to the thread now, while it
     * is stopped in this call: logged, then sent ({@link SignalDelivery}); or a child's held end is let run here.
     *
     * @return true if it interrupted the call, which is then not to be answered.
     */
    private boolean deliverSignal() throws ReplicaStop
    {
        return deliverSignal(0, 0);
    }

    /**
     * As {@link #deliverSignal()}; a signal that interrupts the call also leaves {@code leftLength} bytes, already
     * in the record's data area, at {@code leftAddress} in the application (a sleep's time left).
     */
    private boolean deliverSignal(final long leftAddress, final int leftLength) throws ReplicaStop
    {
        final long[] signal = signals.take(call.logicalPid, call.logicalTid);
        if (signal == null)
        {
            return false;
        }
        final int ended = (int)signal[SignalDelivery.ENDED];
        if (ended == 0)
        {
            final int signo = (int)signal[SignalDelivery.SIGNO];
            final boolean interrupted = signalThisThread(signo, signal,
                SignalDelivery.effectOf(call.process, call.tid, signo), SignalDelivery.NO_ANSWER, leftAddress,
                leftLength);
            signals.delivered((int)signal[SignalDelivery.SEQUENCE]);
            return interrupted;
        }
        final int signo = signals.ends().exitSignalOf(ended);
        final boolean interrupts = signo > 0 && SignalDelivery.interrupts(call.process, call.tid, signo);
        LogRecord.putCall(record, 0, call.nr, interrupts ? ACTION_CHILD_END : ACTION_CHILD_END_PENDING,
            call.signatureOfArguments(), ended);
        appendRecord(interrupts ? leftBehind(leftAddress, leftLength) : CALL_HEADER_LENGTH);
        if (interrupts)
        {
            signals.interrupted(call); // before the thread can make the call again, in another lane
        }
        signals.release(ended, log);
        return interrupts && awaitWithdrawn(signo);
    }

    /**
     * Send {@code signo} to the calling thread, stopped in this call, once its record is in the log: one that stays
     * pending leaves the call to be answered (SIGNAL_PENDING); one that interrupts withdraws it (SIGNAL); one whose
     * default action ends a process whose parent is the application's is that process's end, held here until a
     * point of the parent like an exit_group (END_HELD with the signal).
     *
     * @param queued the signal as {@link SignalDelivery#take} gave it, whose siginfo (a POSIX timer's) goes with it;
     * null for one sent with tgkill's.
     * @param effect what the signal does to the thread ({@link SignalDelivery#effectOf}).
     * @param answer what the call is to get if a handler's SA_RESTART makes it again; {@link
     * SignalDelivery#NO_ANSWER}: as for any signal.
     * @param leftAddress where the call, if the signal interrupts it, leaves {@code leftLength} bytes that are in the
     * record's data area (a sleep's time left; 0: nothing), in the SIGNAL record as a segment.
     * @return true if the call is not to be answered here.
     */
    private boolean signalThisThread(final int signo, final long[] queued, final int effect, final long answer,
        final long leftAddress, final int leftLength) throws ReplicaStop
    {
        if (effect == SignalDelivery.ENDS)
        {
            final int parent = signals.ends().parentOf(call.process);
            if (parent >= 0)
            {
                sockets.ended(call.logicalPid);
                holdEnd(parent, signo);
                gone = true; // serial mode: held until it ends, it does not run
                return true;
            }
        }
        final boolean interrupts = effect >= SignalDelivery.INTERRUPTS;
        LogRecord.putCall(record, 0, call.nr, interrupts ? ACTION_SIGNAL : ACTION_SIGNAL_PENDING,
            call.signatureOfArguments(), signo);
        final int left = interrupts ? leftBehind(leftAddress, leftLength) : CALL_HEADER_LENGTH;
        final int length = queued == null ? left : signals.appendInfo(queued, record, left);
        appendRecord(length);
        if (interrupts)
        {
            signals.interrupted(call, answer); // before the thread can make the call again, in another lane
        }
        SignalDelivery.send(call.process, call.tid, signo, signalInfo, record, CALL_HEADER_LENGTH, length);
        return interrupts && awaitWithdrawn(signo);
    }

    /**
     * Write the {@code leftLength} bytes in the record's data area to {@code leftAddress} in the application (0:
     * none), what a call a signal interrupts leaves behind (a sleep's time left), as a segment of the record in hand,
     * whose header is in place.
     *
     * @return the record's length; without the segment if the bytes could not be written.
     */
    private int leftBehind(final long leftAddress, final int leftLength)
    {
        return leftAddress == 0 ? CALL_HEADER_LENGTH :
            Math.max(CALL_HEADER_LENGTH, appendAndCopy(CALL_HEADER_LENGTH, leftAddress, leftLength));
    }

    /**
     * Wait until the signal just sent has withdrawn the call in hand.
     *
     * @return true.
     * @throws ReplicaStop if it did not within {@link SignalDelivery#WITHDRAW_LIMIT_NS}.
     */
    private boolean awaitWithdrawn(final int signo) throws ReplicaStop
    {
        if (!SignalDelivery.awaitWithdrawn(listener::isCurrent))
        {
            stop("signal " + signo + " did not interrupt " + call.name() + " of thread " + call.logicalTid +
                " within " + TimeUnit.NANOSECONDS.toSeconds(SignalDelivery.WITHDRAW_LIMIT_NS) + " s");
        }
        return true;
    }

    /**
     * A process ends, and its descriptors with it: the backups let go of their duplicates of its sockets. A process
     * other than the first is held in the call until a point of its parent (ChildEnds).
     */
    private void exitGroup() throws ReplicaStop
    {
        sockets.ended(call.logicalPid);
        final int parent = signals.ends().parentOf(call.process);
        if (parent < 0)
        {
            proceed(); // the first process: its parent is outside the replica
            return;
        }
        holdEnd(parent, 0);
    }

    /**
     * Hold the calling thread's process's end in this call until a point of its parent (ChildEnds): logged first, so
     * that every backup holds its own too.
     *
     * @param signo 0 if the call is its exit_group; else the signal that is to end it.
     */
    private void holdEnd(final int parent, final int signo) throws ReplicaStop
    {
        appendCall(ACTION_END_HELD, call.signatureOfArguments(), signo, CALL_HEADER_LENGTH);
        signals.postEnd(signals.ends().hold(call, parent, signo), parent);
        // A parent just let into wait4 is asleep there within microseconds: it takes the end now, not at the next
        // check between calls.
        final long deadline = System.nanoTime() + SLEEPER_WAIT_NS;
        signals.deliverToSleepers(log);
        while (signals.ends().isHeld(call.logicalTid) && System.nanoTime() - deadline < 0)
        {
            LockSupport.parkNanos(SLEEPER_POLL_NS);
            signals.deliverToSleepers(log);
        }
    }

    /**
     * A thread ends: every replica lets it, and goes on once it is gone (ApplicationProcesses#exitThread).
     */
    private void exitThread() throws ReplicaStop
    {
        appendCall(ACTION_CONTINUE, call.signatureOfArguments(), 0, CALL_HEADER_LENGTH);
        respond(processes.exitThread(call, listener::continueCall));
    }

    /**
     * prctl options that only set or read the calling process's own attributes run in every replica; any other
     * stops the replica, naming the option.
     */
    private void prctl(final int option) throws ReplicaStop
    {
        switch (option)
        {
            case PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_GET_KEEPCAPS, PR_SET_KEEPCAPS,
                PR_SET_NAME, PR_GET_NAME, PR_CAPBSET_READ, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS -> proceed();
            default -> stop("prctl option " + option + " cannot be replicated by this version");
        }
    }

    private void proceed() throws ReplicaStop
    {
        appendCall(ACTION_CONTINUE, call.signatureOfArguments(), 0, CALL_HEADER_LENGTH);
        respond(listener.continueCall());
    }

    /**
     * Complete with {@code value} (a result or -errno) and nothing written into the application.
     */
    private void value(final long value) throws ReplicaStop
    {
        appendCall(ACTION_RESULT, call.signatureOfArguments(), value, CALL_HEADER_LENGTH);
        respond(listener.answer(value));
    }

    /**
     * Log a RESULT whose one segment, already in the record's data area, goes to {@code address}; copy it there;
     * answer {@code result}.
     */
    private void resultWithData(final long result, final long address, final int length) throws ReplicaStop
    {
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), result);
        final int recordLength = appendAndCopy(CALL_HEADER_LENGTH, address, length);
        if (recordLength < 0)
        {
            value(-EFAULT);
            return;
        }
        appendRecord(recordLength);
        respond(listener.answer(result));
    }

    /**
     * Append a segment for {@code address} whose {@code length} bytes are in place after the record's first
     * {@code recordLength} bytes, and copy them into the application there. Nothing to copy, no segment.
     *
     * @return the record's new length, or -1 if the application's memory could not take the bytes.
     */
    private int appendAndCopy(final int recordLength, final long address, final int length)
    {
        if (length == 0)
        {
            return recordLength;
        }
        final long data = call.record.address() + LogRecord.segmentData(0, recordLength);
        return call.memory.write(call.tid, address, data, length) == length ?
            LogRecord.appendSegment(record, 0, recordLength, address, length) : -1;
    }

    private void input(final int fd, final long buffer, final long count, final long offset) throws ReplicaStop
    {
        if (offset < 0 && kindOf(fd) == DescriptorKind.INTERNAL_SOCKET)
        {
            receiveInternal(fd, oneIovec(buffer, count), 0, 0, 0);
            return;
        }
        final int dup = externalDuplicate(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final long length = Math.min(count, call.maxData());
        if (offset < 0 && sockets.isSocket(call.logicalPid, fd))
        {
            socketInput(fd, dup, buffer, length, 0);
            return;
        }
        if (offset < 0 && awaitReadable(dup) == INTERRUPTED)
        {
            return;
        }
        final long n = offset < 0 ? HOST.read(dup, call.record.at(dataOffset()), length) :
            HOST.pread(dup, call.record.at(dataOffset()), length, offset);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        resultWithData(n, buffer, (int)n);
    }

    /**
     * A read of an empty pipe or terminal that would block waits in slices, as a readiness wait does, so that a
     * signal or a child's end is taken while it waits (a shell reads a command substitution's pipe until the child
     * ends, and the child's end waits for a point of the shell).
     *
     * @return {@link #INTERRUPTED} if a signal interrupted the call, which is then not to be answered; else ready
     * or non-blocking: read now.
     */
    private int awaitReadable(final int dup) throws ReplicaStop
    {
        if (pollOwn(dup, POLLIN, 0) != 0 ||
            (HOST.fcntl(dup, DescriptorFlags.F_GETFL, 0) & DescriptorFlags.O_NONBLOCK) != 0)
        {
            return 1;
        }
        return waitInSlices(OWN_POLLFDS, 1, FOREVER, System.nanoTime());
    }

    /**
     * Poll {@code dup} alone for {@code events}, as the first entry of {@link #pollfds}.
     *
     * @return what poll returned.
     */
    private int pollOwn(final int dup, final int events, final int timeoutMs)
    {
        final UnsafeBuffer own = pollfds.buffer();
        own.putInt(POLLFD_FD_OFFSET, dup);
        own.putShort(POLLFD_EVENTS_OFFSET, (short)events);
        own.putShort(POLLFD_REVENTS_OFFSET, (short)0);
        return HOST.poll(pollfds.pointer(), 1, timeoutMs);
    }

    /**
     * readv from a socket, pipe or terminal: the bytes, read (or peeked, for a socket) into the work buffer, are
     * logged as one segment per iovec they fill.
     */
    private void inputVector(final int fd, final long iov, final int iovCount) throws ReplicaStop
    {
        if (kindOf(fd) == DescriptorKind.INTERNAL_SOCKET)
        {
            final int count = readIovecs(iov, iovCount);
            if (count < 0)
            {
                value(-EFAULT);
                return;
            }
            receiveInternal(fd, count, 0, 0, 0);
            return;
        }
        final int dup = externalDuplicate(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int count = readIovecs(iov, iovCount);
        if (count < 0)
        {
            value(-EFAULT);
            return;
        }
        final boolean socket = sockets.isSocket(call.logicalPid, fd);
        if (!socket && awaitReadable(dup) == INTERRUPTED)
        {
            return;
        }
        final long capacity = scatterCapacity(count, 0);
        final long n = socket ? peek(call.work.pointer(), dup, capacity, 0) :
            HOST.read(dup, call.work.pointer(), capacity);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), n);
        final int length = scatter(CALL_HEADER_LENGTH, n, count);
        if (length < 0)
        {
            value(-EFAULT);
            return;
        }
        appendRecord(length);
        if (socket)
        {
            consume(fd, dup, n, n == 0 && capacity > 0);
        }
        respond(listener.answer(n));
    }

    /**
     * One iovec for {@code buffer} in the call's iovec buffer, as if read from the application.
     *
     * @return 1, the number of iovecs.
     */
    private int oneIovec(final long buffer, final long count)
    {
        call.iovecs.buffer().putLong(0, buffer);
        call.iovecs.buffer().putLong(8, count);
        return 1;
    }

    /**
     * Read the application's iovec array into the call's iovec buffer: its first {@link InterceptedCall#IOV_BATCH}
     * entries, since a read may fill fewer than asked for.
     *
     * @return the number of entries read, or -1 if the array could not be read.
     */
    private int readIovecs(final long iov, final long iovCount)
    {
        final int count = (int)Math.min(Math.max(iovCount, 0), InterceptedCall.IOV_BATCH);
        final long bytes = (long)InterceptedCall.IOVEC_LENGTH * count;
        return call.memory.read(call.tid, iov, call.iovecs.address(), bytes) == bytes ? count : -1;
    }

    /**
     * @return the most bytes to read for the {@code count} iovecs read: what they hold, within what one record
     * carries in that many segments besides {@code otherSegments} bytes of others, and within the work buffer.
     */
    private long scatterCapacity(final int count, final int otherSegments)
    {
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            total += Math.max(0, call.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * i + 8));
        }
        final long room = call.maxData() - otherSegments - (long)count * (SEGMENT_HEADER_LENGTH + 8);
        return Math.max(0, Math.min(total, Math.min(room, call.work.capacity())));
    }

    /**
     * Append segments that spread the first {@code n} bytes of the work buffer over the iovecs read, and copy them
     * into the application.
     *
     * @return the record's length, or -1 if the application's memory could not be written.
     */
    private int scatter(final int recordLength, final long n, final int count)
    {
        int length = recordLength;
        long done = 0;
        for (int i = 0; i < count && done < n && length >= 0; i++)
        {
            final long base = call.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * i);
            final int piece = (int)Math.min(call.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * i + 8), n - done);
            if (piece > 0)
            {
                length = segment(length, base, call.work.buffer(), (int)done, piece);
                done += piece;
            }
        }
        return length;
    }

    /**
     * {@link #appendAndCopy} with the bytes taken from {@code source} at {@code sourceOffset} first.
     *
     * @return the record's length, or -1 if {@code recordLength} was or the memory could not be written.
     */
    private int segment(
        final int recordLength, final long address, final DirectBuffer source, final int sourceOffset, final int length)
    {
        if (recordLength < 0)
        {
            return -1;
        }
        record.putBytes(LogRecord.segmentData(0, recordLength), source, sourceOffset, length);
        return appendAndCopy(recordLength, address, length);
    }

    private void output(final int fd, final long buffer, final long count, final long offset) throws ReplicaStop
    {
        if (kindOf(fd).isWrittenByEveryReplica())
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        call.signature.reset();
        emitError = 0;
        final long written = emitOnce(fd, dup, buffer, count, offset);
        appendOutput(written > 0 || emitError == 0 ? written : -emitError, call.signature.value());
    }

    private void outputVector(final int fd, final long iov, final int iovCount) throws ReplicaStop
    {
        if (kindOf(fd).isWrittenByEveryReplica())
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final InterceptedCall c = call;
        c.signature.reset();
        emitError = 0;
        long written = 0;
        final int count = Math.min(iovCount, InterceptedCall.IOV_MAX);
        outer:
        for (int i = 0; i < count; i += InterceptedCall.IOV_BATCH)
        {
            final int batch = Math.min(InterceptedCall.IOV_BATCH, count - i);
            final long bytes = (long)InterceptedCall.IOVEC_LENGTH * batch;
            if (c.memory.read(c.tid, iov + (long)InterceptedCall.IOVEC_LENGTH * i, c.iovecs.address(), bytes) != bytes)
            {
                emitError = EFAULT;
                break;
            }
            for (int j = 0; j < batch; j++)
            {
                final long base = c.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * j);
                final long length = c.iovecs.buffer().getLong(InterceptedCall.IOVEC_LENGTH * j + 8);
                final long done = emitOnce(fd, dup, base, length, -1);
                written += done;
                if (done < length)
                {
                    break outer;
                }
            }
        }
        appendOutput(written > 0 || emitError == 0 ? written : -emitError, c.signature.value());
    }

    /**
     * {@link #emit}, less the bytes that an old primary had already sent on this connection before it was lost:
     * those are signed and counted as written, not sent twice.
     */
    private long emitOnce(final int fd, final int dup, final long address, final long length, final long offset)
        throws ReplicaStop
    {
        // Checked again right before the bytes leave: a primary frozen while handling this call and replaced
        // meanwhile must not write them when it is thawed.
        log.checkStillPrimary();
        final long skip = sockets.alreadySent(call.logicalPid, fd, length);
        if (skip > 0 && call.signApplicationBytes(address, skip) != skip)
        {
            emitError = EFAULT;
            return 0;
        }
        // Serial mode: a pipe's reader runs only while this thread waits, so the grant is not held through a wait
        // for room (a socket's reader is outside the application).
        final boolean waitsForRoom = serial != null && offset < 0 && !sockets.isSocket(call.logicalPid, fd);
        return skip + emit(dup, address + skip, length - skip, offset < 0 ? offset : offset + skip, waitsForRoom);
    }

    /**
     * Copy {@code length} bytes at {@code address} in the application to {@code dup} (at {@code offset}, or at the
     * descriptor's position if negative), through the work buffer, adding what was written to the signature.
     *
     * @param waitsForRoom write a page at a time, each once there is room for it, giving serial mode's grant back
     * while there is none ({@link #awaitRoom}).
     * @return bytes written; fewer than {@code length} when the descriptor took less or failed ({@link #emitError}).
     */
    private long emit(final int dup, final long address, final long length, final long offset,
        final boolean waitsForRoom) throws ReplicaStop
    {
        final InterceptedCall c = call;
        long written = 0;
        while (written < length)
        {
            if (waitsForRoom)
            {
                awaitRoom(dup);
            }
            final int chunk = (int)Math.min(waitsForRoom ? PIPE_PAGE : c.work.capacity(), length - written);
            final long read = c.memory.read(c.tid, address + written, c.work.address(), chunk);
            if (read <= 0)
            {
                emitError = EFAULT;
                break;
            }
            final long n = offset < 0 ? HOST.write(dup, c.work.pointer(), read) :
                HOST.pwrite(dup, c.work.pointer(), read, offset + written);
            if (n < 0)
            {
                emitError = Native.lastErrno();
                break;
            }
            c.signature.update(0, (int)n);
            written += n;
            if (n < read)
            {
                break;
            }
        }
        return written;
    }

    /**
     * Serial mode, before a write of at most a page: if the descriptor has no room (a full pipe), give the grant
     * back, wait until it has (its reader runs meanwhile), and take the grant again. A page fits a pipe that polls
     * writable (one free buffer), so the write itself does not block with the grant held.
     */
    private void awaitRoom(final int dup) throws ReplicaStop
    {
        if (pollOwn(dup, POLLOUT, 0) != 0)
        {
            return;
        }
        serial.release();
        while (pollOwn(dup, POLLOUT, WAIT_SLICE_MS) == 0)
        {
            whileWaiting.check();
        }
        serial.acquire();
    }

    private void appendOutput(final long result, final long signature) throws ReplicaStop
    {
        if (result == -EPIPE && brokenPipe())
        {
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_OUTPUT, call.signatureOfArguments(), result);
        final int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, 0, 8);
        record.putLong(LogRecord.segmentData(0, CALL_HEADER_LENGTH), signature);
        appendRecord(length);
        respond(listener.answer(result));
    }

    /**
     * An output failed with EPIPE, which in the kernel comes with a SIGPIPE to the calling thread (unless a send
     * asked for MSG_NOSIGNAL): the coordinator's own write raised none, so the thread gets it here, at this call, in
     * every replica ({@link #signalThisThread}); a handler's SA_RESTART makes the call again, and it fails with EPIPE.
     *
     * @return true if the signal withdrew the call or holds it as its process's end: it is not to be answered.
     */
    private boolean brokenPipe() throws ReplicaStop
    {
        final boolean raises = switch (call.nr)
        {
            case SENDTO -> (call.args[3] & MSG_NOSIGNAL) == 0;
            case SENDMSG -> (call.args[2] & MSG_NOSIGNAL) == 0;
            default -> true;
        };
        final int effect = raises ? SignalDelivery.effectOf(call.process, call.tid, SIGPIPE) : SignalDelivery.DROPPED;
        return effect != SignalDelivery.DROPPED && signalThisThread(SIGPIPE, null, effect, -EPIPE, 0, 0);
    }

    /**
     * An open that may create, truncate or write a file: in the private state every replica does it itself;
     * elsewhere only the primary opens the file and a backup gets a placeholder at the same number.
     */
    private void openForWriting(final int dirfd, final long pathAddress, final int flags, final int mode)
        throws ReplicaStop
    {
        final String path = call.resolvePath(dirfd, pathAddress);
        if (path == null)
        {
            value(-EFAULT);
            return;
        }
        if (classifier.isPrivate(Path.of(path)))
        {
            proceed();
            return;
        }
        final int fd = HOST.openat(AT_FDCWD, path, flags | O_CLOEXEC, mode);
        if (fd < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        try
        {
            // Installed first, logged, and only then does the application's open return.
            final int installed = listener.installDescriptor(fd, -1, (flags & O_CLOEXEC) != 0, false);
            if (installed == SeccompListener.GONE)
            {
                return;
            }
            if (installed < 0)
            {
                throw new ReplicaStop(call.nr, "cannot install a descriptor in the application: errno " + -installed);
            }
            // The backups hold the same open file (and so its offset) from now on, to carry it over a failover.
            sockets.closed(call.logicalPid, installed);
            sockets.shareAlways(call.logicalPid, installed, fd);
            appendCall(ACTION_DESCRIPTOR, call.signatureOfArguments(), installed, CALL_HEADER_LENGTH);
            respond(listener.answer(installed));
        }
        finally
        {
            PROCESS.close(fd);
        }
    }

    private void statDescriptor(final int fd, final long statAddress) throws ReplicaStop
    {
        final int dup = externalDuplicate(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.fstat(dup, call.record.at(dataOffset()));
        fillStruct(statAddress, STAT_LENGTH, rc);
    }

    private void statAt(final int dirfd, final long pathAddress, final long statAddress, final int flags)
        throws ReplicaStop
    {
        if ((flags & AT_EMPTY_PATH) != 0 && isEmptyString(pathAddress))
        {
            statDescriptor(dirfd, statAddress);
        }
        else
        {
            proceed();
        }
    }

    private void statxAt(final int dirfd, final long pathAddress, final int flags, final int mask,
        final long statxAddress) throws ReplicaStop
    {
        if ((flags & AT_EMPTY_PATH) == 0 || !isEmptyString(pathAddress) || kindOf(dirfd).isReadByEveryReplica())
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(dirfd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.statx(dup, "", flags, mask, call.record.at(dataOffset()));
        fillStruct(statxAddress, STATX_LENGTH, rc);
    }

    private boolean isEmptyString(final long address)
    {
        return address != 0 && call.memory.read(call.tid, address, call.work.address(), 1) == 1 &&
            call.work.buffer().getByte(0) == 0;
    }

    /**
     * Terminal and descriptor queries the primary answers from its duplicate of the descriptor.
     */
    private void ioctl(final int fd, final long request, final long argument) throws ReplicaStop
    {
        final int length = IoctlRequests.outputLength(request);
        if (kindOf(fd) == DescriptorKind.PRIVATE_FILE || IoctlRequests.isLocal(request))
        {
            proceed();
            return;
        }
        if (length < 0)
        {
            stop("ioctl request 0x" + Long.toHexString(request) + " on a pipe, terminal or device cannot be " +
                "replicated by this version");
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.ioctl(dup, request, call.record.at(dataOffset()));
        if (rc == 0 && request == IoctlRequests.FIONREAD && record.getInt(dataOffset()) > 0)
        {
            sockets.announceReadable(call.logicalPid); // the count is a readiness answer too
        }
        fillStruct(argument, length, rc);
    }

    private void connect(final int fd, final long address, final int length) throws ReplicaStop
    {
        if (length <= 0 || length > 128)
        {
            value(-22);
            return;
        }
        if (call.memory.read(call.tid, address, call.work.address(), length) != length)
        {
            value(-EFAULT);
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.connect(dup, call.work.pointer(), length);
        value(rc < 0 ? -Native.lastErrno() : rc);
    }

    private void getrandom(final long buffer, final long length, final int flags) throws ReplicaStop
    {
        final long n = HOST.getrandom(call.record.at(dataOffset()), Math.min(length, call.maxData()), flags);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        resultWithData(n, buffer, (int)n);
    }

    /**
     * Log a call whose outcome is one fixed-size structure the primary has just filled in the data area, with
     * return code {@code rc} (0 or -1 with errno, as libc returns).
     */
    private void fillStruct(final long address, final int length, final int rc) throws ReplicaStop
    {
        if (rc < 0)
        {
            value(-Native.lastErrno());
        }
        else if (address == 0)
        {
            value(rc);
        }
        else
        {
            resultWithData(rc, address, length);
        }
    }

    private void clockGettime(final int clock, final long timespec) throws ReplicaStop
    {
        // The application's CPU-time clocks, not the coordinator's.
        final int clockId = clock == CLOCK_PROCESS_CPUTIME_ID ? (~call.process << 3) | 2 :
            clock == CLOCK_THREAD_CPUTIME_ID ? (~call.tid << 3) | 6 : clock;
        fillStruct(timespec, 16, HOST.clock_gettime(clockId, call.record.at(dataOffset())));
    }

    private void gettimeofday(final long timeval, final long timezone) throws ReplicaStop
    {
        final int rc = HOST.gettimeofday(call.record.at(dataOffset()), call.record.at(dataOffset() + 16));
        if (rc < 0 || timeval == 0 || timezone == 0)
        {
            fillStruct(timeval, 16, rc);
            return;
        }
        // Both structures: two segments.
        final long tz = record.getLong(dataOffset() + 16);
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), 0);
        int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, timeval, 16);
        final int tzData = LogRecord.segmentData(0, length);
        length = LogRecord.appendSegment(record, 0, length, timezone, 8);
        record.putLong(tzData, tz);
        if (call.memory.write(call.tid, timeval, call.record.address() + dataOffset(), 16) != 16 ||
            call.memory.write(call.tid, timezone, call.record.address() + tzData, 8) != 8)
        {
            value(-EFAULT);
            return;
        }
        appendRecord(length);
        respond(listener.answer(0));
    }

    private void time(final long tloc) throws ReplicaStop
    {
        final long seconds = System.currentTimeMillis() / 1000;
        record.putLong(dataOffset(), seconds);
        if (tloc == 0)
        {
            value(seconds);
        }
        else
        {
            resultWithData(seconds, tloc, 8);
        }
    }

    private void getcpu(final long cpu, final long node) throws ReplicaStop
    {
        final int rc = HOST.getcpu(call.record.at(dataOffset()), call.record.at(dataOffset() + 4));
        if (rc < 0 || node != 0)
        {
            stop("getcpu asking for the NUMA node cannot be replicated by this version");
            return;
        }
        fillStruct(cpu, 4, rc);
    }

    private void schedGetaffinity(final int pid, final long size, final long mask) throws ReplicaStop
    {
        final int rc = PROCESS.sched_getaffinity(pid == 0 ? call.tid : pid, Math.min(size, CPU_SET_MAX / 8),
            call.record.at(dataOffset()));
        if (rc < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        resultWithData(rc, mask, rc);
    }

    /**
     * Every replica closes its own descriptor; the backups also let go of their duplicate of it, if it is a socket.
     */
    private void close(final int fd) throws ReplicaStop
    {
        sockets.closed(call.logicalPid, fd);
        proceed();
    }

    /**
     * Socket calls whose only outcome is a return value; the primary performs them on its duplicate.
     */
    private enum SocketOp
    {
        BIND, LISTEN, SHUTDOWN
    }

    private void socketValue(final int fd, final SocketOp op, final long address, final int argument)
        throws ReplicaStop
    {
        if (op == SocketOp.BIND && (argument <= 0 || argument > SOCKADDR_MAX ||
            call.memory.read(call.tid, address, call.work.address(), argument) != argument))
        {
            value(-EFAULT);
            return;
        }
        if (kindOf(fd) == DescriptorKind.INTERNAL_SOCKET)
        {
            proceed(); // a shutdown must reach each replica's own peer
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = switch (op)
        {
            case BIND -> HOST.bind(dup, call.work.pointer(), argument);
            case LISTEN -> HOST.listen(dup, argument);
            case SHUTDOWN -> HOST.shutdown(dup, argument);
        };
        value(rc < 0 ? -Native.lastErrno() : rc);
    }

    private void setsockopt(final int fd, final int level, final int name, final long value, final int length)
        throws ReplicaStop
    {
        if (length < 0 || length > OPTION_MAX ||
            (length > 0 && call.memory.read(call.tid, value, call.work.address(), length) != length))
        {
            value(-EFAULT);
            return;
        }
        if (kindOf(fd) == DescriptorKind.INTERNAL_SOCKET)
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.setsockopt(dup, level, name, call.work.pointer(), length);
        value(rc < 0 ? -Native.lastErrno() : rc);
    }

    /**
     * The record's data areas for a result made of a value of up to {@code capacity} bytes and the 4-byte length
     * the kernel writes back: the length first, so the value's offset is fixed.
     */
    private static final int LENGTH_DATA = CALL_HEADER_LENGTH + SEGMENT_HEADER_LENGTH;
    private static final int VALUE_DATA = LENGTH_DATA + 8 + SEGMENT_HEADER_LENGTH;

    /**
     * For a call that returns a value and its length: read the length the application offers (capped at
     * {@code max}, kept in {@link #valueCapacity}) and put it where the kernel reads it.
     *
     * @return a duplicate of {@code fd} to call on, or {@link #ANSWERED}.
     */
    private int valueAndLengthCall(final int fd, final long lengthAddress, final int max) throws ReplicaStop
    {
        valueCapacity = readLength(lengthAddress, max);
        if (valueCapacity < 0)
        {
            value(-EFAULT);
            return ANSWERED;
        }
        final int dup = duplicateOrFail(fd);
        if (dup != ANSWERED)
        {
            record.putInt(LENGTH_DATA, valueCapacity);
        }
        return dup;
    }

    private void getsockopt(final int fd, final int level, final int name, final long value, final long lengthAddress)
        throws ReplicaStop
    {
        final int dup = valueAndLengthCall(fd, lengthAddress, OPTION_MAX);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = HOST.getsockopt(dup, level, name, call.record.at(VALUE_DATA), call.record.at(LENGTH_DATA));
        resultWithValueAndLength(rc < 0 ? -Native.lastErrno() : rc, value, lengthAddress, valueCapacity);
    }

    private void socketName(final int fd, final long address, final long lengthAddress) throws ReplicaStop
    {
        final int dup = valueAndLengthCall(fd, lengthAddress, SOCKADDR_MAX);
        if (dup == ANSWERED)
        {
            return;
        }
        final int rc = call.nr == GETSOCKNAME ?
            HOST.getsockname(dup, call.record.at(VALUE_DATA), call.record.at(LENGTH_DATA)) :
            HOST.getpeername(dup, call.record.at(VALUE_DATA), call.record.at(LENGTH_DATA));
        resultWithValueAndLength(rc < 0 ? -Native.lastErrno() : rc, address, lengthAddress, valueCapacity);
    }

    /**
     * A new connection: the primary accepts it on its duplicate of the listening socket and installs it in the
     * application at the lowest free number; the backups install a stand-in socket at the same number.
     */
    private void accept(final int fd, final long address, final long lengthAddress, final int flags)
        throws ReplicaStop
    {
        final int capacity = address == 0 ? 0 : readLength(lengthAddress, SOCKADDR_MAX);
        if (capacity < 0)
        {
            value(-EFAULT);
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        record.putInt(LENGTH_DATA, capacity);
        final int installed;
        synchronized (accepts) // one accept at a time, from the queue to its hand-over: the ring has one slot in use
        {
            final int unseen = sockets.takeAcceptedUnseen();
            final int connection = unseen >= 0 ? peer(unseen, address) : sockets.accept(dup,
                (flags & SOCK_NONBLOCK) | SOCK_CLOEXEC, address == 0 ? null : call.record.at(VALUE_DATA),
                address == 0 ? null : call.record.at(LENGTH_DATA));
            if (connection < 0)
            {
                value(connection);
                return;
            }
            if (unseen < 0 && accepts.incrementAndGet() == dieInAcceptAt)
            {
                killPartition();
            }
            if (serial != null)
            {
                serial.acquire(); // before the log's monitor, which a lane holding the grant may be waiting for
            }
            synchronized (log) // the backups number the connection by the record appended next: this one
            {
                // Handed to the backups at once, so that the connection outlives this primary from here on.
                if (unseen < 0)
                {
                    sockets.shareAccepted(connection);
                }
                final int described = sockets.describeConnection(connection, connectionState, 0);
                installed = listener.installDescriptor(connection, -1, (flags & SOCK_CLOEXEC) != 0, false);
                if (installed >= 0)
                {
                    sockets.accepted(call.logicalPid, installed, connection, described > 0 ? connectionState : null);
                }
                HOST.close(connection);
                if (installed == SeccompListener.GONE)
                {
                    return; // the application is gone: nothing to log for a call it will never see answered
                }
                if (installed < 0)
                {
                    value(installed);
                    return;
                }
                LogRecord.putCall(record, 0, call.nr, ACTION_SOCKET, call.signatureOfArguments(), installed);
                int length = address == 0 ? CALL_HEADER_LENGTH :
                    appendValueAndLength(address, lengthAddress, capacity);
                if (described > 0)
                {
                    // at address 0: for the backups' coordinators, not the application
                    record.putBytes(LogRecord.segmentData(0, length), connectionState, 0, described);
                    length = LogRecord.appendSegment(record, 0, length, 0, described);
                }
                appendRecord(length);
            }
        }
        respond(listener.answer(installed));
    }

    /**
     * Fault injection: this partition dies at once, application first, the way a failing partition would.
     */
    private void killPartition()
    {
        PROCESS.pidfd_send_signal(appPidfd, SIGKILL, null, 0);
        PROCESS.kill((int)ProcessHandle.current().pid(), SIGKILL);
    }

    /**
     * A connection accepted before: its peer's address, as accept would have given it.
     */
    private int peer(final int connection, final long address)
    {
        if (address != 0 && HOST.getpeername(connection, call.record.at(VALUE_DATA), call.record.at(LENGTH_DATA)) < 0)
        {
            record.putInt(LENGTH_DATA, 0);
        }
        return connection;
    }

    /**
     * send(2) is sendto without a destination: an output like write. Its flags (MSG_MORE...) change nothing the
     * application sees but MSG_NOSIGNAL, which keeps an EPIPE from raising SIGPIPE ({@link #brokenPipe}).
     */
    private void send(final int fd, final long buffer, final long count, final long destination) throws ReplicaStop
    {
        if (kindOf(fd) == DescriptorKind.INTERNAL_SOCKET)
        {
            proceed();
            return;
        }
        if (destination != 0)
        {
            stop("sendto with a destination address cannot be replicated by this version");
            return;
        }
        output(fd, buffer, count, -1);
    }

    private void recvfrom(
        final int fd, final long buffer, final long count, final int flags, final long address,
        final long lengthAddress) throws ReplicaStop
    {
        final DescriptorKind kind = kindOf(fd);
        if (kind == DescriptorKind.INTERNAL_SOCKET)
        {
            receiveInternal(fd, oneIovec(buffer, count), flags, address, lengthAddress);
            return;
        }
        if (address != 0)
        {
            stop("recvfrom asking for the sender's address cannot be replicated by this version");
            return;
        }
        if (kind.isReadByEveryReplica())
        {
            proceed();
            return;
        }
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        socketInput(fd, dup, buffer, Math.min(count, call.maxData()), flags);
    }

    /**
     * Input from a connection is in the log before it leaves the kernel's queue: the primary peeks, logs, then
     * consumes exactly what it logged. If it dies in between, the new primary finds the logged bytes still queued
     * and consumes them (logical TCP, SocketTakeover), so no byte is lost or delivered twice.
     */
    private void socketInput(final int fd, final int dup, final long buffer, final long length, final int flags)
        throws ReplicaStop
    {
        final long n = peek(call.record.at(dataOffset()), dup, length, flags);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), n);
        final int recordLength = n == 0 ? CALL_HEADER_LENGTH :
            LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, buffer, (int)n);
        if (n > 0 && call.memory.write(call.tid, buffer, call.record.address() + dataOffset(), n) != n)
        {
            value(-EFAULT);
            return;
        }
        appendRecord(recordLength);
        if ((flags & MSG_PEEK) == 0)
        {
            consume(fd, dup, n, n == 0 && length > 0);
        }
        respond(listener.answer(n));
    }

    /**
     * Peek at a connection's input into {@code into}.
     *
     * @return the bytes peeked, or -1 with errno set.
     */
    private long peek(final Pointer into, final int dup, final long length, final int flags)
    {
        return HOST.recvfrom(dup, into, length, flags | MSG_PEEK, null, null);
    }

    /**
     * Take from the connection's queue the {@code n} bytes just peeked and logged, which the application's
     * {@code fd} now has (or the end of its input, if {@code end}).
     */
    private void consume(final int fd, final int dup, final long n, final boolean end) throws ReplicaStop
    {
        // A replaced primary must not take bytes from the queue: its successor has consumed these itself (logical
        // TCP) and what follows them is its successor's input.
        log.checkStillPrimary();
        long left = n;
        while (left > 0)
        {
            final long consumed = HOST.recvfrom(dup, call.work.pointer(), Math.min(left, call.work.capacity()),
                MSG_DONTWAIT, null, null);
            if (consumed <= 0)
            {
                stop("consuming " + left + " logged bytes of a connection failed: errno " + Native.lastErrno());
            }
            left -= consumed;
        }
        sockets.delivered(call.logicalPid, fd, n, end);
    }

    /**
     * sendmsg on an internal socket runs in every replica, descriptors passed included (each replica passes its
     * own); elsewhere, without a destination or ancillary data, it is writev over the message's iovecs.
     */
    private void sendmsg(final int fd, final long message) throws ReplicaStop
    {
        if (kindOf(fd) == DescriptorKind.INTERNAL_SOCKET)
        {
            proceed();
            return;
        }
        if (!call.readMessageHeader(message))
        {
            value(-EFAULT);
            return;
        }
        final UnsafeBuffer header = call.message.buffer();
        if (header.getLong(InterceptedCall.MSG_NAME_OFFSET) != 0 &&
            header.getInt(InterceptedCall.MSG_NAMELEN_OFFSET) != 0)
        {
            stop("sendmsg with a destination address cannot be replicated by this version");
            return;
        }
        if (header.getLong(InterceptedCall.MSG_CONTROL_OFFSET) != 0 &&
            header.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET) != 0)
        {
            stop("sendmsg with ancillary data (descriptors, credentials) cannot be replicated by this version");
            return;
        }
        outputVector(fd, header.getLong(InterceptedCall.MSG_IOV_OFFSET),
            (int)Math.min(header.getLong(InterceptedCall.MSG_IOVLEN_OFFSET), InterceptedCall.IOV_MAX));
    }

    /**
     * recvmsg: the primary receives (peeks, on a socket) into its own message, logs the bytes spread over the
     * application's iovecs and the header fields the kernel writes back (name and its length, control length,
     * flags), then consumes what it logged. Ancillary data stops the replica unless the socket is internal
     * ({@link #receiveInternal}): descriptors from outside the replica cannot be replayed.
     */
    private void recvmsg(final int fd, final long message, final int flags) throws ReplicaStop
    {
        final int dup = externalDuplicate(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        if (!call.readMessageHeader(message))
        {
            value(-EFAULT);
            return;
        }
        final UnsafeBuffer header = call.message.buffer();
        final long name = header.getLong(InterceptedCall.MSG_NAME_OFFSET);
        final int nameCapacity = name == 0 ? 0 :
            Math.min(Math.max(header.getInt(InterceptedCall.MSG_NAMELEN_OFFSET), 0), SOCKADDR_MAX);
        final long controlCapacity = header.getLong(InterceptedCall.MSG_CONTROL_OFFSET) == 0 ? 0 :
            Math.min(Math.max(header.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET), 0), CONTROL_MAX);
        final int count = readIovecs(header.getLong(InterceptedCall.MSG_IOV_OFFSET),
            header.getLong(InterceptedCall.MSG_IOVLEN_OFFSET));
        if (count < 0)
        {
            value(-EFAULT);
            return;
        }
        prepareOwnMessage(count, nameCapacity, controlCapacity);
        if (kindOf(fd) == DescriptorKind.INTERNAL_SOCKET)
        {
            receiveInternal(dup, count, flags, name, message + InterceptedCall.MSG_NAMELEN_OFFSET, message);
            return;
        }
        final UnsafeBuffer own = ownMessage.buffer();
        final boolean socket = sockets.isSocket(call.logicalPid, fd);
        final long n = SOCKETS.recvmsg(dup, ownMessage.at(OWN_MSGHDR_OFFSET), flags | (socket ? MSG_PEEK : 0));
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        if (own.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET) > 0)
        {
            stop("recvmsg received ancillary data (descriptors, credentials), which cannot be replicated by this " +
                "version");
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), n);
        int length = scatter(CALL_HEADER_LENGTH, n, count);
        length = segment(length, message + InterceptedCall.MSG_NAMELEN_OFFSET, own,
            InterceptedCall.MSG_NAMELEN_OFFSET, 4);
        final int nameLength = Math.min(own.getInt(InterceptedCall.MSG_NAMELEN_OFFSET), nameCapacity);
        if (nameLength > 0)
        {
            length = segment(length, name, own, OWN_NAME_OFFSET, nameLength);
        }
        length = segment(length, message + InterceptedCall.MSG_CONTROLLEN_OFFSET, own,
            InterceptedCall.MSG_CONTROLLEN_OFFSET, 8);
        length = segment(length, message + InterceptedCall.MSG_FLAGS_OFFSET, own, InterceptedCall.MSG_FLAGS_OFFSET, 4);
        if (length < 0)
        {
            value(-EFAULT);
            return;
        }
        appendRecord(length);
        if (socket && (flags & MSG_PEEK) == 0)
        {
            consume(fd, dup, n, n == 0 && scatterCapacity(count, 0) > 0);
        }
        respond(listener.answer(n));
    }

    /**
     * The primary's own struct msghdr: one iovec over the work buffer, as much as {@code count} application iovecs
     * hold and one record carries; room for a name and ancillary data if the application offered any.
     */
    private void prepareOwnMessage(final int count, final int nameCapacity, final long controlCapacity)
    {
        final UnsafeBuffer own = ownMessage.buffer();
        own.setMemory(0, OWN_IOVEC_OFFSET, (byte)0);
        own.putLong(OWN_IOVEC_OFFSET, call.work.address());
        own.putLong(OWN_IOVEC_OFFSET + 8, scatterCapacity(count, MESSAGE_SEGMENTS_LENGTH + RECEIVED_SEGMENT_MAX));
        own.putLong(InterceptedCall.MSG_NAME_OFFSET, nameCapacity == 0 ? 0 : ownMessage.address() + OWN_NAME_OFFSET);
        own.putInt(InterceptedCall.MSG_NAMELEN_OFFSET, nameCapacity);
        own.putLong(InterceptedCall.MSG_IOV_OFFSET, ownMessage.address() + OWN_IOVEC_OFFSET);
        own.putLong(InterceptedCall.MSG_IOVLEN_OFFSET, 1);
        own.putLong(InterceptedCall.MSG_CONTROL_OFFSET,
            controlCapacity == 0 ? 0 : ownMessage.address() + OWN_CONTROL_OFFSET);
        own.putLong(InterceptedCall.MSG_CONTROLLEN_OFFSET, controlCapacity);
    }

    /**
     * read, readv or recvfrom on an internal socket: {@link #receiveInternal} into the {@code count} iovecs read,
     * with no ancillary data.
     */
    private void receiveInternal(final int fd, final int count, final int flags, final long name,
        final long nameLengthAddress) throws ReplicaStop
    {
        final int dup = duplicateOrFail(fd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int nameCapacity = name == 0 ? 0 : readLength(nameLengthAddress, SOCKADDR_MAX);
        if (nameCapacity < 0)
        {
            value(-EFAULT);
            return;
        }
        prepareOwnMessage(count, nameCapacity, 0);
        receiveInternal(dup, count, flags, name, nameLengthAddress, 0);
    }

    /**
     * Receive from an internal socket (a socketpair end) for real: the peer's sends ran in every replica, so each
     * backup finds the same bytes in its own socket. Descriptors passed with them are installed in the application
     * at the lowest free numbers, as the kernel would have, and written into the ancillary data at those numbers.
     * The record (RECEIVE) carries, before the segments a RESULT would, the signature of the bytes and those
     * numbers: each backup receives from its own socket, compares, and installs what it received there.
     *
     * @param message the application's struct msghdr (recvmsg), whose control, its length and the flags are written
     * back; 0 for read, readv and recvfrom.
     */
    private void receiveInternal(final int dup, final int count, final int flags, final long name,
        final long nameLengthAddress, final long message) throws ReplicaStop
    {
        final UnsafeBuffer own = ownMessage.buffer();
        final long n = SOCKETS.recvmsg(dup, ownMessage.at(OWN_MSGHDR_OFFSET), flags);
        if (n < 0)
        {
            value(-Native.lastErrno());
            return;
        }
        final int passed = installPassed(flags);
        if (passed < 0)
        {
            return;
        }
        final long received = Math.min(n, own.getLong(OWN_IOVEC_OFFSET + 8)); // a datagram's length with MSG_TRUNC
        call.signature.reset();
        call.signature.update(0, (int)received);
        LogRecord.putCall(record, 0, call.nr, ACTION_RECEIVE, call.signatureOfArguments(), n);
        final int meta = LogRecord.segmentData(0, CALL_HEADER_LENGTH);
        int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, 0,
            RECEIVED_DESCRIPTORS_OFFSET + 4 * passed);
        record.putLong(meta + RECEIVED_SIGNATURE_OFFSET, call.signature.value());
        record.putLong(meta + RECEIVED_LENGTH_OFFSET, received);
        record.putInt(meta + RECEIVED_COUNT_OFFSET, passed);
        record.putInt(meta + RECEIVED_FLAGS_OFFSET, flags);
        for (int i = 0; i < passed; i++)
        {
            record.putInt(meta + RECEIVED_DESCRIPTORS_OFFSET + 4 * i, passedNumbers[i]);
        }
        length = scatter(length, received, count);
        if (name != 0 || message != 0)
        {
            length = segment(length, nameLengthAddress, own, InterceptedCall.MSG_NAMELEN_OFFSET, 4);
            final int nameLength = Math.min(own.getInt(InterceptedCall.MSG_NAMELEN_OFFSET), SOCKADDR_MAX);
            if (name != 0 && nameLength > 0)
            {
                length = segment(length, name, own, OWN_NAME_OFFSET, nameLength);
            }
        }
        if (message != 0)
        {
            final int controlLength = (int)own.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET);
            if (controlLength > 0)
            {
                length = segment(length, call.message.buffer().getLong(InterceptedCall.MSG_CONTROL_OFFSET), own,
                    OWN_CONTROL_OFFSET, controlLength);
            }
            length = segment(length, message + InterceptedCall.MSG_CONTROLLEN_OFFSET, own,
                InterceptedCall.MSG_CONTROLLEN_OFFSET, 8);
            length = segment(length, message + InterceptedCall.MSG_FLAGS_OFFSET, own, InterceptedCall.MSG_FLAGS_OFFSET,
                4);
        }
        if (length < 0)
        {
            // Received already: failing the call would leave the backups' sockets a message ahead.
            stop(call.name() + " received from an internal socket but the application's memory could not take it");
        }
        appendRecord(length);
        respond(listener.answer(n));
    }

    /**
     * Install in the application each descriptor that came in the own message's ancillary data, in order, and put
     * its number there in place of the primary's; the primary's copies are closed.
     *
     * @return how many were installed ({@link #passedNumbers}), or -1 if the call has been dealt with (its thread
     * is gone).
     * @throws ReplicaStop for ancillary data other than descriptors, or a descriptor the application cannot take.
     */
    private int installPassed(final int flags) throws ReplicaStop
    {
        final UnsafeBuffer own = ownMessage.buffer();
        final ControlMessages messages = controlMessages.wrap(own, OWN_CONTROL_OFFSET,
            own.getLong(InterceptedCall.MSG_CONTROLLEN_OFFSET));
        int count = 0;
        int failure = 0;
        int otherType = -1;
        for (int at = messages.first(); at >= 0; at = messages.next(at))
        {
            if (!messages.isRights(at))
            {
                otherType = messages.type(at);
                continue;
            }
            for (int i = 0; i < messages.descriptorCount(at); i++)
            {
                final int ownFd = messages.descriptor(at, i);
                final int installed = failure != 0 || count == passedNumbers.length ? Math.min(failure, -EINVAL) :
                    listener.installDescriptor(ownFd, -1, (flags & MSG_CMSG_CLOEXEC) != 0, false);
                HOST.close(ownFd);
                if (installed < 0)
                {
                    failure = installed;
                    continue;
                }
                messages.descriptor(at, i, installed);
                passedNumbers[count++] = installed;
            }
        }
        if (failure == SeccompListener.GONE)
        {
            gone = true;
            return -1;
        }
        if (otherType >= 0)
        {
            stop(call.name() + " received ancillary data of type " + otherType + " (credentials or other than " +
                "descriptors), which cannot be replicated by this version");
        }
        if (failure < 0)
        {
            stop(call.name() + " received descriptors that cannot be installed in the application: errno " +
                -failure);
        }
        return count;
    }

    /**
     * sendfile to a socket, pipe or file outside the state: the primary sends from its duplicate of the input file
     * at an explicit offset, signs the file bytes that went out (the backups sign their own copy of the file), and
     * leaves the input position, or the application's offset, where the kernel's sendfile would.
     */
    private void sendfile(final int outFd, final int inFd, final long offsetAddress, final long count)
        throws ReplicaStop
    {
        if (kindOf(outFd).isWrittenByEveryReplica())
        {
            proceed();
            return;
        }
        final int out = duplicateOrFail(outFd);
        if (out == ANSWERED)
        {
            return;
        }
        final int in = duplicate(inFd);
        if (in < 0)
        {
            value(in);
            return;
        }
        final UnsafeBuffer offset = ownMessage.buffer();
        final long start;
        if (offsetAddress != 0)
        {
            if (call.memory.read(call.tid, offsetAddress, ownMessage.address(), 8) != 8)
            {
                value(-EFAULT);
                return;
            }
            start = offset.getLong(0);
        }
        else
        {
            start = HOST.lseek(in, 0, SEEK_CUR);
        }
        if (start < 0)
        {
            value(start == -1 ? -Native.lastErrno() : -EINVAL);
            return;
        }
        // As emitOnce: checked right before the bytes leave; bytes an old primary already sent are not sent again.
        log.checkStillPrimary();
        final long skip = sockets.alreadySent(call.logicalPid, outFd, Math.max(count, 0));
        offset.putLong(0, start + skip);
        final long sent = count - skip > 0 ? HOST.sendfile(out, in, ownMessage.pointer(), count - skip) : 0;
        if (sent < 0 && skip == 0)
        {
            final int errno = Native.lastErrno();
            if (errno != EPIPE || !brokenPipe())
            {
                value(-errno);
            }
            return;
        }
        final long done = skip + Math.max(sent, 0);
        final long signature = call.signatureOfFile(in, start, done);
        LogRecord.putCall(record, 0, call.nr, ACTION_OUTPUT, call.signatureOfArguments(), done);
        int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, 0, 8);
        record.putLong(LogRecord.segmentData(0, CALL_HEADER_LENGTH), signature);
        offset.putLong(0, start + done);
        if (offsetAddress != 0)
        {
            length = segment(length, offsetAddress, offset, 0, 8);
        }
        else if (HOST.lseek(in, start + done, SEEK_SET) < 0)
        {
            length = -1;
        }
        if (length < 0)
        {
            stop("sendfile cannot leave the input offset where the kernel would");
        }
        appendRecord(length);
        respond(listener.answer(done));
    }

    /**
     * The primary waits on its duplicate of the application's epoll set, which holds the application's own
     * registrations; the events it returns go to every replica.
     */
    private void epollWait(final int epfd, final long events, final int maxEvents, final int timeoutMs)
        throws ReplicaStop
    {
        if (maxEvents <= 0)
        {
            value(-EINVAL);
            return;
        }
        final int dup = duplicateOrFail(epfd);
        if (dup == ANSWERED)
        {
            return;
        }
        final int max = Math.min(maxEvents, call.maxData() / EPOLL_EVENT_LENGTH);
        final int n = waitInSlices(dup, max, timeoutOfMs(timeoutMs), System.nanoTime());
        if (n == INTERRUPTED)
        {
            return;
        }
        if (n < 0)
        {
            value(n);
            return;
        }
        if (n > 0)
        {
            sockets.announceReadable(call.logicalPid);
        }
        resultWithData(n, events, n * EPOLL_EVENT_LENGTH);
    }

    /**
     * Wait for readiness on the epoll set {@code epfd} (its events go to the record's data area), or on the first
     * {@code count} entries of {@link #pollfds} if {@code epfd} is {@link #OWN_POLLFDS}, until {@code timeoutNs}
     * after {@code startNs}. The wait is cut into slices so that a primary that has been replaced, or asked to hand
     * over, stops waiting.
     *
     * @return how many are ready (0: the timeout passed), -errno, or {@link #INTERRUPTED}.
     */
    private int waitInSlices(final int epfd, final int count, final long timeoutNs, final long startNs)
        throws ReplicaStop
    {
        final long deadlineNs = startNs + timeoutNs;
        while (true)
        {
            final long leftMs = timeoutNs == FOREVER ? WAIT_SLICE_MS :
                TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime() + 999_999);
            final int sliceMs = (int)Math.max(0, Math.min(leftMs, WAIT_SLICE_MS));
            final int n = epfd == OWN_POLLFDS ? HOST.poll(pollfds.pointer(), count, sliceMs) :
                HOST.epoll_wait(epfd, call.record.at(dataOffset()), count, sliceMs);
            if (n < 0)
            {
                return -Native.lastErrno();
            }
            if (n > 0 || (timeoutNs != FOREVER && System.nanoTime() - deadlineNs >= 0))
            {
                return n;
            }
            whileWaiting.check();
            if (signals.isPendingFor(call.logicalPid, call.logicalTid) && deliverSignal())
            {
                return INTERRUPTED;
            }
        }
    }

    /**
     * @return in nanoseconds, a timeout in milliseconds as poll and epoll_wait take it (negative: none).
     */
    private static long timeoutOfMs(final int timeoutMs)
    {
        return timeoutMs < 0 ? FOREVER : TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    }

    private void poll(final long fds, final long nfds, final int timeoutMs) throws ReplicaStop
    {
        pollDescriptors(fds, nfds, 0, timeoutOfMs(timeoutMs));
    }

    /**
     * ppoll is poll with a timespec, which Linux overwrites with the time left. Signals are not replicated: the
     * mask is checked as the kernel checks it, then ignored.
     */
    private void ppoll(final long fds, final long nfds, final long timeAddress, final long sigmask,
        final long sigsetLength) throws ReplicaStop
    {
        final long timeoutNs = timeout(timeAddress, false);
        if (timeoutNs != ANSWERED && !refusedSigmask(sigmask, sigsetLength))
        {
            pollDescriptors(fds, nfds, timeAddress, timeoutNs);
        }
    }

    /**
     * The primary polls its own array, of duplicates of the application's descriptors, and the application's
     * array comes back with the revents the kernel would have written: none for a negative descriptor (ignored),
     * POLLNVAL for a closed one (which ends the wait at once, as it does in the kernel).
     */
    private void pollDescriptors(final long fds, final long nfds, final long timeAddress, final long timeoutNs)
        throws ReplicaStop
    {
        final long startNs = System.nanoTime();
        readinessAddress[0] = fds;
        readinessAddress[1] = 0;
        readinessAddress[2] = 0;
        if (Long.compareUnsigned(nfds, descriptorLimit()) > 0)
        {
            answerReadiness(-EINVAL, 0, timeAddress, timeoutNs, startNs, false);
            return;
        }
        if (CALL_HEADER_LENGTH + SEGMENT_HEADER_LENGTH + nfds * POLLFD_LENGTH > recordRoom(timeAddress))
        {
            stopTooMany(nfds);
            return;
        }
        final int count = (int)nfds;
        final int length = count * POLLFD_LENGTH;
        if (call.memory.read(call.tid, fds, call.record.address() + dataOffset(), length) != length)
        {
            answerReadiness(-EFAULT, 0, timeAddress, timeoutNs, startNs, false);
            return;
        }
        final UnsafeBuffer own = pollfds.buffer();
        int closed = 0;
        for (int i = 0; i < count; i++)
        {
            final int entry = dataOffset() + i * POLLFD_LENGTH;
            final int fd = record.getInt(entry + POLLFD_FD_OFFSET);
            int dup = -1;
            if (fd >= 0)
            {
                dup = sharedDuplicate(fd);
                if (dup == -EBADF)
                {
                    closed++;
                }
                else if (dup < 0)
                {
                    answerReadiness(dup, 0, timeAddress, timeoutNs, startNs, false);
                    return;
                }
            }
            record.putShort(entry + POLLFD_REVENTS_OFFSET, dup == -EBADF ? POLLNVAL : 0);
            own.putInt(i * POLLFD_LENGTH + POLLFD_FD_OFFSET, Math.max(dup, -1));
            own.putShort(i * POLLFD_LENGTH + POLLFD_EVENTS_OFFSET, record.getShort(entry + POLLFD_EVENTS_OFFSET));
        }
        final int ready = waitInSlices(OWN_POLLFDS, count, closed > 0 ? 0 : timeoutNs, startNs);
        for (int i = 0; i < count && ready >= 0; i++)
        {
            if (own.getInt(i * POLLFD_LENGTH + POLLFD_FD_OFFSET) >= 0)
            {
                record.putShort(dataOffset() + i * POLLFD_LENGTH + POLLFD_REVENTS_OFFSET,
                    own.getShort(i * POLLFD_LENGTH + POLLFD_REVENTS_OFFSET));
            }
        }
        answerReadiness(ready < 0 ? ready : ready + closed, length, timeAddress, timeoutNs, startNs, false);
    }

    private void select(final int nfds, final long readfds, final long writefds, final long exceptfds,
        final long timeAddress) throws ReplicaStop
    {
        final long timeoutNs = timeout(timeAddress, true);
        if (timeoutNs != ANSWERED)
        {
            selectDescriptors(nfds, readfds, writefds, exceptfds, timeAddress, timeoutNs, true);
        }
    }

    /**
     * pselect6 is select with a timespec; its sixth argument points at the signal mask and the mask's length,
     * which the kernel reads first. Signals are not replicated: the mask is checked as the kernel checks it, then
     * ignored.
     */
    private void pselect6(final int nfds, final long readfds, final long writefds, final long exceptfds,
        final long timeAddress, final long sigmaskArguments) throws ReplicaStop
    {
        long sigmask = 0;
        long sigsetLength = 0;
        if (sigmaskArguments != 0)
        {
            if (call.memory.read(call.tid, sigmaskArguments, call.work.address(), SIGSET_ARGPACK_LENGTH) !=
                SIGSET_ARGPACK_LENGTH)
            {
                value(-EFAULT);
                return;
            }
            sigmask = call.work.buffer().getLong(SIGSET_ARGPACK_ADDRESS_OFFSET);
            sigsetLength = call.work.buffer().getLong(SIGSET_ARGPACK_SIZE_OFFSET);
        }
        final long timeoutNs = timeout(timeAddress, false);
        if (timeoutNs != ANSWERED && !refusedSigmask(sigmask, sigsetLength))
        {
            selectDescriptors(nfds, readfds, writefds, exceptfds, timeAddress, timeoutNs, false);
        }
    }

    /**
     * select on the primary is a poll over duplicates of the descriptors in the sets, one entry per descriptor in
     * ascending order. The sets come back as the kernel's select writes them: the first nfds bits, in whole longs,
     * each descriptor counted once per set it is ready in; a closed descriptor in a set is EBADF.
     */
    private void selectDescriptors(final int nfds, final long readfds, final long writefds, final long exceptfds,
        final long timeAddress, final long timeoutNs, final boolean timeval) throws ReplicaStop
    {
        final long startNs = System.nanoTime();
        readinessAddress[0] = readfds;
        readinessAddress[1] = writefds;
        readinessAddress[2] = exceptfds;
        if (nfds < 0)
        {
            answerReadiness(-EINVAL, 0, timeAddress, timeoutNs, startNs, timeval);
            return;
        }
        // The kernel cuts nfds to the application's descriptor table: a program may pass getdtablesize() with
        // 1024-bit sets, and nothing past the table may be read or written.
        final int n = nfds <= DESCRIPTOR_TABLE_MIN ? nfds : Math.min(nfds, descriptorTableSize());
        final int words = (n + Long.SIZE - 1) / Long.SIZE;
        final int length = words * Long.BYTES;
        int recordLength = CALL_HEADER_LENGTH;
        for (int s = 0; s < SELECT_SETS; s++)
        {
            readinessData[s] = readinessAddress[s] == 0 ? -1 : LogRecord.segmentData(0, recordLength);
            recordLength += readinessAddress[s] == 0 ? 0 : LogRecord.segmentLength(length);
        }
        if (recordLength > recordRoom(timeAddress))
        {
            stopTooMany(n);
            return;
        }
        for (int s = 0; s < SELECT_SETS; s++)
        {
            if (readinessData[s] >= 0 &&
                call.memory.read(call.tid, readinessAddress[s], call.record.address() + readinessData[s], length) !=
                length)
            {
                answerReadiness(-EFAULT, 0, timeAddress, timeoutNs, startNs, timeval);
                return;
            }
        }
        final UnsafeBuffer own = pollfds.buffer();
        int entry = 0;
        for (int w = 0; w < words; w++)
        {
            for (long asked = askedWord(w, n); asked != 0; asked &= asked - 1)
            {
                final int bit = Long.numberOfTrailingZeros(asked);
                int events = 0;
                for (int s = 0; s < SELECT_SETS; s++)
                {
                    events |= (setWord(s, w) >>> bit & 1) != 0 ? SELECT_READY[s] : 0;
                }
                final int dup = sharedDuplicate(w * Long.SIZE + bit);
                if (dup < 0)
                {
                    answerReadiness(dup, 0, timeAddress, timeoutNs, startNs, timeval);
                    return;
                }
                if (entry + POLLFD_LENGTH > pollfds.capacity())
                {
                    stopTooMany(n);
                    return;
                }
                own.putInt(entry + POLLFD_FD_OFFSET, dup);
                own.putShort(entry + POLLFD_EVENTS_OFFSET, (short)events);
                entry += POLLFD_LENGTH;
            }
        }
        final int entries = entry / POLLFD_LENGTH;
        int polled;
        int counted;
        do
        {
            polled = waitInSlices(OWN_POLLFDS, entries, timeoutNs, startNs);
            counted = polled > 0 ? countSelected(entries) : polled;
        }
        while (polled > 0 && counted == 0);
        if (counted >= 0)
        {
            writeSets(words, n);
        }
        answerReadiness(counted, length, timeAddress, timeoutNs, startNs, timeval);
    }

    /**
     * @return how many (descriptor, set) pairs the primary's last poll found ready, as select counts them. An entry
     * ready only in ways its sets do not count (a hang-up where only writing was asked, say) is dropped from the
     * poll: select sleeps on through those, and poll would report them again at once.
     */
    private int countSelected(final int entries)
    {
        final UnsafeBuffer own = pollfds.buffer();
        int count = 0;
        for (int entry = 0; entry < entries * POLLFD_LENGTH; entry += POLLFD_LENGTH)
        {
            final int revents = own.getShort(entry + POLLFD_REVENTS_OFFSET);
            final int sets = readySets(own.getShort(entry + POLLFD_EVENTS_OFFSET), revents);
            if (sets == 0 && revents != 0)
            {
                own.putInt(entry + POLLFD_FD_OFFSET, -1);
            }
            count += Integer.bitCount(sets);
        }
        return count;
    }

    /**
     * Overwrite the sets in the record with select's answer: a bit for each descriptor ready in that set, reading
     * the poll's entries in the order they were made.
     */
    private void writeSets(final int words, final int n)
    {
        final UnsafeBuffer own = pollfds.buffer();
        int entry = 0;
        for (int w = 0; w < words; w++)
        {
            final long asked = askedWord(w, n);
            for (int s = 0; s < SELECT_SETS; s++)
            {
                if (readinessData[s] >= 0)
                {
                    record.putLong(readinessData[s] + w * Long.BYTES, 0);
                }
            }
            for (long left = asked; left != 0; left &= left - 1)
            {
                final long bit = Long.lowestOneBit(left);
                final int sets = readySets(own.getShort(entry + POLLFD_EVENTS_OFFSET),
                    own.getShort(entry + POLLFD_REVENTS_OFFSET));
                entry += POLLFD_LENGTH;
                for (int s = 0; s < SELECT_SETS; s++)
                {
                    if ((sets & 1 << s) != 0)
                    {
                        record.putLong(readinessData[s] + w * Long.BYTES,
                            record.getLong(readinessData[s] + w * Long.BYTES) | bit);
                    }
                }
            }
        }
    }

    /**
     * @return bit s for each select set s that asked for the entry's descriptor and in which it is ready.
     */
    private static int readySets(final int events, final int revents)
    {
        int sets = 0;
        for (int s = 0; s < SELECT_SETS; s++)
        {
            if ((events & SELECT_ASKS[s]) != 0 && (revents & SELECT_READY[s]) != 0)
            {
                sets |= 1 << s;
            }
        }
        return sets;
    }

    /**
     * @return word {@code w} of set {@code s} as the application passed it, 0 for a set it did not pass.
     */
    private long setWord(final int s, final int w)
    {
        return readinessData[s] < 0 ? 0 : record.getLong(readinessData[s] + w * Long.BYTES);
    }

    /**
     * @return the descriptors of word {@code w} that any set asks for, below {@code n}.
     */
    private long askedWord(final int w, final int n)
    {
        long asked = 0;
        for (int s = 0; s < SELECT_SETS; s++)
        {
            asked |= setWord(s, w);
        }
        final int bits = n - w * Long.SIZE;
        return bits >= Long.SIZE ? asked : asked & ((1L << bits) - 1);
    }

    /**
     * Log and answer a readiness call: unless it failed, the arrays of {@link #readinessAddress}, {@code length}
     * bytes each, in place in the record; then the time left. The kernel writes them back in that order.
     */
    private void answerReadiness(final long result, final int length, final long timeAddress, final long timeoutNs,
        final long startNs, final boolean timeval) throws ReplicaStop
    {
        if (result == INTERRUPTED)
        {
            return; // a signal withdrew the call
        }
        if (result > 0)
        {
            sockets.announceReadable(call.logicalPid);
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), result);
        int recordLength = CALL_HEADER_LENGTH;
        for (int s = 0; s < SELECT_SETS && result >= 0; s++)
        {
            if (readinessAddress[s] != 0)
            {
                recordLength = appendAndCopy(recordLength, readinessAddress[s], length);
                if (recordLength < 0)
                {
                    value(-EFAULT);
                    return;
                }
            }
        }
        recordLength = appendTimeLeft(recordLength, timeAddress, timeoutNs, startNs, timeval);
        appendRecord(recordLength);
        respond(listener.answer(result));
    }

    /**
     * Append the time left of the timeout at {@code timeAddress}, which Linux writes back over it
     * (poll_select_finish): as a timespec, or a timeval for select. Not for no timeout or a zero one, and not if
     * the application's memory cannot take it (the kernel lets that pass too).
     *
     * @return the record's new length.
     */
    private int appendTimeLeft(final int recordLength, final long timeAddress, final long timeoutNs,
        final long startNs, final boolean timeval)
    {
        if (timeAddress == 0 || timeoutNs == 0)
        {
            return recordLength;
        }
        final long leftNs = Math.max(0, timeoutNs - (System.nanoTime() - startNs));
        final long fraction = leftNs % NANOS_PER_SECOND;
        final int data = LogRecord.segmentData(0, recordLength);
        record.putLong(data + TIMEOUT_SECONDS_OFFSET, leftNs / NANOS_PER_SECOND);
        record.putLong(data + TIMEOUT_FRACTION_OFFSET, timeval ? fraction / (NANOS_PER_SECOND / MICROS_PER_SECOND) :
            fraction);
        final int appended = appendAndCopy(recordLength, timeAddress, TIMEOUT_LENGTH);
        return appended < 0 ? recordLength : appended;
    }

    /**
     * The timeout at {@code timeAddress} as the kernel reads it: a timeval's microseconds carry into its seconds,
     * a timespec must be normalised already.
     *
     * @return nanoseconds, {@link #FOREVER} for none, or {@link #ANSWERED} once the call has failed as the kernel
     * fails it (EFAULT, EINVAL).
     */
    private long timeout(final long timeAddress, final boolean timeval) throws ReplicaStop
    {
        if (timeAddress == 0)
        {
            return FOREVER;
        }
        if (call.memory.read(call.tid, timeAddress, call.work.address(), TIMEOUT_LENGTH) != TIMEOUT_LENGTH)
        {
            value(-EFAULT);
            return ANSWERED;
        }
        final long seconds = call.work.buffer().getLong(TIMEOUT_SECONDS_OFFSET);
        final long fraction = call.work.buffer().getLong(TIMEOUT_FRACTION_OFFSET);
        final long wholeSeconds = timeval ? seconds + fraction / MICROS_PER_SECOND : seconds;
        final long nanos = timeval ? fraction % MICROS_PER_SECOND * (NANOS_PER_SECOND / MICROS_PER_SECOND) : fraction;
        if (wholeSeconds < 0 || nanos < 0 || nanos >= NANOS_PER_SECOND)
        {
            value(-EINVAL);
            return ANSWERED;
        }
        return wholeSeconds >= TIMEOUT_MAX_NS / NANOS_PER_SECOND ? TIMEOUT_MAX_NS :
            wholeSeconds * NANOS_PER_SECOND + nanos;
    }

    /**
     * The kernel refuses a signal mask of another length than its sigset_t (set_user_sigmask).
     *
     * @return true once the call has been answered EINVAL.
     */
    private boolean refusedSigmask(final long sigmask, final long sigsetLength) throws ReplicaStop
    {
        if (sigmask != 0 && sigsetLength != SIGSET_LENGTH)
        {
            value(-EINVAL);
            return true;
        }
        return false;
    }

    /**
     * A poll or select whose array or sets, or whose poll of duplicates, is larger than one log record.
     */
    private void stopTooMany(final long descriptors) throws ReplicaStop
    {
        stop(call.name() + " of " + descriptors + " descriptors does not fit one log record: replicate with a " +
            "larger --channel-capacity");
    }

    /**
     * @return the length a readiness call's record may take before the time left, if there is a timeout to write
     * back.
     */
    private int recordRoom(final long timeAddress)
    {
        return record.capacity() - (timeAddress == 0 ? 0 : LogRecord.segmentLength(TIMEOUT_LENGTH));
    }

    /**
     * @return the application's RLIMIT_NOFILE, beyond which poll refuses descriptors (unsigned; if it cannot be
     * read, the largest).
     */
    private long descriptorLimit()
    {
        return PROCESS.prlimit(call.process, RLIMIT_NOFILE, null, call.work.pointer()) < 0 ? -1 :
            call.work.buffer().getLong(RLIMIT_CURRENT_OFFSET);
    }

    /**
     * @return the size of the application's descriptor table, from the FDSize line of its /proc/PID/status.
     */
    private int descriptorTableSize() throws ReplicaStop
    {
        // The application's /proc/PID/status, whose FDSize line is the size of its descriptor table.
        final String statusPath = "/proc/" + call.process + "/status";
        final int fd = HOST.openat(AT_FDCWD, statusPath, O_RDONLY | O_CLOEXEC, 0);
        final long length = fd < 0 ? -1 : HOST.read(fd, call.work.pointer(), call.work.capacity());
        if (fd >= 0)
        {
            PROCESS.close(fd);
        }
        final UnsafeBuffer text = call.work.buffer();
        for (int i = 0; i + FDSIZE_KEY.length < length; i++)
        {
            int matched = 0;
            while (matched < FDSIZE_KEY.length && text.getByte(i + matched) == FDSIZE_KEY[matched])
            {
                matched++;
            }
            if (matched == FDSIZE_KEY.length)
            {
                final int digits = i + matched;
                int end = digits;
                while (end < length && Character.isDigit(text.getByte(end)))
                {
                    end++;
                }
                return text.parseNaturalIntAscii(digits, end - digits);
            }
        }
        stop("cannot read the size of the application's descriptor table from " + statusPath);
        return 0;
    }

    /**
     * @return the socket-address or option length the application passed at {@code address}, capped, or -1.
     */
    private int readLength(final long address, final int max)
    {
        if (address == 0 || call.memory.read(call.tid, address, call.work.address(), 4) != 4)
        {
            return -1;
        }
        final int length = call.work.buffer().getInt(0);
        return length < 0 ? -1 : Math.min(length, max);
    }

    /**
     * Log and apply a RESULT carrying a value the kernel wrote at {@link #VALUE_DATA} (its length, as the kernel
     * left it at {@link #LENGTH_DATA}, capped by what the application offered) and that length.
     */
    private void resultWithValueAndLength(
        final long result, final long address, final long lengthAddress, final int capacity) throws ReplicaStop
    {
        if (result < 0)
        {
            value(result);
            return;
        }
        LogRecord.putCall(record, 0, call.nr, ACTION_RESULT, call.signatureOfArguments(), result);
        final int length = appendValueAndLength(address, lengthAddress, capacity);
        appendRecord(length);
        respond(listener.answer(result));
    }

    /**
     * Append the length and value segments (already in place) and copy them into the application.
     *
     * @return the record's length.
     */
    private int appendValueAndLength(final long address, final long lengthAddress, final int capacity)
        throws ReplicaStop
    {
        final int actual = record.getInt(LENGTH_DATA);
        final int copied = Math.min(Math.max(actual, 0), capacity);
        int length = LogRecord.appendSegment(record, 0, CALL_HEADER_LENGTH, lengthAddress, 4);
        length = LogRecord.appendSegment(record, 0, length, address, copied);
        if (call.memory.write(call.tid, lengthAddress, call.record.address() + LENGTH_DATA, 4) != 4 ||
            (copied > 0 && call.memory.write(call.tid, address, call.record.address() + VALUE_DATA, copied) != copied))
        {
            stop(call.name() + " cannot write its result into the application");
        }
        return length;
    }

    /**
     * Calls that change paths: in the private state every replica does it itself.
     */
    private void changePaths(final int dirfd, final long path, final int dirfd2, final long path2) throws ReplicaStop
    {
        final String first = call.resolvePath(dirfd, path);
        final String second = path2 == 0 ? null : call.resolvePath(dirfd2, path2);
        if (first != null && classifier.isPrivate(Path.of(first)) &&
            (path2 == 0 || (second != null && classifier.isPrivate(Path.of(second)))))
        {
            proceed();
            return;
        }
        stop(call.name() + " of " + (first == null ? "an unreadable path" : first) +
            " outside the state directory cannot be replicated by this version");
    }

    private void changeDescriptor(final int fd) throws ReplicaStop
    {
        if (kindOf(fd) == DescriptorKind.PRIVATE_FILE)
        {
            proceed();
            return;
        }
        stop(call.name() + " of a file outside the state directory cannot be replicated by this version");
    }

    /**
     * For a call that acts on a descriptor only when it reaches outside the replica: every replica runs it on a
     * private or read-only file itself.
     *
     * @return a duplicate of an EXTERNAL {@code fd} to act on, or {@link #ANSWERED}.
     */
    private int externalDuplicate(final int fd) throws ReplicaStop
    {
        if (kindOf(fd).isReadByEveryReplica())
        {
            proceed();
            return ANSWERED;
        }
        return duplicateOrFail(fd);
    }

    /**
     * @return a duplicate of {@code fd} to act on, or {@link #ANSWERED} once the call has failed as the kernel
     * would have failed it (a closed descriptor: EBADF).
     */
    private int duplicateOrFail(final int fd) throws ReplicaStop
    {
        final int dup = sharedDuplicate(fd);
        if (dup < 0)
        {
            value(dup);
            return ANSWERED;
        }
        return dup;
    }

    /**
     * {@link #duplicate}, and the first time the primary acts on a socket, the backups get it.
     *
     * @return the duplicate, or -errno.
     */
    private int sharedDuplicate(final int fd) throws ReplicaStop
    {
        final int dup = duplicate(fd);
        if (dup >= 0 && kindOf(fd) != DescriptorKind.INTERNAL_SOCKET)
        {
            sockets.share(call.logicalPid, fd, dup);
        }
        return dup;
    }

    /**
     * A duplicate of the application's descriptor for the primary to act on; {@link #handle} closes it, with every
     * other one made for the call, once the call is answered.
     *
     * @return the duplicate, or -errno.
     */
    private int duplicate(final int fd)
    {
        if (heldCount > 0 && lastDuplicated == fd)
        {
            return heldDuplicates[heldCount - 1]; // the one kindOf made for this call
        }
        final int pidfd = processes.pidfdOf(call.process);
        final int dup = pidfd < 0 ? -1 : PROCESS.pidfd_getfd(pidfd, fd, 0);
        if (dup < 0)
        {
            return -Native.lastErrno();
        }
        if (heldCount == heldDuplicates.length)
        {
            heldDuplicates = Arrays.copyOf(heldDuplicates, heldCount * 2);
        }
        heldDuplicates[heldCount++] = dup;
        lastDuplicated = fd;
        return dup;
    }

    /**
     * What the application's {@code fd} is, told from the duplicate of it that the call then acts on.
     */
    private DescriptorKind kindOf(final int fd)
    {
        if (fd == kindFd && lastKind != null)
        {
            return lastKind;
        }
        if (sockets.isSocket(call.logicalPid, fd))
        {
            lastKind = DescriptorKind.EXTERNAL; // a socket the backups hold: no fstat and getsockopt on every read
        }
        else
        {
            final int dup = duplicate(fd);
            lastKind = dup < 0 ? DescriptorKind.EXTERNAL : classifier.classify(call.tid, fd, dup);
        }
        kindFd = fd;
        return lastKind;
    }

    private void releaseDuplicates()
    {
        while (heldCount > 0)
        {
            PROCESS.close(heldDuplicates[--heldCount]);
        }
        lastDuplicated = -1;
        lastKind = null;
    }

    private void appendCall(final int action, final long signature, final long result, final int length)
        throws ReplicaStop
    {
        LogRecord.putCall(record, 0, call.nr, action, signature, result);
        appendRecord(length);
    }

    /**
     * Append the CALL record in hand, naming the calling thread by its id inside the replica.
     */
    private void appendRecord(final int length) throws ReplicaStop
    {
        if (serial != null)
        {
            serial.acquire(); // the log's order is the order in which threads run
        }
        record.putInt(THREAD_INDEX_OFFSET, call.logicalTid);
        log.append(TYPE_CALL, record, 0, length);
    }

    /**
     * Log STOP for the backups and end this replica.
     */
    private void stop(final String message) throws ReplicaStop
    {
        record.putInt(STOP_CALL_NUMBER_OFFSET, call.nr);
        final int length = record.putStringWithoutLengthUtf8(STOP_MESSAGE_OFFSET, message);
        record.putInt(STOP_MESSAGE_LENGTH_OFFSET, length);
        log.append(TYPE_STOP, record, 0, STOP_MESSAGE_OFFSET + length);
        throw new ReplicaStop(call.nr, message);
    }

    private void respond(final int rc) throws ReplicaStop
    {
        gone |= rc == SeccompListener.GONE;
        if (rc < 0 && rc != SeccompListener.GONE)
        {
            throw new ReplicaStop(call.nr, "cannot answer " + call.name() + ": errno " + -rc);
        }
    }
}
