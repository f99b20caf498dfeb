package io.replicore.coordinator.replay;

/**
 * The ioctl requests the primary answers for pipes, terminals and devices, with the size of what they return.
 */
final class IoctlRequests
{
    static final long TCGETS = 0x5401;
    static final long TIOCGPGRP = 0x540F;
    static final long TIOCGWINSZ = 0x5413;
    static final long FIONREAD = 0x541B;
    static final long FIONCLEX = 0x5450;
    static final long FIOCLEX = 0x5451;
    static final long FIONBIO = 0x5421;
    static final long FIOASYNC = 0x5452;
    /** struct termios as the kernel returns it for TCGETS. */
    static final int KERNEL_TERMIOS_LENGTH = 36;

    private IoctlRequests()
    {
    }

    /**
     * @return bytes the request writes into its argument, or -1 for a request not handled.
     */
    static int outputLength(final long request)
    {
        if (request == TCGETS)
        {
            return KERNEL_TERMIOS_LENGTH;
        }
        if (request == TIOCGWINSZ)
        {
            return 8;
        }
        if (request == FIONREAD || request == TIOCGPGRP)
        {
            return 4;
        }
        return -1;
    }

    /**
     * @return true for requests every replica runs on its own descriptor: close-on-exec changes only the calling
     * process's table; FIONBIO sets the blocking mode of the primary's socket and of a backup's stand-in alike, so
     * that fcntl(F_GETFL), which runs in the kernel, answers the same in every replica; FIOASYNC likewise (the
     * SIGIO it may bring is a signal, and signals are not replicated: a program that acts on one diverges, which
     * the output check reports).
     */
    static boolean isLocal(final long request)
    {
        return request == FIOCLEX || request == FIONCLEX || request == FIONBIO || request == FIOASYNC;
    }
}
