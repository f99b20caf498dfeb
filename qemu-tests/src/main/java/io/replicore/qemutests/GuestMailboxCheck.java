package io.replicore.qemutests;

import io.replicore.mailbox.ChannelReader;
import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import io.replicore.mailbox.PciMailboxLocator;
import io.replicore.mailbox.ReplicaSlot;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Runs in a replica kernel (bin/rig's default job and the rig's tests): opens the ivshmem mailbox by its PCI name
 * with the project's mailbox code, registers in its replica slot (pid, partition id = replica id) and beats,
 * writes {@code count} records to every peer's channel and reads as many from each peer, checking their text.
 * Prints what it did, one fact a line, for the host to check; exits 0 when every record arrived in order.
 * <pre>
 *   GuestMailboxCheck ID [COUNT [MAILBOX]]      MAILBOX defaults to pci:1af4:1110
 * </pre>
 */
public final class GuestMailboxCheck
{
    static final int RECORD_TYPE = 7;
    private static final long TIMEOUT_MS = TimeUnit.SECONDS.toMillis(120);

    private GuestMailboxCheck()
    {
    }

    /** The text replica {@code from} sends to {@code to} as record {@code n}. */
    public static String record(final int from, final int to, final int n)
    {
        return "record " + n + " from replica-" + from + " to replica-" + to;
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length < 1)
        {
            System.err.println("usage: GuestMailboxCheck ID [COUNT [MAILBOX]]");
            System.exit(2);
        }
        final int id = Integer.parseInt(args[0]);
        final int count = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        final String name = args.length > 2 ? args[2] : PciMailboxLocator.IVSHMEM;
        final String host = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        final long pid = ProcessHandle.current().pid();

        if (PciMailboxLocator.isPciName(name))
        {
            System.out.println("resource: " + new PciMailboxLocator().locate(name));
        }
        try (Mailbox box = Mailbox.open(new MailboxContext().path(name)))
        {
            System.out.println("opened: run " + Long.toHexString(box.runId()) + " replicas " + box.replicaCount() +
                " total " + box.totalLength() + " epoch " + box.control().epoch() + " primary " +
                box.control().primaryId());
            final ReplicaSlot slot = box.slot(id);
            slot.register((int)pid, id, System.currentTimeMillis());
            slot.beat(System.nanoTime());
            System.out.println("registered: replica " + id + " pid " + pid + " host " + host);

            final UnsafeBuffer bytes = new UnsafeBuffer(new byte[256]);
            for (int peer = 0; peer < box.replicaCount(); peer++)
            {
                if (peer == id)
                {
                    continue;
                }
                final ChannelWriter writer = box.newWriter(id, peer);
                for (int n = 1; n <= count; n++)
                {
                    final int length = bytes.putStringWithoutLengthAscii(0, record(id, peer, n));
                    while (writer.tryWrite(RECORD_TYPE, bytes, 0, length) == ChannelWriter.BACK_PRESSURED)
                    {
                        Thread.onSpinWait();
                    }
                }
                System.out.println("sent: " + count + " records to replica-" + peer);
            }

            boolean ok = true;
            for (int peer = 0; peer < box.replicaCount(); peer++)
            {
                if (peer == id)
                {
                    continue;
                }
                ok &= receive(box, slot, peer, id, count);
            }
            slot.beat(System.nanoTime());
            System.out.println(ok ? "check: ok" : "check: FAILED");
            System.exit(ok ? 0 : 1);
        }
    }

    private static boolean receive(final Mailbox box, final ReplicaSlot slot, final int from, final int to,
        final int count) throws InterruptedException
    {
        final ChannelReader reader = box.newReader(from, to);
        final int[] received = {0};
        final boolean[] ok = {true};
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
        while (received[0] < count)
        {
            final int polled = reader.poll((type, sequence, buffer, offset, length) ->
            {
                final String text = buffer.getStringWithoutLengthAscii(offset, length);
                final String expected = record(from, to, received[0] + 1);
                System.out.println("received: " + text + " (sequence " + sequence + ")");
                ok[0] &= text.equals(expected) && type == RECORD_TYPE;
                received[0]++;
                return ControlledMessageHandler.Action.CONTINUE;
            }, count);
            if (polled == ChannelReader.CORRUPT)
            {
                System.out.println("corrupt: " + reader.corruption());
                return false;
            }
            if (polled == 0)
            {
                if (System.nanoTime() > deadline)
                {
                    System.out.println("timeout: " + received[0] + " of " + count + " records from replica-" + from);
                    return false;
                }
                slot.beat(System.nanoTime());
                Thread.sleep(5);
            }
        }
        return ok[0];
    }
}
