package io.replicore.detscheduler;

/**
 * How the threads and processes of a replica are ordered. Chosen per service (replicore run --scheduling); every
 * replica of a service uses the same mode.
 */
public enum SchedulingMode
{
    /**
     * Threads run at full speed in parallel; only intercepted calls are ordered, by the primary's log. Right for
     * programs whose threads and processes share nothing but the kernel's objects (worker processes, threads that
     * each own their connections). Locks are not ordered: when replicas take a lock in different orders, the
     * difference is reported (a divergence in an output, or a thread found waiting on a lock where the log says it
     * made a call), never passed over.
     */
    PARALLEL,

    /**
     * One thread of the replica runs at a time, and control passes only at intercepted calls, in the order the
     * primary's log gives; futexes are answered by the coordinator, so lock hand-offs are ordered too. Even a
     * program with data races replays exactly, at the cost of parallelism inside the replica.
     */
    SERIAL
}
