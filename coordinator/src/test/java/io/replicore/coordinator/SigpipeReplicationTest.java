package io.replicore.coordinator;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static io.replicore.coordinator.ReplicatedRun.testProgram;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A write to a pipe without a reader fails with EPIPE and raises SIGPIPE in the writing thread, as the kernel's
 * write would: the primary's own write (through its duplicate of the descriptor) raises none, so every replica
 * sends it to its thread at that write. A handler runs there, a blocked one stays pending, an ignored one is not
 * sent, and one without a handler ends the process there; a child's end by SIGPIPE reaches its parent at a point
 * every replica reproduces (ChildEndReplicationTest). nd_sigpipe prints what it saw.
 */
class SigpipeReplicationTest
{
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aHandlerTakesSigpipeAtTheWriteAndTheWriteFailsWithEpipe(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = sigpipe(replicas, mode, "caught").assertClean();
        assertEquals("write=-1 errno=EPIPE handled=1\nwritev=-1 errno=EPIPE handled=2\n", run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aBlockedSigpipeStaysPendingUntilTheProgramUnblocksIt(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = sigpipe(replicas, mode, "blocked").assertClean();
        assertEquals("write=-1 errno=EPIPE handled=0\npending=1\nunblocked: handled=1\n", run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void anIgnoredSigpipeLeavesTheWriteFailingWithEpipeAlone(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = sigpipe(replicas, mode, "ignored").assertClean();
        assertEquals("write=-1 errno=EPIPE handled=0\nwritev=-1 errno=EPIPE handled=0\n", run.stdout);
    }

    /**
     * The shell's exit status for a process ended by SIGPIPE is 128 + 13; every backup's ends the same way.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "2, serial"})
    void aProgramWithoutAHandlerEndsBySigpipeAtTheWrite(final int replicas, final String mode) throws Exception
    {
        final ReplicatedRun run = sigpipe(replicas, mode, "default").assertEndedWith(141);
        assertEquals("writing\n", run.stdout);
    }

    /**
     * {@code seq | head}: once head has what it wants and ends, seq's next write ends it by SIGPIPE, silently, as
     * without replication (a write error on its standard error would say the replica differs from the program
     * run alone), and bash's pipefail sees 141.
     */
    @ParameterizedTest(name = "{0} replicas, {1}")
    @CsvSource({"2, parallel", "3, parallel", "2, serial"})
    void aPipelineWhoseReaderStopsEndsItsWriterBySigpipeAsWithoutReplication(final int replicas, final String mode)
        throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of("--scheduling", mode), null, "/bin/bash", "-c",
            "set -o pipefail; seq 1 1000000 | head -n 2; echo status=$?; " +
            "yes | head -c 100000 | sha256sum; echo status=$?")
            .assertClean();
        assertEquals("1\n2\nstatus=141\n" +
            "b09c7baa455eaf62ef3dc74eed1c2b2e67c111dce2aece99984e6a18c2644d24  -\nstatus=141\n", run.stdout);
        assertFalse(run.stderr.contains("Broken pipe"), run.stderr);
    }

    private static ReplicatedRun sigpipe(final int replicas, final String mode, final String how) throws Exception
    {
        return ReplicatedRun.run(replicas, List.of("--scheduling", mode), null, testProgram("nd_sigpipe").toString(),
            how);
    }
}
