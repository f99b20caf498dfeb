package io.replicore.coordinator;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * One small program per source of non-determinism, each run as 2 and 3 replicas: the user sees one copy of its
 * output, and every backup replays the primary's log to the end with the same outputs, so it saw the same values.
 */
class NonDeterminismReplicationTest
{
    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void timeReadThroughTheVdsoAndThroughSystemCallsIsReplicated(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, testProgram("nd_time").toString()).assertClean();
        final double realtime = Double.parseDouble(run.value("realtime"));
        assertEquals(System.currentTimeMillis() / 1000.0, realtime, 120, "a real clock reading, not a constant");
        run.value("raw_realtime");
        assertTrue(run.events(1).contains("functions now enter the kernel"), run.events(1));
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void timeInAStaticBinaryIsReplicated(final int replicas) throws Exception
    {
        ReplicatedRun.run(replicas, testProgram("nd_time_static").toString()).assertClean().value("realtime");
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void randomnessFromGetrandomAndDevRandomIsReplicated(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, testProgram("nd_random").toString()).assertClean();
        assertEquals(64, run.value("getrandom").length());
        assertEquals(64, run.value("urandom").length());
        assertEquals(32, run.value("random").length());
        ReplicatedRun.run(replicas, testProgram("nd_random_static").toString()).assertClean();
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void processAndThreadIdsAreTheSameInEveryReplicasPidNamespace(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, testProgram("nd_ids").toString()).assertClean();
        assertEquals("2", run.value("pid"), "the program runs under an init of its own");
        assertEquals("2", run.value("tid"));
        assertEquals("1", run.value("ppid"));
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void addressSpaceLayoutIsTheSameInEveryReplica(final int replicas) throws Exception
    {
        final ReplicatedRun first = ReplicatedRun.run(replicas, testProgram("nd_aslr").toString()).assertClean();
        final ReplicatedRun second = ReplicatedRun.run(replicas, testProgram("nd_aslr").toString()).assertClean();
        assertEquals(first.lines(), second.lines(), "no randomisation: every run, every replica, the same layout");
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void unameAndProcReadsAreThePrimarys(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, testProgram("nd_uname_proc").toString()).assertClean();
        assertEquals("Linux", run.value("sysname"));
        assertTrue(run.value("proc_self_stat").contains("(nd_uname_proc)"));
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void standardInputReadInOddSizesReachesEveryReplicaInOrder(final int replicas) throws Exception
    {
        final byte[] input = new byte[1_000_000];
        ThreadLocalRandom.current().nextBytes(input);
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of(), input,
            testProgram("nd_stdin").toString()).assertClean();
        assertEquals(String.valueOf(input.length), run.value("bytes"));
        assertEquals(fnv1a64(input), run.value("fnv1a64"));
    }

    private static String fnv1a64(final byte[] bytes)
    {
        long hash = 0xcbf29ce484222325L;
        for (final byte b : bytes)
        {
            hash ^= b & 0xFF;
            hash *= 0x100000001b3L;
        }
        return String.format("%016x", hash);
    }

}
