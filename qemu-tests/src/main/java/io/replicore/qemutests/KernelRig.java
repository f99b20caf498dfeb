package io.replicore.qemutests;

import io.replicore.mailbox.ControlBlock;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Machines of Replicore's own kernel under QEMU sharing one mailbox range (see {@link KernelRigContext}). Opening
 * it creates the mailbox's backing file (formatted as {@code replicore init-mailbox} does, unless asked not to),
 * builds the initramfs and chooses the accelerator; the machines are started by the caller, each with its job.
 * Closing it (or the JVM ending) kills the QEMU processes it started, by pid, and removes the mailbox file. The
 * work directory is kept: consoles and job output are what a failed test shows.
 */
public final class KernelRig implements AutoCloseable
{
    private final KernelRigContext ctx;
    private final Accelerator.Verdict accelerator;
    private final List<KernelMachine> machines;
    private final RigTeardown teardown;

    private KernelRig(final KernelRigContext ctx, final Accelerator.Verdict accelerator, final Path initramfs)
    {
        this.ctx = ctx;
        this.accelerator = accelerator;
        final List<KernelMachine> list = new ArrayList<>();
        for (int id = 0; id < ctx.machineCount(); id++)
        {
            list.add(new KernelMachine(ctx, id, accelerator.accelerator(), initramfs));
        }
        this.machines = Collections.unmodifiableList(list);
        this.teardown = new RigTeardown("kernel-rig-cleanup", machines, null, ctx.mailbox() ? ctx.mailboxPath() : null);
    }

    /**
     * Validate {@code ctx}, then create the mailbox file and the initramfs and choose the accelerator. The mailbox
     * file is removed again if a later step fails.
     */
    public static KernelRig open(final KernelRigContext ctx)
    {
        ctx.conclude();
        try
        {
            Files.createDirectories(ctx.workDir());
            if (ctx.mailbox())
            {
                createMailbox(ctx);
            }
            final Path initramfs = Initramfs.build(ctx.rigContext());
            final Accelerator.Verdict accelerator = Accelerator.choose(ctx.rigContext(), initramfs);
            final KernelRig rig = new KernelRig(ctx, accelerator, initramfs);
            System.err.println("kernel rig: " + ctx.machineCount() + " machine(s) of " +
                ctx.rigContext().kernelImage() + ", " + ctx.nodes() + " NUMA nodes x " + ctx.cpusPerNode() +
                " CPUs, work directory " + ctx.workDir() +
                (ctx.mailbox() ? ", mailbox " + ctx.mailboxPath() + " at 0x" +
                    Long.toHexString(ctx.mailboxAddress()) : ", no mailbox"));
            return rig;
        }
        catch (final IOException ex)
        {
            RigTeardown.removeNow(null, ctx.mailbox() ? ctx.mailboxPath() : null);
            throw new UncheckedIOException("cannot create the work directory " + ctx.workDir(), ex);
        }
        catch (final RuntimeException ex)
        {
            RigTeardown.removeNow(null, ctx.mailbox() ? ctx.mailboxPath() : null);
            throw ex;
        }
    }

    /**
     * The DIMM's backing file, of the mailbox size: formatted as {@code replicore run} does (epoch 1 naming
     * replica 0, service running), or left all zero for a guest to format.
     */
    private static void createMailbox(final KernelRigContext ctx) throws IOException
    {
        final Path path = ctx.mailboxPath();
        Files.deleteIfExists(path);
        if (ctx.formatMailbox())
        {
            try (Mailbox box = Mailbox.create(new MailboxContext().path(path.toString())
                .replicaCount(ctx.replicaCount()).channelCapacity(ctx.channelCapacity())))
            {
                box.control().compareAndSetEpoch(box.control().epochWord(), 0);
                box.control().serviceState(ControlBlock.SERVICE_RUNNING);
            }
        }
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw"))
        {
            file.setLength(ctx.mailboxSize());
        }
    }

    public KernelRigContext context()
    {
        return ctx;
    }

    public Accelerator.Verdict accelerator()
    {
        return accelerator;
    }

    public List<KernelMachine> machines()
    {
        return machines;
    }

    public KernelMachine machine(final int id)
    {
        return machines.get(id);
    }

    /** Start machine 0 with {@code job} and wait until it runs it; the boot's time goes to stderr. */
    public KernelMachine bootFirstMachine(final String job)
    {
        final KernelMachine machine = machine(0);
        machine.start(job);
        System.err.println("kernel test: booted in " + machine.awaitBoot() + " ms (" + accelerator.accelerator() +
            ")");
        return machine;
    }

    /** Open the mailbox from the host, through the DIMM's backing file. */
    public Mailbox openMailbox()
    {
        return Mailbox.open(new MailboxContext().path(ctx.mailboxPath().toString()));
    }

    @Override
    public void close()
    {
        teardown.close();
    }
}
