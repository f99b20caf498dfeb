package io.replicore.qemutests;

import io.replicore.mailbox.ChannelReader;
import io.replicore.mailbox.ChannelWriter;
import io.replicore.mailbox.Mailbox;
import io.replicore.mailbox.MailboxContext;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs in a machine of Replicore's kernel: formats the mailbox device (/dev/replicore-mailbox) with the project's
 * mailbox code, as {@code replicore init-mailbox} would on a real server, mapping it with the region length the
 * device reports in sysfs; then writes {@code COUNT} records in the channel from replica 0 to replica 1 and reads
 * them back from that channel (reading consumes them), and writes them again in the channel from replica 1 to
 * replica 0, for the host to read through the DIMM's backing file. Prints one fact a line; exits 0 when every record
 * came back in order. With COUNT 0 it only formats, leaving every channel empty for kernels that exchange records
 * themselves.
 * <pre>
 *   GuestDeviceMailbox COUNT
 * </pre>
 */
public final class GuestDeviceMailbox
{
    public static final String DEVICE = "/dev/replicore-mailbox";
    public static final Path SYSFS = Path.of("/sys/class/misc/replicore-mailbox");

    private GuestDeviceMailbox()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final int count = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        final long size = Long.parseLong(Files.readString(SYSFS.resolve("size")).trim());
        final String address = Files.readString(SYSFS.resolve("phys_addr")).trim();
        System.out.println("device: " + DEVICE + " size " + size + " at " + address);

        try (Mailbox box = Mailbox.create(new MailboxContext().path(DEVICE).regionLength(size).replicaCount(2)
            .channelCapacity(RigContext.DEFAULT_CHANNEL_CAPACITY)))
        {
            System.out.println("created: run " + Long.toHexString(box.runId()) + " total " + box.totalLength());
            final UnsafeBuffer bytes = new UnsafeBuffer(new byte[256]);
            writeRecords(box, bytes, 0, 1, count, "readback");
            System.out.println("sent: " + count + " records to replica-1");

            final ChannelReader reader = box.newReader(0, 1);
            final int[] received = {0};
            final boolean[] ok = {true};
            final int polled = reader.poll((type, sequence, buffer, offset, length) ->
            {
                final String text = buffer.getStringWithoutLengthAscii(offset, length);
                System.out.println("received: " + text + " (sequence " + sequence + ")");
                received[0]++;
                ok[0] &= type == GuestMailboxCheck.RECORD_TYPE &&
                    text.equals(GuestMailboxCheck.record(0, 1, received[0]));
                return ControlledMessageHandler.Action.CONTINUE;
            }, count);
            if (polled == ChannelReader.CORRUPT)
            {
                System.out.println("corrupt: " + reader.corruption());
            }
            final boolean all = ok[0] && received[0] == count;
            System.out.println(all ? "readback: ok" : "readback: FAILED (" + received[0] + " of " + count + ")");

            writeRecords(box, bytes, 1, 0, count, "left");
            System.out.println("left: " + count + " records from replica-1 to replica-0 for the host");
            System.exit(all ? 0 : 1);
        }
    }

    /** Write {@code count} records from replica {@code from} to {@code to}; a full channel ends the program. */
    private static void writeRecords(final Mailbox box, final UnsafeBuffer bytes, final int from, final int to,
        final int count, final String step)
    {
        final ChannelWriter writer = box.newWriter(from, to);
        for (int n = 1; n <= count; n++)
        {
            final int length = bytes.putStringWithoutLengthAscii(0, GuestMailboxCheck.record(from, to, n));
            if (writer.tryWrite(GuestMailboxCheck.RECORD_TYPE, bytes, 0, length) == ChannelWriter.BACK_PRESSURED)
            {
                System.out.println(step + ": FAILED, the channel is full after " + (n - 1) + " records");
                System.exit(1);
            }
        }
    }
}
