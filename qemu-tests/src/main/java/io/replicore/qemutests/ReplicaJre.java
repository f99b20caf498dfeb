package io.replicore.qemutests;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The Java runtime of a replica kernel's initramfs ({@link ReplicaInitramfs}). A replica has no PCI, so no 9p root
 * and none of the host's files: it cannot run the host's JRE as the rig's machines do, and the initramfs must hold
 * a runtime. jlink makes one from the JDK this JVM runs on, of the modules the mailbox code needs (about 34 MB), once
 * per JDK version and module list, in the rig's cache directory.
 */
public final class ReplicaJre
{
    /**
     * Agrona and jffi use {@code sun.misc.Unsafe} (jdk.unsupported); jnr-ffi and jffi refer to java.util.logging in
     * classes the mailbox's {@code mmap} binding loads.
     */
    public static final List<String> MODULES = List.of("java.base", "java.logging", "jdk.unsupported");

    private static final long JLINK_TIMEOUT_MS = 300_000;

    private ReplicaJre()
    {
    }

    /**
     * The runtime for this JVM's JDK in {@code cacheDir}, made with jlink if it is not there yet.
     *
     * @return the runtime's directory (bin/java, lib/...).
     */
    public static Path cached(final Path cacheDir)
    {
        final Path jdk = Path.of(System.getProperty("java.home"));
        final Path jlink = jdk.resolve("bin/jlink");
        final Path image = cacheDir.resolve("jre-" + Runtime.version() + "-" + String.join(",", MODULES));
        if (Files.isExecutable(image.resolve("bin/java")))
        {
            return image;
        }
        if (!Files.isExecutable(jlink))
        {
            throw new IllegalStateException("no jlink in " + jdk + ": a replica kernel's Java runtime is made from a " +
                "full JDK (install openjdk-17-jdk-headless and run the tests with it)");
        }
        // jlink writes a directory that must not exist; made aside and renamed, a concurrent run sees all or nothing.
        final Path partial = cacheDir.resolve(image.getFileName() + ".partial-" + ProcessHandle.current().pid());
        try
        {
            Files.createDirectories(cacheDir);
            deleteTree(partial);
            Exec.run(JLINK_TIMEOUT_MS, jlink.toString(), "--add-modules", String.join(",", MODULES), "--strip-debug",
                "--no-header-files", "--no-man-pages", "--compress=2", "--output", partial.toString()).orThrow();
            if (Files.exists(image))
            {
                deleteTree(partial);
            }
            else
            {
                Files.move(partial, image, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot make the replica's Java runtime in " + image, ex);
        }
        System.err.println("replica jre: made " + image + " with jlink");
        return image;
    }

    /**
     * The host's shared libraries the runtime's binaries load, as {@code ldd} resolves them (the dynamic loader
     * included; the runtime's own libraries left out): the initramfs holds them at the same paths.
     */
    public static Set<Path> sharedLibraries(final Path image)
    {
        final List<String> command = new ArrayList<>(List.of("ldd"));
        final Set<String> own = new HashSet<>();
        try (Stream<Path> files = Files.walk(image))
        {
            for (final Path file : files.filter(Files::isRegularFile).toList())
            {
                own.add(file.getFileName().toString());
                if (file.toString().endsWith(".so") || file.getParent().endsWith("bin"))
                {
                    command.add(file.toString());
                }
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot list " + image, ex);
        }
        final Set<Path> libraries = new LinkedHashSet<>();
        for (final String line : Exec.run(60_000, command).orThrow().stdout().split("\n"))
        {
            // "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)", "\t/lib64/ld-linux-x86-64.so.2 (0x...)";
            // the runtime's libraries load libjvm.so by no path of theirs ("not found"): the JVM loaded it first.
            final String[] words = line.strip().split("\\s+");
            if (!line.startsWith("\t") || words.length < 2)
            {
                continue;
            }
            final boolean arrow = words[1].equals("=>");
            if (arrow && words[2].equals("not"))
            {
                if (!own.contains(words[0]))
                {
                    throw new IllegalStateException("the replica's Java runtime needs a library the host lacks: " +
                        line.strip());
                }
                continue;
            }
            final String path = arrow ? words[2] : words[0];
            if (path.startsWith("/") && !Path.of(path).normalize().startsWith(image))
            {
                libraries.add(Path.of(path));
            }
        }
        return libraries;
    }

    static void deleteTree(final Path dir) throws IOException
    {
        if (!Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> files = Files.walk(dir))
        {
            for (final Path file : files.sorted(Comparator.reverseOrder()).toList())
            {
                Files.delete(file);
            }
        }
    }
}
