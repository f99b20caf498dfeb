package io.replicore.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How much CPU the rest of the machine took while the benchmarks ran. Each benchmark keeps two processes
 * spinning, which on a 2-CPU machine is all of it: anything else that runs (a build, another test, the
 * hypervisor's steal) pushes one spinner off its CPU and turns sub-microsecond round trips into scheduler
 * time slices. The numbers of such a run are not the mailbox's, and the report says so.
 * <p>
 * Busy time of the whole machine comes from /proc/stat; this run's own share is this JVM's CPU time plus that of
 * its waited-for children (the JMH forks and, through them, the peers) from /proc/self/stat.
 */
final class CpuInterference
{
    private final long machineBusy;
    private final long machineTotal;
    private final long ownTicks;

    private CpuInterference(final long machineBusy, final long machineTotal, final long ownTicks)
    {
        this.machineBusy = machineBusy;
        this.machineTotal = machineTotal;
        this.ownTicks = ownTicks;
    }

    /**
     * @return the counters now, or null where /proc cannot be read (not Linux).
     */
    static CpuInterference snapshot()
    {
        try
        {
            final String[] cpu = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            // cpu user nice system idle iowait irq softirq steal ...
            final long idle = Long.parseLong(cpu[4]) + Long.parseLong(cpu[5]);
            long busy = 0;
            for (final int field : new int[]{ 1, 2, 3, 6, 7, 8 })
            {
                busy += Long.parseLong(cpu[field]);
            }
            final String self = Files.readString(Path.of("/proc/self/stat"));
            // Fields after the command name, which may contain spaces: state is field 3, utime field 14.
            final String[] fields = self.substring(self.lastIndexOf(')') + 2).trim().split("\\s+");
            final long own = Long.parseLong(fields[11]) + Long.parseLong(fields[12]) +
                Long.parseLong(fields[13]) + Long.parseLong(fields[14]);
            return new CpuInterference(busy, busy + idle, own);
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
    }

    /**
     * @return the share of the machine's CPU capacity between the two snapshots used by anything but this run,
     * 0 to 1, or NaN if unknown.
     */
    static double othersShare(final CpuInterference before, final CpuInterference after)
    {
        if (before == null || after == null || after.machineTotal <= before.machineTotal)
        {
            return Double.NaN;
        }
        final long others = (after.machineBusy - before.machineBusy) - (after.ownTicks - before.ownTicks);
        return Math.max(0, (double)others / (after.machineTotal - before.machineTotal));
    }
}
