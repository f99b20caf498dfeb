package io.replicore.coordinator;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Debian's own programs, unmodified, as 2 and 3 replicas.
 */
class RealProgramReplicationTest
{
    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void dateShowsOneCopyOfTheNow(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, "date", "+%s.%N").assertClean();
        assertEquals(1, run.lines().size(), run.stdout);
        assertEquals(System.currentTimeMillis() / 1000.0, Double.parseDouble(run.stdout.trim()), 120);
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void pythonMixingTimeRandomUrandomPidAndUuid4Replicates(final int replicas) throws Exception
    {
        final String script = "import time, random, os, uuid\n" +
            "print('time', time.time(), time.monotonic(), time.process_time())\n" +
            "print('random', random.random(), random.getrandbits(64))\n" +
            "print('urandom', os.urandom(16).hex())\n" +
            "print('pid', os.getpid())\n" +
            "print('uuid', uuid.uuid4())\n";
        final ReplicatedRun run = ReplicatedRun.run(replicas, "/usr/bin/python3", "-c", script).assertClean();
        assertEquals(5, run.lines().size(), run.stdout);
        assertTrue(run.stdout.contains("uuid "), run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void sqliteDatabasesOfAllReplicasAreByteIdentical(final int replicas) throws Exception
    {
        final Path state = Files.createTempDirectory("replicore-sqlite");
        final String script = "create table t(id integer primary key, r, now);" +
            "insert into t(r, now) values (random(), datetime('now')), (random(), datetime('now'));" +
            "insert into t(r, now) select random(), datetime('now') from t;" +
            // total() is a float sum: four random 64-bit integers can overflow sum()
            "select count(*), total(r) from t;";
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of("--state-dir", state.toString()), null,
            "sqlite3", state.resolve("app.db").toString(), script).assertClean();
        assertTrue(run.stdout.startsWith("4|"), run.stdout);

        final String primary = sha256(state.resolve("app.db"));
        for (int id = 1; id < replicas; id++)
        {
            assertEquals(primary, sha256(run.workDir.resolve("replica-" + id).resolve("state").resolve("app.db")),
                "replica " + id + "'s database");
        }
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void opensslRandIsReplicated(final int replicas) throws Exception
    {
        final ReplicatedRun run = ReplicatedRun.run(replicas, "openssl", "rand", "-hex", "32").assertClean();
        assertTrue(run.stdout.trim().matches("[0-9a-f]{64}"), run.stdout);
    }

    @ParameterizedTest(name = "{0} replicas")
    @ValueSource(ints = {2, 3})
    void sha256sumOfStandardInputIsTheRealDigest(final int replicas) throws Exception
    {
        final byte[] input = new byte[3_000_000];
        ThreadLocalRandom.current().nextBytes(input);
        final ReplicatedRun run = ReplicatedRun.run(replicas, List.of(), input, "sha256sum").assertClean();
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(input)) + "  -",
            run.stdout.trim());
    }

    private static String sha256(final Path file) throws Exception
    {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
