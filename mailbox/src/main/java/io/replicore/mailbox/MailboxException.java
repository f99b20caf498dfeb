package io.replicore.mailbox;

/**
 * A mailbox that cannot be used as it is: the message names the file, what is wrong and how to fix it.
 * Nothing is ever re-initialised silently to get past one of these.
 */
public final class MailboxException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final String path;

    public MailboxException(final String path, final String problem, final String fix)
    {
        super("mailbox " + path + ": " + problem + (fix == null ? "" : "; " + fix));
        this.path = path;
    }

    /**
     * @return the file, BAR or device the problem is about.
     */
    public String path()
    {
        return path;
    }
}
