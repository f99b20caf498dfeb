package io.replicore.coordinator.natives;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

/**
 * Loads the small per-subsystem libc bindings and hands out native scratch memory. Addresses cross into jnr-ffi
 * as {@link Pointer}s: it mis-passes a {@code long} address in some signatures.
 */
public final class Native
{
    private static final Runtime RUNTIME = Runtime.getSystemRuntime();

    private Native()
    {
    }

    public static <T> T load(final Class<T> binding)
    {
        return LibraryLoader.create(binding).load("c");
    }

    public static Pointer pointer(final long address)
    {
        return Pointer.wrap(RUNTIME, address);
    }

    /**
     * @return errno of the last failed call made through any binding on this thread.
     */
    public static int lastErrno()
    {
        return RUNTIME.getLastError();
    }

    /**
     * Native memory that lives as long as its owner keeps the {@link Scratch}.
     */
    public static Scratch allocate(final int length)
    {
        return new Scratch(ByteBuffer.allocateDirect(length));
    }

    /**
     * A block of native memory seen both as a jnr {@link Pointer} (for calls) and an Agrona buffer (for fields).
     */
    public static final class Scratch
    {
        private final Pointer pointer;
        private final UnsafeBuffer buffer;

        private Scratch(final ByteBuffer memory)
        {
            this.buffer = new UnsafeBuffer(memory);
            this.pointer = Native.pointer(buffer.addressOffset());
        }

        /**
         * The same memory as a direct ByteBuffer, for JDK code such as the CRC intrinsics.
         */
        public ByteBuffer byteBuffer()
        {
            return buffer.byteBuffer();
        }

        public int capacity()
        {
            return buffer.capacity();
        }

        public Pointer pointer()
        {
            return pointer;
        }

        public long address()
        {
            return pointer.address();
        }

        public UnsafeBuffer buffer()
        {
            return buffer;
        }

        public Pointer at(final int offset)
        {
            return Native.pointer(pointer.address() + offset);
        }
    }
}
