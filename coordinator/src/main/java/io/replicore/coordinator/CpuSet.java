package io.replicore.coordinator;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;

import java.io.File;
import java.util.BitSet;

/**
 * A partition's CPUs, parsed from the kernel's list format ({@code 0,2-3}), and pinning to them.
 */
public final class CpuSet
{
    private static final ProcessCalls CALLS = Native.load(ProcessCalls.class);
    private static final int CPU_SETSIZE = 1024;

    private final BitSet cpus;

    private CpuSet(final BitSet cpus)
    {
        this.cpus = cpus;
    }

    /**
     * @throws IllegalArgumentException naming the part of the list that is wrong.
     */
    public static CpuSet parse(final String list)
    {
        final BitSet cpus = new BitSet();
        for (final String part : list.split(","))
        {
            final String[] range = part.trim().split("-", -1);
            try
            {
                final int first = Integer.parseInt(range[0]);
                final int last = range.length == 2 ? Integer.parseInt(range[1]) : first;
                if (range.length > 2 || first < 0 || last < first || last >= CPU_SETSIZE)
                {
                    throw new IllegalArgumentException("bad CPU range '" + part + "' in '" + list + "'");
                }
                cpus.set(first, last + 1);
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("bad CPU number in '" + part + "' of '" + list + "'");
            }
        }
        return new CpuSet(cpus);
    }

    /**
     * @return the CPUs this process may run on now.
     */
    public static CpuSet current()
    {
        final Native.Scratch mask = Native.allocate(CPU_SETSIZE / 8);
        if (CALLS.sched_getaffinity(0, CPU_SETSIZE / 8, mask.pointer()) < 0)
        {
            throw new IllegalStateException("sched_getaffinity failed: errno " + Native.lastErrno());
        }
        final BitSet cpus = new BitSet();
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        {
            if ((mask.buffer().getByte(cpu / 8) & (1 << (cpu % 8))) != 0)
            {
                cpus.set(cpu);
            }
        }
        return new CpuSet(cpus);
    }

    public int count()
    {
        return cpus.cardinality();
    }

    public boolean isEmpty()
    {
        return cpus.isEmpty();
    }

    /**
     * @return the CPUs of this set that are not in {@code other}: what is left of a partition once the application
     * has its share, or what of a list lies outside a partition.
     */
    public CpuSet minus(final CpuSet other)
    {
        final BitSet rest = (BitSet)cpus.clone();
        rest.andNot(other.cpus);
        return new CpuSet(rest);
    }

    /**
     * @return the {@code index}-th CPU of the set.
     */
    public int nth(final int index)
    {
        int cpu = cpus.nextSetBit(0);
        for (int i = 0; i < index; i++)
        {
            cpu = cpus.nextSetBit(cpu + 1);
        }
        return cpu;
    }

    /**
     * Pin every thread of this JVM (compiler and GC threads included) to the set.
     */
    public void pinThisProcess()
    {
        final Native.Scratch mask = Native.allocate(CPU_SETSIZE / 8);
        for (int cpu = cpus.nextSetBit(0); cpu >= 0; cpu = cpus.nextSetBit(cpu + 1))
        {
            mask.buffer().putByte(cpu / 8, (byte)(mask.buffer().getByte(cpu / 8) | (1 << (cpu % 8))));
        }
        final File[] tasks = new File("/proc/self/task").listFiles();
        if (tasks == null)
        {
            throw new IllegalStateException("cannot list /proc/self/task");
        }
        for (final File task : tasks)
        {
            if (CALLS.sched_setaffinity(Integer.parseInt(task.getName()), CPU_SETSIZE / 8, mask.pointer()) < 0 &&
                Native.lastErrno() != 3 /* ESRCH: the thread ended meanwhile */)
            {
                throw new IllegalStateException("cannot pin to CPUs " + this + ": errno " + Native.lastErrno());
            }
        }
    }

    @Override
    public String toString()
    {
        final StringBuilder list = new StringBuilder();
        for (int cpu = cpus.nextSetBit(0); cpu >= 0; cpu = cpus.nextSetBit(cpu + 1))
        {
            final int end = cpus.nextClearBit(cpu) - 1;
            if (list.length() > 0)
            {
                list.append(',');
            }
            list.append(cpu);
            if (end > cpu)
            {
                list.append('-').append(end);
            }
            cpu = end;
        }
        return list.toString();
    }
}
