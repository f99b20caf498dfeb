package io.replicore.coordinator.intercept;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * A classic BPF program for seccomp, assembled from {@link SyscallPolicy}: {@code struct sock_filter} is 8 bytes,
 * {@code u16 code, u8 jt, u8 jf, u32 k}, little-endian.
 */
public final class BpfProgram
{
    public static final int INSTRUCTION_LENGTH = 8;
    public static final int MAX_INSTRUCTIONS = 4096;

    static final int LD_W_ABS = 0x20;
    static final int JMP_JEQ_K = 0x15;
    static final int JMP_JSET_K = 0x45;
    static final int JMP_JGE_K = 0x35;
    static final int RET_K = 0x06;

    public static final int SECCOMP_RET_KILL_PROCESS = 0x80000000;
    public static final int SECCOMP_RET_USER_NOTIF = 0x7fc00000;
    public static final int SECCOMP_RET_ALLOW = 0x7fff0000;
    public static final int AUDIT_ARCH_X86_64 = 0xc000003e;

    private final ExpandableArrayBuffer code = new ExpandableArrayBuffer(1024);
    private int count;

    BpfProgram add(final int opcode, final int jt, final int jf, final int k)
    {
        if (jt > 255 || jf > 255)
        {
            throw new IllegalStateException("BPF jump too far: " + jt + "/" + jf);
        }
        if (count == MAX_INSTRUCTIONS)
        {
            throw new IllegalStateException("BPF program longer than " + MAX_INSTRUCTIONS + " instructions");
        }
        final int offset = count * INSTRUCTION_LENGTH;
        code.putShort(offset, (short)opcode);
        code.putByte(offset + 2, (byte)jt);
        code.putByte(offset + 3, (byte)jf);
        code.putInt(offset + 4, k);
        count++;
        return this;
    }

    public int instructionCount()
    {
        return count;
    }

    public int length()
    {
        return count * INSTRUCTION_LENGTH;
    }

    /**
     * Copy the instructions into {@code destination} at {@code offset}.
     */
    public void copyTo(final MutableDirectBuffer destination, final int offset)
    {
        destination.putBytes(offset, code, 0, length());
    }
}
