package io.replicore.coordinator.logicaltcp;

import io.replicore.coordinator.natives.GateCalls;
import io.replicore.coordinator.natives.Native;
import io.replicore.coordinator.natives.ProcessCalls;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The acknowledgement gate of a kernel partition (architecture 6d): two tc programs on the service's network
 * device ({@code gate.bpf.c}, attached by {@code replicore-gate}) that let nothing leave this kernel telling a client
 * more than the log holds. A SYN-ACK from the service address is held until its handshake is in the log
 * ({@link HandshakeWatch} logs it, {@link #admit admits} the connection and sends the SYN-ACK again); every other
 * segment of an admitted connection leaves with its acknowledgement lowered to the connection's cap, the first byte
 * of input not logged yet, which the primary raises after each logged read. So when this kernel dies, every byte
 * and every connection a client believes delivered is in the log, and the next primary rebuilds them.
 * <p>
 * Every replica attaches the gate as it starts; it acts only on the service address, which only the primary's kernel
 * holds. It also turns SACK off in this network stack ({@code net.ipv4.tcp_sack}): a SACK block would tell the
 * client that bytes beyond the cap had arrived. Thread-safe: the map operations are serialised.
 */
public final class AckGate implements AutoCloseable
{
    /** Counters of gate.h, in the map "counters". */
    public static final int COUNTER_HELD = 0;
    public static final int COUNTER_CLAMPED = 1;
    public static final int COUNTER_NO_SYN = 2;
    public static final int COUNTER_RING_FULL = 3;
    public static final int COUNTER_FAULTS = 4;
    public static final int COUNTER_AHEAD = 5;
    /** The ring's data size, GATE_HELD_BYTES of gate.h. */
    static final int HELD_BYTES = 256 * 1024;

    private static final GateCalls CALLS = Native.load(GateCalls.class);
    private static final ProcessCalls PROCESS = Native.load(ProcessCalls.class);
    private static final Path TCP_SACK = Path.of("/proc/sys/net/ipv4/tcp_sack");
    private static final long HELPER_TIMEOUT_MS = 30_000;
    private static final int ATTR_OFFSET = 0;
    private static final int KEY_OFFSET = 64;
    private static final int VALUE_OFFSET = 128;

    private final Path helper;
    private final String device;
    private final int caps;
    private final int counters;
    private final int config;
    private final BpfRingBuffer held;
    private final String sackBefore;
    /** bpf_attr, key and value, at {@link #ATTR_OFFSET}, {@link #KEY_OFFSET}, {@link #VALUE_OFFSET}. */
    private final Native.Scratch scratch = Native.allocate(192);
    private boolean closed;

    private AckGate(final Path helper, final String device, final int[] maps, final String sackBefore)
        throws IOException
    {
        this.helper = helper;
        this.device = device;
        this.config = maps[0];
        this.caps = maps[1];
        this.counters = maps[3];
        this.sackBefore = sackBefore;
        this.held = new BpfRingBuffer(maps[2], HELD_BYTES);
    }

    /**
     * Attach the gate to {@code device} for the service address {@code address} (IPv4) with the loader
     * {@code helper}, and borrow its maps.
     *
     * @throws IOException with the loader's own words if it cannot be attached (no BPF, no clsact, no privilege).
     */
    public static AckGate attach(final Path helper, final String device, final String address) throws IOException
    {
        final String sackBefore = Files.readString(TCP_SACK).trim();
        Files.writeString(TCP_SACK, "0");
        final Process loader = new ProcessBuilder(helper.toString(), "attach", device, address).start();
        final int[] maps = new int[4];
        try
        {
            final String line = new BufferedReader(new InputStreamReader(loader.getInputStream(),
                StandardCharsets.US_ASCII)).readLine();
            final String[] words = line == null ? new String[0] : line.trim().split(" ");
            if (words.length != 5 || !"maps".equals(words[0]))
            {
                throw new IOException(helper + " attach " + device + " " + address + " failed: " + said(loader));
            }
            borrow(loader, words, maps);
            final OutputStream input = loader.getOutputStream();
            input.write('\n');
            input.close();
            if (!loader.waitFor(HELPER_TIMEOUT_MS, TimeUnit.MILLISECONDS) || loader.exitValue() != 0)
            {
                throw new IOException(helper + " did not finish: " + said(loader));
            }
            return new AckGate(helper, device, maps, sackBefore);
        }
        catch (final IOException | RuntimeException ex)
        {
            for (final int fd : maps)
            {
                if (fd > 0)
                {
                    CALLS.close(fd);
                }
            }
            loader.destroyForcibly();
            Files.writeString(TCP_SACK, sackBefore);
            throw ex;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            loader.destroyForcibly();
            throw new IOException("interrupted while attaching the acknowledgement gate");
        }
    }

    /**
     * Take the loader's descriptors of the maps named in its line "maps CONFIG CAPS HELD COUNTERS" into this process.
     */
    private static void borrow(final Process loader, final String[] words, final int[] maps) throws IOException
    {
        final int pidfd = PROCESS.pidfd_open((int)loader.pid(), 0);
        if (pidfd < 0)
        {
            throw new IOException("pidfd_open of " + loader.pid() + ": errno " + Native.lastErrno());
        }
        try
        {
            for (int i = 0; i < maps.length; i++)
            {
                maps[i] = PROCESS.pidfd_getfd(pidfd, Integer.parseInt(words[i + 1]), 0);
                if (maps[i] < 0)
                {
                    throw new IOException("cannot borrow the gate's map " + words[i + 1] + ": errno " +
                        Native.lastErrno());
                }
            }
        }
        finally
        {
            PROCESS.close(pidfd);
        }
    }

    private static String said(final Process loader)
    {
        try
        {
            final String errors = new String(loader.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return errors.isEmpty() ? "exit " + loader.waitFor() : errors;
        }
        catch (final IOException ex)
        {
            return ex.getMessage();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /**
     * Let {@code connection} through up to its cap from now on: admits its handshake (a SYN-ACK with its initial
     * sequence number passes) and sets the highest acknowledgement it may send.
     *
     * @return false if the map could not be written (errno in the event log of the caller).
     */
    public synchronized boolean admit(final GatedConnection connection)
    {
        final UnsafeBuffer s = scratch.buffer();
        connection.putKey(s, KEY_OFFSET);
        connection.putValue(s, VALUE_OFFSET);
        return mapCommand(GateCalls.BPF_MAP_UPDATE_ELEM, caps, true) == 0;
    }

    /**
     * The application is done with {@code connection}: its acknowledgements leave as they are.
     */
    public synchronized void forget(final GatedConnection connection)
    {
        connection.putKey(scratch.buffer(), KEY_OFFSET);
        mapCommand(GateCalls.BPF_MAP_DELETE_ELEM, caps, false);
    }

    /**
     * @return a counter of the gate's programs ({@link #COUNTER_HELD}...), or -1 if it cannot be read.
     */
    public synchronized long counter(final int which)
    {
        final UnsafeBuffer s = scratch.buffer();
        s.putInt(KEY_OFFSET, which);
        return mapCommand(GateCalls.BPF_MAP_LOOKUP_ELEM, counters, true) == 0 ? s.getLong(VALUE_OFFSET) : -1;
    }

    /**
     * "held 12 handshakes, lowered 340 acknowledgements", for the event log.
     */
    public String summary()
    {
        final List<String> parts = new ArrayList<>(List.of("held " + counter(COUNTER_HELD) + " handshakes until " +
            "logged", "lowered " + counter(COUNTER_CLAMPED) + " acknowledgements to what was logged"));
        final String[] trouble = {"", "", "SYN-ACKs dropped for want of the client's SYN",
            "SYN-ACKs dropped with the ring full", "segments it could not read or rewrite",
            "clients' acknowledgements of bytes a dead kernel sent lowered to what a rebuilt connection had sent"};
        for (int which = COUNTER_NO_SYN; which <= COUNTER_AHEAD; which++)
        {
            final long count = counter(which);
            if (count > 0)
            {
                parts.add(count + " " + trouble[which]);
            }
        }
        return "the acknowledgement gate " + String.join(", ", parts);
    }

    /**
     * Hand every SYN-ACK held since the last call ({@link HeldHandshake} records) to {@code handler}. One thread.
     *
     * @return how many.
     */
    public int drainHeld(final HeldHandler handler)
    {
        return held.drain(handler::onHeld);
    }

    /**
     * Wait up to {@code timeoutMs} for the gate to hold a SYN-ACK.
     */
    public void awaitHeld(final int timeoutMs)
    {
        held.await(timeoutMs);
    }

    /**
     * Takes one held SYN-ACK, a {@link HeldHandshake} record valid only during the call.
     */
    @FunctionalInterface
    public interface HeldHandler
    {
        void onHeld(UnsafeBuffer buffer, int offset, int length);
    }

    private int mapCommand(final int command, final int map, final boolean withValue)
    {
        final UnsafeBuffer s = scratch.buffer();
        s.setMemory(ATTR_OFFSET, GateCalls.BPF_MAP_ATTR_LENGTH, (byte)0);
        s.putInt(ATTR_OFFSET + GateCalls.BPF_ATTR_MAP_FD_OFFSET, map);
        s.putLong(ATTR_OFFSET + GateCalls.BPF_ATTR_KEY_OFFSET, scratch.address() + KEY_OFFSET);
        s.putLong(ATTR_OFFSET + GateCalls.BPF_ATTR_VALUE_OFFSET, withValue ? scratch.address() + VALUE_OFFSET : 0);
        s.putLong(ATTR_OFFSET + GateCalls.BPF_ATTR_FLAGS_OFFSET, GateCalls.BPF_ANY);
        return (int)CALLS.syscall(GateCalls.SYS_BPF, command, scratch.at(ATTR_OFFSET), GateCalls.BPF_MAP_ATTR_LENGTH);
    }

    /**
     * Detach the programs from the device, let go of the maps and give SACK back to the network stack.
     */
    @Override
    public synchronized void close() throws IOException
    {
        if (closed)
        {
            return;
        }
        closed = true;
        held.close();
        CALLS.close(caps);
        CALLS.close(counters);
        CALLS.close(config);
        Files.writeString(TCP_SACK, sackBefore);
        try
        {
            final Process detach = new ProcessBuilder(helper.toString(), "detach", device).redirectErrorStream(true)
                .start();
            if (!detach.waitFor(HELPER_TIMEOUT_MS, TimeUnit.MILLISECONDS) || detach.exitValue() != 0)
            {
                throw new IOException(helper + " detach " + device + ": " +
                    new String(detach.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim());
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while detaching the acknowledgement gate");
        }
    }
}
