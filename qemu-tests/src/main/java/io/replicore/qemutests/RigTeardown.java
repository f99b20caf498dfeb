package io.replicore.qemutests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What a rig made on the host and takes down again: its guests' QEMU processes (killed by pid), its network
 * namespaces and its mailbox file. Released once, when the rig closes or, if the JVM ends first, by a shutdown hook.
 * The work directory is kept: consoles and job output are what a failed test shows.
 */
final class RigTeardown implements AutoCloseable
{
    private final List<? extends QemuGuest> guests;
    private final RigNetwork network;
    private final Path mailbox;
    private final Thread onExit;
    private boolean released;

    /**
     * @param network null if the rig has none.
     * @param mailbox the mailbox's file, or null.
     */
    RigTeardown(final String name, final List<? extends QemuGuest> guests, final RigNetwork network,
        final Path mailbox)
    {
        this.guests = guests;
        this.network = network;
        this.mailbox = mailbox;
        this.onExit = new Thread(this::release, name);
        Runtime.getRuntime().addShutdownHook(onExit);
    }

    @Override
    public void close()
    {
        release();
        try
        {
            Runtime.getRuntime().removeShutdownHook(onExit);
        }
        catch (final IllegalStateException shuttingDown)
        {
            // The hook is running or has run.
        }
    }

    private synchronized void release()
    {
        if (released)
        {
            return;
        }
        released = true;
        guests.forEach(QemuGuest::close);
        removeNow(network, mailbox);
    }

    /**
     * Remove the network and the mailbox file a rig made before it failed to open.
     */
    static void removeNow(final RigNetwork network, final Path mailbox)
    {
        if (network != null)
        {
            network.close();
        }
        if (mailbox != null)
        {
            try
            {
                Files.deleteIfExists(mailbox);
            }
            catch (final IOException ignore)
            {
                // Best effort: /dev/shm is tmpfs, and the name is unique to the run.
            }
        }
    }
}
