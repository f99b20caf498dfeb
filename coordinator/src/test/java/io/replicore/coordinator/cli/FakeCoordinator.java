package io.replicore.coordinator.cli;

import io.replicore.coordinator.PartitionCgroup;

import java.util.ArrayList;
import java.util.List;

/**
 * A process that looks like a replica's coordinator to {@code kill-replica}: a JVM whose command line reads
 * {@code ... io.replicore.coordinator.cli.ReplicoreCli replica --id N --run-id R}, with a child that stands for
 * the application. It prints the child's pid, then lives until its standard input closes (when the test, or its
 * JVM, ends). Started {@link #startInPartition in its partition}, it first joins the replica's partition cgroup,
 * as a real coordinator does.
 */
public final class FakeCoordinator
{
    private FakeCoordinator()
    {
    }

    private static final String IN_PARTITION = "replicore.fake.partition";

    public static void main(final String[] args) throws Exception
    {
        if (Boolean.getBoolean(IN_PARTITION))
        {
            final List<String> arguments = List.of(args);
            final int replicaId = Integer.parseInt(arguments.get(arguments.indexOf("--id") + 1));
            final long runId = Long.parseUnsignedLong(arguments.get(arguments.indexOf("--run-id") + 1), 16);
            PartitionCgroup.join(runId, replicaId, ProcessHandle.current().pid(), new String[1]);
        }
        final Process application = new ProcessBuilder("sleep", "300").start();
        System.out.println(application.pid());
        System.out.flush();
        try
        {
            final byte[] drain = new byte[64];
            int read;
            do
            {
                read = System.in.read(drain);
            }
            while (read >= 0);
        }
        finally
        {
            application.destroyForcibly();
        }
    }

    /**
     * Start one, pretending to be replica {@code replicaId} of run {@code runId}.
     */
    static Started start(final int replicaId, final long runId) throws Exception
    {
        return start(replicaId, runId, false);
    }

    /**
     * Start one that joins replica {@code replicaId}'s partition cgroup before it starts its application.
     */
    static Started startInPartition(final int replicaId, final long runId) throws Exception
    {
        return start(replicaId, runId, true);
    }

    private static Started start(final int replicaId, final long runId, final boolean inPartition) throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("-D" + IN_PARTITION + "=" + inPartition);
        command.addAll(List.of("-Xmx32m", "-XX:+UseSerialGC", "-cp",
            System.getProperty("java.class.path"), FakeCoordinator.class.getName(), ReplicoreCli.class.getName(),
            "replica", "--id", String.valueOf(replicaId), "--run-id", Long.toHexString(runId), "--", "sleep"));
        final Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        final String line = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream()))
            .readLine();
        if (line == null)
        {
            process.destroyForcibly();
            throw new IllegalStateException("the fake coordinator did not start its application");
        }
        return new Started(process, Integer.parseInt(line.trim()));
    }

    /**
     * A running fake coordinator and the pid of its application; closing kills both.
     */
    static final class Started implements AutoCloseable
    {
        final Process coordinator;
        final int coordinatorPid;
        final int appPid;

        Started(final Process coordinator, final int appPid)
        {
            this.coordinator = coordinator;
            this.coordinatorPid = (int)coordinator.pid();
            this.appPid = appPid;
        }

        @Override
        public void close()
        {
            // Only while it is still the coordinator's child: its pid may have been reused once it was killed.
            ProcessHandle.of(appPid)
                .filter(handle -> handle.parent().map(parent -> parent.pid() == coordinatorPid).orElse(false))
                .ifPresent(ProcessHandle::destroyForcibly);
            coordinator.destroyForcibly();
            coordinator.onExit().join();
        }
    }
}
