package io.replicore.qemutests;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * boot-scripts/replicore-initramfs, the operator's builder of a replica kernel's initramfs (default suite, no QEMU):
 * what each kind of archive holds, read back with cpio, and what it refuses. The archives' use in a replica kernel
 * is the kernel suite's (ReplicaLaunchTest, ReplicaKernelSharesTheMailboxTest, ReplicatedProgramOnReplicaKernelsTest).
 */
class ReplicaInitramfsScriptTest
{
    private static final Path COORDINATOR = Path.of(System.getProperty("replicore.rig.coordinatorTarget",
        "../coordinator/target")).toAbsolutePath().normalize();
    private static final Path TICKER = COORDINATOR.resolve("test-native/ft_ticker");
    private static final Path BUSYBOX = Path.of("/bin/busybox");

    @TempDir
    Path dir;

    @Test
    void anArchiveWithoutJavaHoldsBusyboxAndTheReplicasInitOnly() throws Exception
    {
        final Path archive = dir.resolve("plain.cpio");
        final Result built = run("--out", archive.toString(), "--busybox", BUSYBOX.toString());
        assertEquals(0, built.status, built.text);
        assertEquals(archive + " " + Files.size(archive), built.text.strip());
        final Set<String> files = contents(archive);
        assertEquals(Set.of(".", "bin", "bin/busybox", "init", "proc", "sys", "dev", "tmp"), files);
        assertEquals(Files.readString(BootScripts.directory().resolve("replica-init")), extract(archive, "init"));
    }

    @Test
    void anOperatorsArchiveRunsItsReplicaOfTheProgramUnderTheCoordinatorWithEverythingAtTheHostsPaths()
        throws Exception
    {
        final Path archive = dir.resolve("ticker.cpio");
        final Result built = run("--out", archive.toString(), "--busybox", BUSYBOX.toString(), "--coordinator",
            COORDINATOR.toString(), "--replica", "1", "--heartbeat-timeout", "5000", "--jdk",
            System.getProperty("java.home"), "--jre-cache", dir.resolve("jre").toString(), "--",
            TICKER.toString(), "100", "250");
        assertEquals(0, built.status, built.text);
        final Set<String> files = contents(archive);
        final String jar = GuestJava.coordinatorClassPath(COORDINATOR).get(0);
        for (final String file : List.of("init", "bin/busybox", "bin/java-main", "etc/replicore/run", "jre/bin/java",
            "etc/ld.so.cache", "lib/x86_64-linux-gnu/libc.so.6", "lib64/ld-linux-x86-64.so.2", TICKER.toString(),
            jar, COORDINATOR.resolve("native/replicore-launch").toString()))
        {
            assertTrue(files.contains(file.startsWith("/") ? file.substring(1) : file), file + " in " + files);
        }
        assertTrue(files.stream().anyMatch(f -> f.startsWith(COORDINATOR.resolve("lib").toString().substring(1) +
            "/agrona-")), "the coordinator's libraries: " + files);
        assertEquals("#!/bin/busybox sh\n# Made by replicore-initramfs: replica 1 of " + TICKER + " under its " +
            "coordinator.\nexec /bin/java-main io.replicore.coordinator.cli.ReplicoreCli replica --id 1 --mailbox " +
            "/dev/replicore-mailbox --partition kernel --log /dev/console --heartbeat-timeout 5000 -- " + TICKER +
            " 100 250\n", extract(archive, "etc/replicore/run"));
        final String javaMain = extract(archive, "bin/java-main");
        assertTrue(javaMain.contains("exec env -i HOME=/ PATH=/usr/bin:/bin /jre/bin/java --add-opens " +
            "java.base/jdk.internal.misc=ALL-UNNAMED"), javaMain);
        assertTrue(javaMain.contains(" -Xmx48m "), javaMain);
        assertTrue(javaMain.contains(" -cp '" + jar + ":" + COORDINATOR + "/lib/*' \"$@\""), javaMain);
    }

    @Test
    void whatCannotMakeAWorkingReplicaIsRefusedWithTheReason() throws Exception
    {
        final String out = dir.resolve("refused.cpio").toString();
        assertRefused(run("--out", out, "--busybox", "/bin/ls"), 1, "is dynamically linked");
        assertRefused(run("--out", out, "--busybox", BUSYBOX.toString(), "--", TICKER.toString()), 1,
            "a program to replicate needs its coordinator: --coordinator COORDINATOR_TARGET");
        assertRefused(run("--out", out, "--busybox", BUSYBOX.toString(), "--coordinator", COORDINATOR.toString(),
            "--", TICKER.toString()), 1, "which replica runs in this kernel? --replica ID");
        assertRefused(run("--out", out, "--busybox", BUSYBOX.toString(), "--coordinator", dir.toString(),
            "--replica", "1", "--", TICKER.toString()), 1, "no coordinator build in " + dir);
        assertRefused(run("--out", out, "--busybox", BUSYBOX.toString(), "--coordinator", COORDINATOR.toString(),
            "--replica", "1", "--", "no-such-program"), 1, "no program no-such-program");
        assertRefused(run("--busybox", BUSYBOX.toString()), 2, "the following arguments are required: --out");
        assertFalse(Files.exists(Path.of(out)), "no archive was written");
    }

    private static Set<String> contents(final Path archive) throws Exception
    {
        final Result listed = exec(List.of("sh", "-c", "cpio -it --quiet < \"$1\"", "sh", archive.toString()));
        assertEquals(0, listed.status, listed.text);
        return Set.copyOf(listed.text.lines().map(f -> f.startsWith("./") ? f.substring(2) : f).toList());
    }

    private static String extract(final Path archive, final String file) throws Exception
    {
        final Result read = exec(List.of("sh", "-c", "cpio -i --quiet --to-stdout \"$2\" < \"$1\" 2> /dev/null", "sh",
            archive.toString(), file));
        assertEquals(0, read.status, read.text);
        return read.text;
    }

    private static void assertRefused(final Result result, final int status, final String reason)
    {
        assertEquals(status, result.status, result.text);
        assertTrue(result.text.contains(reason), "expected '" + reason + "' in:\n" + result.text);
    }

    private static Result run(final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of(
            BootScripts.directory().resolve("replicore-initramfs").toString()));
        command.addAll(List.of(args));
        return exec(command);
    }

    private static Result exec(final List<String> command) throws Exception
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String text = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(300, TimeUnit.SECONDS), String.join(" ", command) + " did not end");
        return new Result(process.exitValue(), text);
    }

    private record Result(int status, String text)
    {
    }
}
