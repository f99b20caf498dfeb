package io.replicore.qemutests;

import java.util.concurrent.TimeUnit;

/**
 * Faults of a whole replica kernel, injected from the host, each verified before it returns:
 * <ul>
 * <li>{@link #kill}: SIGKILL to the VM's QEMU (by its pid): the partition's power is cut;</li>
 * <li>{@link #panic}: {@code sendkey alt-sysrq-c} through the monitor (the guest enables sysrq): the kernel
 * crashes with "sysrq triggered crash";</li>
 * <li>{@link #machineCheck}: an uncorrected machine check with the processor context corrupt, through the
 * monitor's {@code mce}: the kernel's machine-check handler panics ("Fatal local machine check").</li>
 * </ul>
 * After a panic the guest stays down: the kernel resets at once ({@code panic=-1}) and QEMU, run with
 * {@code -no-reboot}, exits; {@link #panic} and {@link #machineCheck} wait for both.
 */
public final class FaultInjector
{
    /** The console line of a sysrq crash. */
    public static final String SYSRQ_PANIC = "Kernel panic - not syncing: sysrq triggered crash";
    /** The console line of a fatal machine check (Linux's mce_panic). */
    public static final String MCE_PANIC = "Kernel panic - not syncing: Fatal";

    /** Bank 1 of CPU 0: any bank the guest's handler has enabled would do; bank 0 is often reserved. */
    public static final int MCE_BANK = 1;
    /**
     * IA32_MCi_STATUS: VAL (bit 63) | UC (61, uncorrected) | EN (60, reporting enabled) | PCC (57, processor
     * context corrupt). Linux grades PCC as "Processor Context Corrupt", severity PANIC.
     */
    public static final long MCE_STATUS = (1L << 63) | (1L << 61) | (1L << 60) | (1L << 57);
    /**
     * IA32_MCG_STATUS: MCIP (bit 2, machine check in progress) without RIPV: the interrupted code cannot be
     * restarted.
     */
    public static final long MCG_STATUS = 1L << 2;

    private static final long PANIC_TIMEOUT_MS = TimeUnit.SECONDS.toMillis(30);

    /** What an injection did, and when it was confirmed. */
    public record Injected(String fault, long injectedNs, long confirmedNs, String evidence)
    {
        public long confirmMs()
        {
            return TimeUnit.NANOSECONDS.toMillis(confirmedNs - injectedNs);
        }
    }

    private FaultInjector()
    {
    }

    /** SIGKILL the VM's QEMU and wait until the process is gone. */
    public static Injected kill(final ReplicaVm vm)
    {
        final long pid = vm.pid();
        final long injected = System.nanoTime();
        vm.kill();
        if (vm.isAlive() || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
        {
            throw new IllegalStateException(vm.hostname() + ": QEMU (pid " + pid + ") survived SIGKILL");
        }
        return new Injected("kill", injected, System.nanoTime(), "QEMU pid " + pid + " gone, exit " +
            vm.process().exitValue());
    }

    /** Crash the guest kernel with sysrq-c pressed on its keyboard, and wait for the panic on its console. */
    public static Injected panic(final ReplicaVm vm)
    {
        final long injected = System.nanoTime();
        final String answer = vm.monitor().command("sendkey alt-sysrq-c");
        return confirmPanic(vm, "sysrq-c", injected, SYSRQ_PANIC, answer);
    }

    /** Inject an uncorrected, context-corrupting machine check into CPU 0, and wait for the kernel's panic. */
    public static Injected machineCheck(final ReplicaVm vm)
    {
        final String command = String.format("mce 0 %d 0x%x 0x%x 0 0", MCE_BANK, MCE_STATUS, MCG_STATUS);
        final long injected = System.nanoTime();
        final String answer = vm.monitor().command(command);
        return confirmPanic(vm, command, injected, MCE_PANIC, answer);
    }

    private static Injected confirmPanic(final ReplicaVm vm, final String fault, final long injected,
        final String line, final String monitorAnswer)
    {
        final long seen;
        try
        {
            seen = vm.awaitConsole(line, PANIC_TIMEOUT_MS);
        }
        catch (final IllegalStateException ex)
        {
            throw new IllegalStateException(vm.hostname() + ": '" + fault + "' did not panic the kernel" +
                (monitorAnswer.isEmpty() ? "" : " (monitor said: " + monitorAnswer + ")") + ": " + ex.getMessage(),
                ex);
        }
        final String evidence = vm.console().lines().filter(l -> l.contains(line)).findFirst().orElse(line).strip();
        // panic=-1 and -no-reboot: the kernel resets right after the panic and QEMU ends.
        vm.awaitExit(PANIC_TIMEOUT_MS);
        return new Injected(fault, injected, seen, evidence);
    }
}
