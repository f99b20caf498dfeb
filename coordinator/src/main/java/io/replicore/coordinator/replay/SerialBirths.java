package io.replicore.coordinator.replay;

import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;

import java.util.HashSet;
import java.util.Set;

/**
 * Serial mode's clone: a new thread starts running the moment the clone returns, alongside its parent, before
 * either makes another intercepted call. To keep even that stretch one thread at a time, and in the same order in
 * every replica, the parent runs it alone and first: before its clone runs, the parent is put on one CPU at
 * real-time priority (SCHED_FIFO, reset on fork, so the child is an ordinary thread on the same CPU, which cannot
 * run before the parent blocks). Each goes back to the application's CPUs and policy at its next call.
 * <p>
 * Used under the serial grant, one clone at a time; arrivals come from any lane, so the methods are synchronized.
 */
final class SerialBirths
{
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final int SCHED_OTHER = 0;
    private static final int SCHED_FIFO = 1;
    private static final int SCHED_RESET_ON_FORK = 0x40000000;
    private static final int MASK_LENGTH = 128;

    private final Native.Scratch mask = Native.allocate(MASK_LENGTH);
    private final Native.Scratch one = Native.allocate(MASK_LENGTH);
    private final Native.Scratch param = Native.allocate(8);
    private final Set<Integer> parents = new HashSet<>();
    /** The application's CPUs, read from the first parent: what every thread goes back to. */
    private boolean maskKnown;
    private int childrenToWiden;

    /**
     * Before a clone of {@code tid} runs. If the parent cannot be made to run first (no privilege for SCHED_FIFO),
     * the clone runs as in parallel mode.
     */
    synchronized void beforeClone(final int tid)
    {
        if (!maskKnown)
        {
            if (PROCESS.sched_getaffinity(tid, MASK_LENGTH, mask.pointer()) < 0)
            {
                return;
            }
            maskKnown = true;
        }
        one.buffer().setMemory(0, MASK_LENGTH, (byte)0);
        final int cpu = firstCpu();
        one.buffer().putByte(cpu / 8, (byte)(1 << (cpu % 8)));
        param.buffer().putInt(0, 1);
        if (PROCESS.sched_setaffinity(tid, MASK_LENGTH, one.pointer()) < 0 ||
            PROCESS.sched_setscheduler(tid, SCHED_FIFO | SCHED_RESET_ON_FORK, param.pointer()) < 0)
        {
            restore(tid);
            return;
        }
        parents.add(tid);
        childrenToWiden++;
    }

    /**
     * A thread made an intercepted call: a parent goes back to its policy and CPUs, and so does a new thread.
     */
    synchronized void arrived(final int tid, final boolean newThread)
    {
        if (parents.remove(tid))
        {
            restore(tid);
        }
        else if (newThread && childrenToWiden > 0)
        {
            childrenToWiden--;
            restore(tid);
        }
    }

    /**
     * The clone made no child: nobody is to be widened for it.
     */
    synchronized void noChild()
    {
        if (childrenToWiden > 0)
        {
            childrenToWiden--;
        }
    }

    private void restore(final int tid)
    {
        param.buffer().putInt(0, 0);
        // Either may fail only because the thread is gone.
        PROCESS.sched_setscheduler(tid, SCHED_OTHER, param.pointer());
        PROCESS.sched_setaffinity(tid, MASK_LENGTH, mask.pointer());
    }

    private int firstCpu()
    {
        for (int i = 0; i < MASK_LENGTH; i++)
        {
            final int bits = mask.buffer().getByte(i) & 0xFF;
            if (bits != 0)
            {
                return i * 8 + Integer.numberOfTrailingZeros(bits);
            }
        }
        return 0;
    }
}
