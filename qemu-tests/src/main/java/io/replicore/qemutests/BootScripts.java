package io.replicore.qemutests;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The shell lines a guest's job uses to run {@code boot-scripts/} (replicore-plan, replicore-replica) and the CLI
 * beside them ({@code bin/replicore}) from the clone, which a guest sees at the host's path through the 9p root, as a
 * real server's operator would run them.
 */
public final class BootScripts
{
    /** Where the guest's job keeps the plan file. */
    public static final String PLAN = "/tmp/replicore-plan";

    private BootScripts()
    {
    }

    /** The clone's boot-scripts/ (system property {@code replicore.rig.bootScripts}, set by the module's pom). */
    public static Path directory()
    {
        final String configured = System.getProperty("replicore.rig.bootScripts");
        final Path dir = configured == null ? Path.of("..", "boot-scripts") : Path.of(configured);
        if (!Files.isExecutable(dir.resolve("replicore-plan")))
        {
            throw new IllegalStateException("no replicore-plan in " + dir.toAbsolutePath() +
                ": set replicore.rig.bootScripts to the clone's boot-scripts/");
        }
        return dir.toAbsolutePath().normalize();
    }

    /** {@code replicore-plan ARGS}. */
    public static String plan(final String... args)
    {
        return line("replicore-plan", args);
    }

    /**
     * The plan of a machine that already has its mailbox and a crash reservation in the replica's node (the kernel
     * rig's tests with {@code crashkernel=SIZE}), for a replica on {@code cpus} (a list: "3", "2-3"), into the job's
     * shell variables ({@code REPLICORE_REPLICA_CMDLINE} ...); the job ends if the script refuses.
     */
    public static String planInto(final String cpus)
    {
        return "eval \"$(" + plan("--replica-cpus", cpus) + ")\" && [ -n \"$REPLICORE_REPLICA_CMDLINE\" ] " +
            "|| { echo 'replicore-plan failed'; exit 1; }\n";
    }

    /** {@code replicore-replica COMMAND --plan PLAN ARGS}. */
    public static String replica(final String command, final String... args)
    {
        final String[] all = new String[args.length + 3];
        all[0] = command;
        all[1] = "--plan";
        all[2] = PLAN;
        System.arraycopy(args, 0, all, 3, args.length);
        return line("replicore-replica", all);
    }

    /** {@code bin/replicore ARGS}: the coordinator's CLI, built by the default suite's {@code mvn install}. */
    public static String cli(final String... args)
    {
        return line(directory().resolveSibling("bin").resolve("replicore"), args);
    }

    private static String line(final String script, final String... args)
    {
        return line(directory().resolve(script), args);
    }

    private static String line(final Path program, final String... args)
    {
        final StringBuilder line = new StringBuilder(GuestJava.quote(program.toString()));
        for (final String arg : args)
        {
            line.append(' ').append(GuestJava.quote(arg));
        }
        return line.toString();
    }
}
