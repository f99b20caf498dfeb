package io.replicore.mailbox;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;

/**
 * The one native binding of the mailbox: {@code mmap} of a whole file, PCI BAR resource or character device.
 * <p>
 * {@link java.nio.channels.FileChannel#map} refuses a character device (it tries to grow a file whose size
 * reads as 0), so all three kinds go through plain {@code open} and {@code mmap(MAP_SHARED)} here, the same way.
 */
final class MemoryMapping
{
    /** libc calls used to map a region. */
    public interface LibC
    {
        @SaveError
        int open(String path, int flags, int mode);

        // Addresses are Pointers: jnr-ffi mis-passes a long in the first of these six arguments.
        @SaveError
        Pointer mmap(Pointer address, @size_t long length, int prot, int flags, int fd, @off_t long offset);

        @SaveError
        int munmap(Pointer address, @size_t long length);

        int close(int fd);

        String strerror(int errno);
    }

    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_SHARED = 1;
    private static final long MAP_FAILED = -1L;

    private static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    private static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

    private MemoryMapping()
    {
    }

    /**
     * Map {@code length} bytes of {@code path} read-write and shared.
     *
     * @return the address of the mapping.
     * @throws MailboxException naming the file and the system error when it cannot be opened or mapped.
     */
    static long map(final String path, final long length)
    {
        final int fd = LIBC.open(path, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new MailboxException(path, "cannot open read-write: " + lastError(),
                "run as a user who may read and write it (the mailbox is created mode 0600)");
        }

        try
        {
            final Pointer mapped = LIBC.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            final long address = mapped == null ? MAP_FAILED : mapped.address();
            if (address == MAP_FAILED)
            {
                throw new MailboxException(path, "cannot map " + length + " bytes: " + lastError(),
                    "check that the file, BAR or device is at least that large and supports mmap");
            }
            return address;
        }
        finally
        {
            LIBC.close(fd);
        }
    }

    static void unmap(final long address, final long length)
    {
        if (LIBC.munmap(Pointer.wrap(RUNTIME, address), length) != 0)
        {
            throw new IllegalStateException("munmap failed: " + lastError());
        }
    }

    private static String lastError()
    {
        final int errno = RUNTIME.getLastError();
        return LIBC.strerror(errno) + " (errno " + errno + ")";
    }
}
