package io.replicore.qemutests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * A web site for lighttpd in the rig: a document root on the host's disk under /var/tmp, which the guests see at the
 * same path through their 9p root, and a lighttpd configuration that serves it on the virtual IP, its error log in
 * the guest's own /tmp (the overlay's upper layer: a file only the primary writes). Closing removes it.
 */
public final class RigSite implements AutoCloseable
{
    public static final int PORT = 8080;
    private static final String CONFIGURATION = "lighttpd.conf";

    private final Path dir;

    private RigSite(final Path dir)
    {
        this.dir = dir;
    }

    /**
     * A new, empty site (with its configuration), readable by lighttpd's user.
     */
    public static RigSite create() throws IOException
    {
        final Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "replicore-rig-site");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve(CONFIGURATION), String.join("\n",
            "server.document-root = \"" + dir + "\"",
            "server.bind = \"" + RigNetwork.VIRTUAL_IP + "\"",
            "server.port = " + PORT,
            "server.errorlog = \"/tmp/lighttpd-error.log\"",
            "server.pid-file = \"\"",
            ""));
        return new RigSite(dir);
    }

    /**
     * Put a file of {@code content} in the site.
     */
    public RigSite file(final String name, final byte[] content) throws IOException
    {
        Files.write(dir.resolve(name), content);
        return this;
    }

    public Path dir()
    {
        return dir;
    }

    /**
     * @return the command line that runs lighttpd on this site in the foreground.
     */
    public String lighttpd()
    {
        return "/usr/sbin/lighttpd -D -f " + dir.resolve(CONFIGURATION);
    }

    /**
     * @return where a client finds {@code file}, on the virtual IP.
     */
    public static String url(final String file)
    {
        return "http://" + RigNetwork.VIRTUAL_IP + ":" + PORT + "/" + file;
    }

    @Override
    public void close() throws IOException
    {
        final List<Path> files;
        try (var listing = Files.list(dir))
        {
            files = listing.toList();
        }
        for (final Path file : files)
        {
            Files.delete(file);
        }
        Files.delete(dir);
    }
}
