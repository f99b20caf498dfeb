package io.replicore.coordinator.intercept;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The file status and descriptor flags of another process's descriptor, as /proc shows them.
 */
public final class DescriptorFlags
{
    public static final int O_NONBLOCK = 04000;
    /** fcntl's command for the file status flags. */
    public static final int F_GETFL = 3;
    public static final int O_CLOEXEC = 02000000;

    private DescriptorFlags()
    {
    }

    /**
     * @return the "flags:" line of /proc/PID/fdinfo/FD (octal: the open flags, O_CLOEXEC among them), or 0 if the
     * descriptor is gone.
     */
    public static int of(final int pid, final int fd)
    {
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc/" + pid + "/fdinfo/" + fd)))
            {
                if (line.startsWith("flags:"))
                {
                    return Integer.parseInt(line.substring(6).trim(), 8);
                }
            }
        }
        catch (final IOException | NumberFormatException ex)
        {
            // closed meanwhile: nothing of it to keep
        }
        return 0;
    }
}
