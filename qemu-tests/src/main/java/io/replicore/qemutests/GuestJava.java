package io.replicore.qemutests;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The shell line a guest's job uses to run Java: the host's own JRE and class path, which the guest sees at the
 * same paths through the 9p root. Under TCG the JIT's code runs several times slower than on the host, so the
 * guest JVM is kept small: serial GC, C1 only, a small heap.
 */
public final class GuestJava
{
    /** Agrona needs these, as bin/replicore and the root pom's surefire configuration pass them. */
    public static final List<String> OPENS = List.of(
        "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/java.util.zip=ALL-UNNAMED");
    public static final List<String> GUEST_FLAGS =
        List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx192m", "-Xss512k");

    private GuestJava()
    {
    }

    /** The java binary of this JVM. */
    public static String javaBinary()
    {
        return ProcessHandle.current().info().command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /** This JVM's class path, existing entries only (the guest's view of the host's files is the same). */
    public static String classPath()
    {
        return Arrays.stream(System.getProperty("java.class.path").split(":"))
            .filter(entry -> !entry.isEmpty() && (entry.endsWith("*") || Files.exists(Path.of(entry))))
            .collect(Collectors.joining(":"));
    }

    /** A shell command line running {@code mainClass} with {@code args} on this JVM's class path. */
    public static String command(final String mainClass, final String... args)
    {
        return commandWithClassPath(classPath(), mainClass, args);
    }

    public static String commandWithClassPath(final String classPath, final String mainClass, final String... args)
    {
        final StringBuilder line = new StringBuilder(quote(javaBinary()));
        for (final String flag : OPENS)
        {
            line.append(' ').append(flag);
        }
        for (final String flag : GUEST_FLAGS)
        {
            line.append(' ').append(flag);
        }
        line.append(" -cp ").append(quote(classPath)).append(' ').append(mainClass);
        for (final String arg : args)
        {
            line.append(' ').append(quote(arg));
        }
        return line.toString();
    }

    /** Single-quote for /bin/sh. */
    public static String quote(final String s)
    {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
