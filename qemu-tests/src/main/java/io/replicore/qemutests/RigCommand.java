package io.replicore.qemutests;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/rig}: boot N replica kernels with a job and show what happens: their consoles as they boot, a fault
 * if asked for, each job's output and exit status, and the mailbox as the host sees it.
 */
@Command(name = "rig", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Boot replica kernels under QEMU sharing one ivshmem mailbox, run a job in each, and show what " +
        "happens.",
        "The default job runs the mailbox check in every kernel: it maps the mailbox through its PCI device, " +
        "registers in its slot and exchanges records with every other kernel."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:every job exited 0", "1:a job failed, or a kernel did not boot", "2:bad usage"})
public final class RigCommand implements Callable<Integer>
{
    @Option(names = "--replicas", paramLabel = "N", description = "Replica kernels (2..8, default ${DEFAULT-VALUE}).",
        defaultValue = "2")
    int replicas;

    @Option(names = "--memory", paramLabel = "MIB", description = "Memory per kernel (default ${DEFAULT-VALUE}).",
        defaultValue = "1024")
    int memoryMiB;

    @Option(names = "--job", paramLabel = "FILE", description = "A shell script to run in every kernel as " +
        "/rig/job.sh (its replica is in $(hostname): replica-N).")
    Path job;

    @Option(names = "--job-command", paramLabel = "CMD", description = "A shell command to run in every kernel " +
        "instead of a script.")
    String jobCommand;

    @Option(names = "--replicate", paramLabel = "PROGRAM", description = "Replicate PROGRAM (a shell command " +
        "line) over the kernels: each job runs a replica's coordinator (replicore replica) on the ivshmem mailbox, " +
        "replica 0 primary, with --partition kernel. With --fault kill, a backup takes over by missed heartbeats.")
    String replicate;

    @Option(names = "--heartbeat-timeout", paramLabel = "MS", defaultValue = "10000", description = "With " +
        "--replicate: heartbeat silence after which a backup takes the primary for dead (default ${DEFAULT-VALUE}; " +
        "the kernels' coordinators start seconds apart under TCG, and a backup whose primary has not beaten within " +
        "it takes over).")
    long heartbeatTimeoutMs;

    @Option(names = "--accel", paramLabel = "auto|kvm|tcg", defaultValue = "auto",
        description = "The accelerator: auto probes KVM with a short boot and falls back to TCG (default).")
    String accel;

    @Option(names = "--no-network", description = "Leave out the bridge, taps and client namespace.")
    boolean noNetwork;

    @Option(names = "--console", paramLabel = "rig|all|none", defaultValue = "rig",
        description = "Console lines to show: rig (the init script's, and panics; default), all, none.")
    String console;

    @Option(names = "--fault", paramLabel = "kill|panic|mce", description = "Inject this fault into a kernel " +
        "once every job has run for --fault-after seconds.")
    String fault;

    @Option(names = "--fault-replica", paramLabel = "N", defaultValue = "0", description = "The kernel to fault " +
        "(default ${DEFAULT-VALUE}).")
    int faultReplica;

    @Option(names = "--fault-after", paramLabel = "SECONDS", defaultValue = "5",
        description = "Seconds after the last kernel boots, or with --replicate after the primary's program " +
            "first prints (default ${DEFAULT-VALUE}).")
    int faultAfter;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "300",
        description = "How long the jobs may run (default ${DEFAULT-VALUE}); then the kernels are stopped.")
    int timeoutSeconds;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Consoles, shares and the initramfs " +
        "(default /var/tmp/replicore-rig/RUN).")
    Path workDir;

    @Option(names = "--status-command", hidden = true, description = "Command printing the mailbox's status; " +
        "the mailbox path is appended (bin/rig passes bin/replicore status --mailbox).")
    String statusCommand;

    public static void main(final String[] args)
    {
        // A setting the rig refuses (RigContext's checks) is bad usage: its message, not a stack trace.
        System.exit(new CommandLine(new RigCommand()).setExecutionExceptionHandler((ex, cmd, parsed) ->
        {
            cmd.getErr().println("rig: " + ex.getMessage());
            return ex instanceof IllegalArgumentException ? 2 : 1;
        }).execute(args));
    }

    @Override
    public Integer call() throws Exception
    {
        if ((job != null ? 1 : 0) + (jobCommand != null ? 1 : 0) + (replicate != null ? 1 : 0) > 1)
        {
            throw new CommandLine.ParameterException(new CommandLine(this),
                "give one of --job, --job-command and --replicate");
        }
        if (fault != null && !List.of("kill", "panic", "mce").contains(fault))
        {
            throw new CommandLine.ParameterException(new CommandLine(this), "--fault must be kill, panic or mce: " +
                fault);
        }
        if (fault != null && (faultReplica < 0 || faultReplica >= replicas))
        {
            throw new CommandLine.ParameterException(new CommandLine(this), "--fault-replica must be 0.." +
                (replicas - 1) + ": " + faultReplica);
        }
        final RigContext ctx = new RigContext().replicaCount(replicas).memoryMiB(memoryMiB).network(!noNetwork)
            .accelerator(Accelerator.Choice.valueOf(accel.toUpperCase(Locale.ROOT))).workDir(workDir);
        try (Rig rig = Rig.open(ctx))
        {
            say("mailbox " + rig.mailboxPath() + " (" + rig.mailboxBackingLength() + " bytes of ivshmem); watch it " +
                "from the host: bin/replicore status --mailbox " + rig.mailboxPath());
            if (!noNetwork)
            {
                say("network: kernels at " + RigNetwork.replicaIp(0) + ".." + RigNetwork.replicaIp(replicas - 1) +
                    ", a client shell: ip netns exec " + rig.network().clientNamespace() + " bash");
            }
            final List<Thread> tails = new ArrayList<>();
            for (final ReplicaVm vm : rig.vms())
            {
                vm.start(jobFor(vm));
                say(vm.hostname() + ": QEMU pid " + vm.pid() + " on host CPU " + vm.hostCpu() + ", console " +
                    vm.consoleLog() + ", monitor " + vm.monitorSocket());
                if (!console.equals("none"))
                {
                    tails.add(ConsoleTail.start(vm, console.equals("all")));
                }
            }
            boolean ok = true;
            try
            {
                for (final ReplicaVm vm : rig.vms())
                {
                    say(vm.hostname() + " booted in " + vm.awaitBoot() + " ms (" + rig.accelerator().accelerator() +
                        ")");
                }
                if (fault != null)
                {
                    if (replicate != null)
                    {
                        // The coordinators' JVMs take seconds under TCG: count from the primary's first output.
                        rig.vm(0).awaitOutput("\n", TimeUnit.SECONDS.toMillis(timeoutSeconds));
                        say("the primary's program prints; the fault comes in " + faultAfter + " s");
                    }
                    Thread.sleep(TimeUnit.SECONDS.toMillis(faultAfter));
                    inject(rig.vm(faultReplica));
                }
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
                for (final ReplicaVm vm : rig.vms())
                {
                    final long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
                    try
                    {
                        vm.awaitExit(left);
                    }
                    catch (final IllegalStateException stillRunning)
                    {
                        say(vm.hostname() + " still running after " + timeoutSeconds + " s: stopping it");
                    }
                }
            }
            catch (final IllegalStateException ex)
            {
                System.err.println("rig: " + ex.getMessage());
                ok = false;
            }
            Thread.sleep(200);
            tails.forEach(Thread::interrupt);
            for (final ReplicaVm vm : rig.vms())
            {
                final Integer status = vm.jobStatus();
                ok &= status != null && status == 0 || fault != null && vm.id() == faultReplica;
                System.out.println();
                say(vm.hostname() + ": job " + (status == null ? "did not finish" : "exited " + status) +
                    "; its output (" + vm.share().resolve("output") + "):");
                vm.jobOutput().lines().forEach(line -> System.out.println("  " + line));
            }
            showStatus(rig);
            return ok ? 0 : 1;
        }
    }

    private String jobFor(final ReplicaVm vm) throws IOException
    {
        if (job != null)
        {
            return Files.readString(job);
        }
        if (jobCommand != null)
        {
            return jobCommand + "\n";
        }
        if (replicate != null)
        {
            return GuestJava.coordinatorJob(Path.of(System.getProperty("replicore.rig.coordinatorTarget",
                "coordinator/target")), vm.id(), heartbeatTimeoutMs, "", replicate);
        }
        return GuestJava.command(GuestMailboxCheck.class.getName(), String.valueOf(vm.id()), "3") + "\n";
    }

    private void inject(final ReplicaVm vm)
    {
        say("injecting " + fault + " into " + vm.hostname());
        final FaultInjector.Injected injected = switch (fault)
        {
            case "kill" -> FaultInjector.kill(vm);
            case "panic" -> FaultInjector.panic(vm);
            default -> FaultInjector.machineCheck(vm);
        };
        say(vm.hostname() + ": " + injected.fault() + " confirmed in " + injected.confirmMs() + " ms: " +
            injected.evidence());
    }

    private void showStatus(final Rig rig) throws Exception
    {
        if (statusCommand == null)
        {
            return;
        }
        System.out.println();
        say("the mailbox from the host (" + statusCommand + " " + rig.mailboxPath() + "):");
        final List<String> command = new ArrayList<>(List.of("sh", "-c", statusCommand + " \"$1\"", "sh",
            rig.mailboxPath().toString()));
        new ProcessBuilder(command).inheritIO().start().waitFor(60, TimeUnit.SECONDS);
    }

    private static void say(final String line)
    {
        System.out.println("rig: " + line);
    }

    /** Follows one VM's console file and prints its lines with the VM's name. */
    static final class ConsoleTail
    {
        private ConsoleTail()
        {
        }

        static Thread start(final ReplicaVm vm, final boolean all)
        {
            final Thread thread = new Thread(() -> follow(vm, all), vm.hostname() + "-console");
            thread.setDaemon(true);
            thread.start();
            return thread;
        }

        private static void follow(final ReplicaVm vm, final boolean all)
        {
            long position = 0;
            final StringBuilder partial = new StringBuilder();
            final byte[] chunk = new byte[8192];
            while (!Thread.currentThread().isInterrupted())
            {
                try (RandomAccessFile file = new RandomAccessFile(vm.consoleLog().toFile(), "r"))
                {
                    file.seek(position);
                    int n;
                    while ((n = file.read(chunk)) > 0)
                    {
                        position += n;
                        partial.append(new String(chunk, 0, n, StandardCharsets.UTF_8));
                        int nl;
                        while ((nl = partial.indexOf("\n")) >= 0)
                        {
                            final String line = partial.substring(0, nl).replace("\r", "");
                            partial.delete(0, nl + 1);
                            if (all || isRigLine(line))
                            {
                                System.out.println("[" + vm.hostname() + "] " + line);
                            }
                        }
                    }
                }
                catch (final IOException notYet)
                {
                    // The console file appears when QEMU starts.
                }
                try
                {
                    Thread.sleep(100);
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
            }
        }

        private static boolean isRigLine(final String line)
        {
            return line.startsWith("replicore-rig:") || line.contains("Kernel panic") ||
                line.contains("sysrq:") || line.contains("Machine Check") || line.contains("Linux version");
        }
    }
}
