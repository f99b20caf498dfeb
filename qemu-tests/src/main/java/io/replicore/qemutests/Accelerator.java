package io.replicore.qemutests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Which QEMU accelerator runs the replica kernels. KVM is the first choice (on a real server it works and a
 * guest runs at native speed), but on some hosts /dev/kvm opens and guests then hang (docs: the QEMU rig), so
 * KVM is only used after a real probe: a short boot of the rig's own kernel and initramfs under a timeout, which
 * must reach the init script. Otherwise TCG (multi-threaded translation). The verdict is cached per kernel for the
 * life of the JVM, so a test suite probes once.
 */
public enum Accelerator
{
    KVM("kvm"),
    TCG("tcg,thread=multi");

    /** What the rig's user asks for. */
    public enum Choice
    {
        /** KVM if the probe boots, else TCG. */
        AUTO,
        /** KVM, unprobed (fails the way KVM fails). */
        KVM,
        /** TCG, without probing KVM. */
        TCG
    }

    /**
     * The verdict and why, as logged; {@code probeConsole} is the probe guest's console log, null without a probe
     * boot (the verdict is cached, so it may be in an earlier rig's work directory).
     */
    public record Verdict(Accelerator accelerator, String reason, Path probeConsole)
    {
        Verdict(final Accelerator accelerator, final String reason)
        {
            this(accelerator, reason, null);
        }

        @Override
        public String toString()
        {
            return accelerator.name() + " (" + reason + ")";
        }
    }

    private static final String PROBE_MARKER = "replicore-rig: probe reached init";
    private static final ConcurrentHashMap<String, Verdict> PROBED = new ConcurrentHashMap<>();

    private final String accelOption;

    Accelerator(final String accelOption)
    {
        this.accelOption = accelOption;
    }

    /** @return QEMU's arguments for this accelerator. */
    public List<String> qemuArgs()
    {
        return List.of("-accel", accelOption);
    }

    /**
     * The accelerator for {@code ctx}: as chosen, or probed once (AUTO). Logs the verdict on stderr.
     *
     * @param initramfs the rig's initramfs, whose init powers off at once on {@code replicore.probe}.
     */
    public static Verdict choose(final RigContext ctx, final Path initramfs)
    {
        final Verdict verdict = switch (ctx.accelerator())
        {
            case KVM -> new Verdict(KVM, "chosen");
            case TCG -> new Verdict(TCG, "chosen");
            case AUTO -> PROBED.computeIfAbsent(ctx.kernelImage().toString(), k -> probe(ctx, initramfs));
        };
        System.err.println("rig: accelerator " + verdict);
        return verdict;
    }

    /**
     * Boot the kernel under KVM with {@code replicore.probe} on its command line and wait for the init script's
     * marker on the console.
     */
    static Verdict probe(final RigContext ctx, final Path initramfs)
    {
        final Path kvm = Path.of("/dev/kvm");
        if (!Files.exists(kvm))
        {
            return new Verdict(TCG, "no /dev/kvm");
        }
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm))
        {
            return new Verdict(TCG, "/dev/kvm is not readable and writable by this user");
        }

        final Path console = ctx.workDir().resolve("kvm-probe-console.log");
        final List<String> command = new ArrayList<>(List.of(ctx.qemu(), "-nodefaults", "-display", "none",
            "-no-reboot", "-smp", "1", "-m", "256"));
        command.addAll(KVM.qemuArgs());
        command.addAll(List.of("-kernel", ctx.kernelImage().toString(), "-initrd", initramfs.toString(),
            "-append", "console=ttyS0 panic=-1 replicore.probe", "-serial", "file:" + console));
        final long start = System.nanoTime();
        Process qemu = null;
        try
        {
            qemu = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ctx.workDir().resolve("kvm-probe-qemu.log").toFile()).start();
            final boolean exited = qemu.waitFor(ctx.kvmProbeTimeoutMs(), TimeUnit.MILLISECONDS);
            final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            final String seen = Files.exists(console) ? Files.readString(console) : "";
            if (seen.contains(PROBE_MARKER))
            {
                return new Verdict(KVM, "probe guest reached init in " + ms + " ms", console);
            }
            if (!exited)
            {
                return new Verdict(TCG, "KVM probe guest did not reach init within " + ctx.kvmProbeTimeoutMs() +
                    " ms" + lastLine(seen), console);
            }
            final String qemuLog = Files.readString(ctx.workDir().resolve("kvm-probe-qemu.log")).trim();
            return new Verdict(TCG, "KVM probe QEMU exited " + qemu.exitValue() +
                (qemuLog.isEmpty() ? "" : ": " + qemuLog.lines().reduce((a, b) -> b).orElse("")) + lastLine(seen),
                console);
        }
        catch (final IOException ex)
        {
            return new Verdict(TCG, "KVM probe could not start QEMU: " + ex.getMessage());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return new Verdict(TCG, "KVM probe interrupted");
        }
        finally
        {
            Exec.killAndWait(qemu);
        }
    }

    private static String lastLine(final String console)
    {
        final String last = console.strip().lines().reduce((a, b) -> b).orElse("");
        return last.isEmpty() ? "; its console stayed empty" : "; its console's last line: " + last.strip();
    }
}
