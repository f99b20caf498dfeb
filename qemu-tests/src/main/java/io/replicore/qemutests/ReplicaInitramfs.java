package io.replicore.qemutests;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The initramfs of a replica kernel started on an offlined CPU (kernel-patches 0003): the static busybox and the
 * {@code replica-init} script, and, when asked, a Java runtime ({@link ReplicaJre}) with this JVM's class path,
 * so the replica runs the project's Java code. The replica has no PCI, so no 9p root: it speaks through its
 * serial port (ttyS1) and the mailbox, and everything it runs is in this archive.
 * <p>
 * With Java: the runtime is {@code /jre}; every class path entry ({@link GuestJava#classPathEntries()}) is at its
 * host path, so the class path is the host's; {@code /bin/java-main MAIN ARGS...} runs a main with it,
 * {@link #JVM_FLAGS} and {@link GuestJava#FIXED_ENVIRONMENT}, which replica-init calls for
 * {@code replica.java=MAIN,ARG,...} on the replica's command line.
 * About 46 MB, unpacked into the replica's RAM (the crash reservation), in ramfs: the partition plan's replica
 * command line (boot-scripts/replicore-plan) says {@code rootfstype=ramfs}.
 * <p>
 * With a coordinator ({@link #buildWithCoordinator}): the coordinator's build too, its jar and libraries on
 * java-main's class path and its native launcher beside the jar, and the programs it is to replicate, all at their
 * host paths, so that the replica kernel runs a replica of a service as any kernel of the machine does.
 */
public final class ReplicaInitramfs
{
    /** The launcher replica-init runs: {@code java-main MAIN ARGS...}. */
    public static final String JAVA_MAIN = "/bin/java-main";
    /**
     * The replica's JVM lives in the crash reservation beside the unpacked archive (with crashkernel=256M, 100 MB
     * are free when it starts; it peaks near 48 MB resident, the runtime's files it maps included): a heap bound
     * that does not follow the reservation (the mailbox code's live data is a few MB), serial GC and C1 only as in
     * the rig's guests (no GC or C2 threads on the replica's one CPU), a bounded code cache and no perf data file.
     */
    public static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx48m",
        "-Xss512k", "-XX:ReservedCodeCacheSize=32m", "-XX:-UsePerfData");

    private static final String INIT_RESOURCE = "replica-init";
    private static final String JRE = "/jre";
    private static final Path LOADER_CACHE = Path.of("/etc/ld.so.cache");

    private ReplicaInitramfs()
    {
    }

    /** Build {@code WORK/replica-initramfs.cpio}, busybox and replica-init only; @return the archive. */
    public static Path build(final KernelRigContext ctx)
    {
        return build(ctx, null, List.of());
    }

    /**
     * Build {@code WORK/replica-initramfs.cpio} with the Java runtime and this JVM's class path.
     *
     * @return the archive.
     */
    public static Path buildWithJava(final KernelRigContext ctx)
    {
        return build(ctx, GuestJava.classPathEntries(), List.of());
    }

    /**
     * Build {@code WORK/replica-initramfs.cpio} with the Java runtime, this JVM's class path and the coordinator's
     * build ({@code coordinatorTarget}), and {@code programs}, which must need no library but the runtime's (libc).
     *
     * @return the archive.
     */
    public static Path buildWithCoordinator(final KernelRigContext ctx, final Path coordinatorTarget,
        final List<Path> programs)
    {
        final List<String> classPath = new ArrayList<>(GuestJava.classPathEntries());
        classPath.addAll(GuestJava.coordinatorClassPath(coordinatorTarget));
        final List<Path> files = new ArrayList<>(programs);
        files.add(coordinatorTarget.toAbsolutePath().normalize().resolve("native/replicore-launch"));
        // A replica's program must find the files the primary's found: without the loader's cache, the replica's
        // dynamic loader searched its directories where the primary's read the cache (a divergence at record 2).
        files.add(LOADER_CACHE);
        return build(ctx, classPath, files);
    }

    /** @param classPath java-main's class path, or null for an archive without Java. */
    private static Path build(final KernelRigContext ctx, final List<String> classPath, final List<Path> files)
    {
        final Path root = ctx.workDir().resolve("replica-initramfs-root");
        final Path archive = ctx.workDir().resolve("replica-initramfs.cpio");
        try
        {
            ReplicaJre.deleteTree(root);
            for (final String dir : new String[] {"bin", "proc", "sys", "dev", "tmp"})
            {
                Files.createDirectories(root.resolve(dir));
            }
            Files.copy(ctx.rigContext().busybox(), root.resolve("bin/busybox"), StandardCopyOption.REPLACE_EXISTING);
            try (InputStream init = ReplicaInitramfs.class.getResourceAsStream(INIT_RESOURCE))
            {
                if (init == null)
                {
                    throw new IllegalStateException("resource " + INIT_RESOURCE + " is missing from the build");
                }
                Files.copy(init, root.resolve("init"), StandardCopyOption.REPLACE_EXISTING);
            }
            Files.setPosixFilePermissions(root.resolve("init"), PosixFilePermissions.fromString("rwxr-xr-x"));
            if (classPath != null)
            {
                addJava(root, ReplicaJre.cached(ctx.cacheDir()), classPath);
            }
            for (final Path file : files)
            {
                copyTree(file, inRoot(root, file.toAbsolutePath().normalize()));
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot lay out the replica's initramfs in " + root, ex);
        }
        Exec.run(60_000, "sh", "-c", "cd \"$1\" && find . | cpio -o -H newc --quiet > \"$2\"", "sh",
            root.toString(), archive.toString()).orThrow();
        return archive;
    }

    private static void addJava(final Path root, final Path jre, final List<String> classPath) throws IOException
    {
        copyTree(jre, inRoot(root, Path.of(JRE)));
        for (final Path library : ReplicaJre.sharedLibraries(jre))
        {
            copyTree(library, inRoot(root, library));
        }
        for (final String entry : classPath)
        {
            if (entry.endsWith("*"))
            {
                final Path dir = Path.of(entry.substring(0, entry.length() - 1));
                try (Stream<Path> jars = Files.list(dir))
                {
                    for (final Path jar : jars.filter(f -> f.toString().endsWith(".jar")).toList())
                    {
                        copyTree(jar, inRoot(root, jar));
                    }
                }
            }
            else
            {
                copyTree(Path.of(entry), inRoot(root, Path.of(entry)));
            }
        }
        final Path launcher = inRoot(root, Path.of(JAVA_MAIN));
        Files.writeString(launcher, "#!/bin/busybox sh\n" +
            "# Made by ReplicaInitramfs: MAIN ARGS... on the replica's Java runtime and the host's class path.\n" +
            "exec " + GuestJava.FIXED_ENVIRONMENT + " " + GuestJava.launcher(JRE + "/bin/java", JVM_FLAGS,
            String.join(":", classPath)) + " \"$@\"\n");
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static Path inRoot(final Path root, final Path hostPath)
    {
        return root.resolve(hostPath.toAbsolutePath().toString().substring(1));
    }

    /** Copy a file (its content, if a symbolic link) or a directory with everything in it. */
    private static void copyTree(final Path from, final Path to) throws IOException
    {
        try (Stream<Path> files = Files.walk(from))
        {
            for (final Path file : files.toList())
            {
                final Path target = to.resolve(from.relativize(file).toString());
                if (Files.isDirectory(file))
                {
                    Files.createDirectories(target);
                }
                else
                {
                    Files.createDirectories(target.getParent());
                    Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
