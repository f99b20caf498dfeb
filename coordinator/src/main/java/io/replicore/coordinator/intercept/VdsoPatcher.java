package io.replicore.coordinator.intercept;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Turns the vDSO's clock and CPU functions in an application into real system calls, so that time read through
 * libc reaches the seccomp filter like any other call (the vDSO answers from shared memory without entering the
 * kernel). The patch is written through /proc/PID/mem, which breaks copy-on-write for that process only; rr
 * does the same.
 */
public final class VdsoPatcher
{
    /** Symbol to the system call number it becomes. */
    private static final Map<String, Integer> AS_SYSCALL = Map.of(
        "__vdso_clock_gettime", Syscalls.CLOCK_GETTIME,
        "__vdso_gettimeofday", Syscalls.GETTIMEOFDAY,
        "__vdso_time", Syscalls.TIME,
        "__vdso_getcpu", Syscalls.GETCPU);
    /** vDSO getrandom keeps state in user memory: make it report ENOSYS so libc falls back to the system call. */
    private static final String GETRANDOM = "__vdso_getrandom";
    private static final byte[] RETURN_ENOSYS = {0x48, (byte)0xc7, (byte)0xc0, (byte)0xda, (byte)0xff, (byte)0xff,
        (byte)0xff, (byte)0xc3};
    private static final int SHT_DYNSYM = 11;
    private static final int PT_LOAD = 1;

    private VdsoPatcher()
    {
    }

    /**
     * Patch the vDSO of process {@code pid}.
     *
     * @return how many functions were patched (0 if the process has no vDSO).
     * @throws IOException if the vDSO cannot be read or written: the replica must not run with a live clock.
     */
    public static int patch(final int pid) throws IOException
    {
        final long[] range = vdsoRange(pid);
        if (range == null)
        {
            return 0;
        }
        try (RandomAccessFile mem = new RandomAccessFile("/proc/" + pid + "/mem", "rw"))
        {
            final byte[] image = new byte[(int)(range[1] - range[0])];
            mem.seek(range[0]);
            mem.readFully(image);
            final ByteBuffer elf = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
            final long bias = loadBias(elf);
            final Set<Long> patched = new HashSet<>();
            int count = 0;
            for (final long[] symbol : symbols(elf))
            {
                final String name = name(elf, symbol);
                final byte[] code = GETRANDOM.equals(name) ? RETURN_ENOSYS :
                    AS_SYSCALL.containsKey(name) ? asSyscall(AS_SYSCALL.get(name)) : null;
                final long address = range[0] + symbol[1] - bias;
                if (code != null && symbol[2] >= code.length && patched.add(address))
                {
                    mem.seek(address);
                    mem.write(code);
                    count++;
                }
            }
            return count;
        }
    }

    /** {@code mov eax, nr; syscall; ret} */
    static byte[] asSyscall(final int nr)
    {
        return new byte[]{(byte)0xb8, (byte)nr, (byte)(nr >>> 8), (byte)(nr >>> 16), (byte)(nr >>> 24),
            0x0f, 0x05, (byte)0xc3};
    }

    private static long[] vdsoRange(final int pid) throws IOException
    {
        for (final String line : Files.readAllLines(Path.of("/proc/" + pid + "/maps")))
        {
            if (line.endsWith("[vdso]"))
            {
                final String[] bounds = line.substring(0, line.indexOf(' ')).split("-");
                return new long[]{Long.parseUnsignedLong(bounds[0], 16), Long.parseUnsignedLong(bounds[1], 16)};
            }
        }
        return null;
    }

    private static long loadBias(final ByteBuffer elf)
    {
        final long phoff = elf.getLong(0x20);
        final int phentsize = elf.getShort(0x36) & 0xFFFF;
        final int phnum = elf.getShort(0x38) & 0xFFFF;
        for (int i = 0; i < phnum; i++)
        {
            final int ph = (int)(phoff + (long)i * phentsize);
            if (elf.getInt(ph) == PT_LOAD)
            {
                return elf.getLong(ph + 0x10) - elf.getLong(ph + 0x08);
            }
        }
        return 0;
    }

    /**
     * @return {name offset in the string table, value, size} of each dynamic symbol, with the string table's
     * file offset as a fourth element.
     */
    private static long[][] symbols(final ByteBuffer elf) throws IOException
    {
        final long shoff = elf.getLong(0x28);
        final int shentsize = elf.getShort(0x3A) & 0xFFFF;
        final int shnum = elf.getShort(0x3C) & 0xFFFF;
        for (int i = 0; i < shnum; i++)
        {
            final int sh = (int)(shoff + (long)i * shentsize);
            if (elf.getInt(sh + 4) == SHT_DYNSYM)
            {
                final long offset = elf.getLong(sh + 0x18);
                final long size = elf.getLong(sh + 0x20);
                final long entsize = elf.getLong(sh + 0x38);
                final int link = elf.getInt(sh + 0x28);
                final long strtab = elf.getLong((int)(shoff + (long)link * shentsize) + 0x18);
                final long[][] symbols = new long[(int)(size / entsize)][];
                for (int s = 0; s < symbols.length; s++)
                {
                    final int sym = (int)(offset + s * entsize);
                    symbols[s] = new long[]{elf.getInt(sym) & 0xFFFFFFFFL, elf.getLong(sym + 8),
                        elf.getLong(sym + 16), strtab};
                }
                return symbols;
            }
        }
        throw new IOException("the vDSO has no dynamic symbol table");
    }

    private static String name(final ByteBuffer elf, final long[] symbol)
    {
        final int start = (int)(symbol[3] + symbol[0]);
        int end = start;
        while (elf.get(end) != 0)
        {
            end++;
        }
        return new String(elf.array(), start, end - start, StandardCharsets.US_ASCII);
    }
}
