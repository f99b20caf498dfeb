package io.replicore.qemutests;

import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.MailboxLayout;
import org.agrona.BitUtil;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The multi-node rig: N replica kernels under QEMU sharing one ivshmem mailbox, on a bridge in a network
 * namespace of their own, with a client namespace beside it. Opening it formats the mailbox, builds the network
 * and the initramfs and chooses the accelerator; the VMs are started by the caller, each with its job.
 * Closing it (or the JVM ending) kills the QEMU processes it started, by pid, deletes the namespaces and removes
 * the mailbox file. The work directory is kept: consoles and job output are what a failed test shows.
 */
public final class Rig implements AutoCloseable
{
    private final RigContext ctx;
    private final Path mailboxPath;
    private final long mailboxBackingLength;
    private final Accelerator.Verdict accelerator;
    private final RigNetwork network;
    private final List<ReplicaVm> vms;
    private final RigTeardown teardown;

    private Rig(final RigContext ctx, final long mailboxBackingLength, final Accelerator.Verdict accelerator,
        final RigNetwork network, final Path initramfs)
    {
        this.ctx = ctx;
        this.mailboxPath = ctx.mailboxPath();
        this.mailboxBackingLength = mailboxBackingLength;
        this.accelerator = accelerator;
        this.network = network;
        final List<ReplicaVm> list = new ArrayList<>();
        for (int id = 0; id < ctx.replicaCount(); id++)
        {
            list.add(new ReplicaVm(ctx, id, accelerator.accelerator(), initramfs, mailboxBackingLength, network));
        }
        this.vms = Collections.unmodifiableList(list);
        this.teardown = new RigTeardown("rig-cleanup", vms, network, mailboxPath);
    }

    /**
     * Validate {@code ctx}, then create the mailbox, the network and the initramfs, and choose the accelerator.
     * Whatever was made is removed again if a later step fails.
     */
    public static Rig open(final RigContext ctx)
    {
        ctx.conclude();
        Path mailbox = null;
        RigNetwork network = null;
        try
        {
            Files.createDirectories(ctx.workDir());
            final long backing = createMailbox(ctx);
            mailbox = ctx.mailboxPath();
            final Path initramfs = Initramfs.build(ctx);
            final Accelerator.Verdict accelerator = Accelerator.choose(ctx, initramfs);
            network = ctx.network() ? RigNetwork.create(ctx) : null;
            final Rig rig = new Rig(ctx, backing, accelerator, network, initramfs);
            System.err.println("rig: " + ctx.replicaCount() + " replica kernels, work directory " + ctx.workDir() +
                ", mailbox " + mailbox + (network == null ? "" : ", namespaces " + network.netNamespace() + " and " +
                network.clientNamespace()));
            return rig;
        }
        catch (final IOException ex)
        {
            RigTeardown.removeNow(network, mailbox);
            throw new UncheckedIOException("cannot create the work directory " + ctx.workDir(), ex);
        }
        catch (final RuntimeException ex)
        {
            RigTeardown.removeNow(network, mailbox);
            throw ex;
        }
    }

    /**
     * Format the mailbox the way {@code replicore run} does (epoch 1 naming replica 0, service running), then size
     * its file to the ivshmem region: a power of two, since it becomes a PCI BAR.
     *
     * @return the backing file's length.
     */
    private static long createMailbox(final RigContext ctx) throws IOException
    {
        final Path path = ctx.mailboxPath();
        try (Mailbox box = Mailbox.create(new MailboxContext().path(path.toString())
            .replicaCount(ctx.replicaCount()).channelCapacity(ctx.channelCapacity())))
        {
            box.control().compareAndSetEpoch(box.control().epochWord(), 0);
            box.control().serviceState(io.replicore.mailbox.ControlBlock.SERVICE_RUNNING);
        }
        final long total = MailboxLayout.totalLength(ctx.replicaCount(), ctx.channelCapacity());
        final long backing = Math.max(1L << 20, BitUtil.findNextPositivePowerOfTwo(total));
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw"))
        {
            file.setLength(backing);
        }
        return backing;
    }

    public RigContext context()
    {
        return ctx;
    }

    public Accelerator.Verdict accelerator()
    {
        return accelerator;
    }

    public List<ReplicaVm> vms()
    {
        return vms;
    }

    public ReplicaVm vm(final int id)
    {
        return vms.get(id);
    }

    /** @return the network, or null when the rig was opened without one. */
    public RigNetwork network()
    {
        if (network == null)
        {
            throw new IllegalStateException("this rig was opened without a network (RigContext.network(false))");
        }
        return network;
    }

    /** The host's file behind every VM's ivshmem device. */
    public Path mailboxPath()
    {
        return mailboxPath;
    }

    public long mailboxBackingLength()
    {
        return mailboxBackingLength;
    }

    /** Open the mailbox from the host, as {@code replicore status} does. */
    public Mailbox openMailbox()
    {
        return Mailbox.open(new MailboxContext().path(mailboxPath.toString()));
    }

    @Override
    public void close()
    {
        teardown.close();
    }
}
