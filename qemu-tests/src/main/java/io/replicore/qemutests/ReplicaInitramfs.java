package io.replicore.qemutests;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The initramfs of a replica kernel started on offlined CPUs (kernel-patches 0003), made by the operator's tool,
 * {@code boot-scripts/replicore-initramfs}: the static busybox and {@code boot-scripts/replica-init}, and, when asked,
 * a Java runtime (jlinked once per JDK version into the rig's cache directory) with a class path, so the replica
 * runs the project's Java code. The replica has no PCI, so no 9p root: it speaks through its serial port (ttyS1) and
 * the mailbox, and everything it runs is in this archive, at the host's paths.
 * <p>
 * With Java, {@code /bin/java-main MAIN ARGS...} runs a main, which replica-init calls for
 * {@code replica.java=MAIN,ARG,...} on the replica's command line. About 46 MB, unpacked into the replica's RAM (the
 * crash reservation), in ramfs: the partition plan's replica command line says {@code rootfstype=ramfs}.
 * <p>
 * With a coordinator ({@link #buildWithCoordinator}, {@link #buildToRun}): the coordinator's build too and the
 * programs it is to replicate, with their libraries and the loader's cache; {@link #buildToRun}'s archive starts a
 * replica of its program under its coordinator by itself ({@code /etc/replicore/run}), as an operator's does.
 */
public final class ReplicaInitramfs
{
    private static final long BUILD_TIMEOUT_MS = 600_000;

    private ReplicaInitramfs()
    {
    }

    /** Build {@code WORK/replica-initramfs.cpio}, busybox and replica-init only; @return the archive. */
    public static Path build(final KernelRigContext ctx)
    {
        return build(ctx, List.of());
    }

    /**
     * Build {@code WORK/replica-initramfs.cpio} with the Java runtime and this JVM's class path.
     *
     * @return the archive.
     */
    public static Path buildWithJava(final KernelRigContext ctx)
    {
        return build(ctx, classPathArgs());
    }

    /**
     * Build {@code WORK/replica-initramfs.cpio} with the Java runtime, this JVM's class path, the coordinator's
     * build ({@code coordinatorTarget}) and {@code programs}, for a {@code replica.java=} of the replica's command
     * line to run.
     *
     * @return the archive.
     */
    public static Path buildWithCoordinator(final KernelRigContext ctx, final Path coordinatorTarget,
        final List<Path> programs)
    {
        final List<String> args = coordinatorArgs(coordinatorTarget);
        args.addAll(classPathArgs());
        for (final Path program : programs)
        {
            args.addAll(List.of("--file", program.toAbsolutePath().normalize().toString()));
        }
        return build(ctx, args);
    }

    /**
     * Build {@code WORK/replica-initramfs.cpio} as an operator does: the coordinator's build and {@code program},
     * not this JVM's class path, which the archive's {@code /etc/replicore/run} starts as replica {@code replica}
     * under its coordinator (events on the console, {@code heartbeatTimeoutMs}) when the replica kernel boots.
     *
     * @return the archive.
     */
    public static Path buildToRun(final KernelRigContext ctx, final Path coordinatorTarget, final int replica,
        final long heartbeatTimeoutMs, final String... program)
    {
        final List<String> args = coordinatorArgs(coordinatorTarget);
        args.addAll(List.of("--replica", String.valueOf(replica), "--heartbeat-timeout",
            String.valueOf(heartbeatTimeoutMs), "--"));
        args.addAll(List.of(program));
        return build(ctx, args);
    }

    /** The coordinator's build. */
    private static List<String> coordinatorArgs(final Path coordinatorTarget)
    {
        return new ArrayList<>(List.of("--coordinator", coordinatorTarget.toAbsolutePath().normalize().toString()));
    }

    /** This JVM's class path, for the kernel suite's own Java mains (replica.java=). */
    private static List<String> classPathArgs()
    {
        final List<String> args = new ArrayList<>();
        for (final String entry : GuestJava.classPathEntries())
        {
            args.addAll(List.of("--class-path", entry));
        }
        return args;
    }

    private static Path build(final KernelRigContext ctx, final List<String> args)
    {
        final Path archive = ctx.workDir().resolve("replica-initramfs.cpio");
        final List<String> command = new ArrayList<>(List.of(
            BootScripts.directory().resolve("replicore-initramfs").toString(), "--out", archive.toString(),
            "--busybox", ctx.rigContext().busybox().toString(),
            "--jdk", System.getProperty("java.home"), "--jre-cache", ctx.cacheDir().toString()));
        command.addAll(args);
        System.err.println("replica initramfs: " + Exec.run(BUILD_TIMEOUT_MS, command).orThrow().stdout().strip());
        return archive;
    }
}
