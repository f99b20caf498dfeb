package io.replicore.coordinator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A document root with a 32 KB page (and, if asked, a large file) and a configuration for Debian's lighttpd on
 * {@code address} and a free port, sending files through {@code backend} (lighttpd's server.network-backend).
 */
record LighttpdSite(Path dir, Path config, String address, int port, byte[] page)
{
    static final int PAGE_LENGTH = 32 * 1024;

    static LighttpdSite create(final long seed, final long bigFileLength, final String backend) throws IOException
    {
        return create(seed, bigFileLength, backend, "127.0.0.1", ReplicatedRun.freePort());
    }

    static LighttpdSite create(final long seed, final long bigFileLength, final String backend, final String address,
        final int port) throws IOException
    {
        final Path dir = Files.createTempDirectory("replicore-lighttpd");
        // lighttpd drops privileges to www-data, which must read the pages
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        final byte[] page = new byte[PAGE_LENGTH];
        final Random random = new Random(seed);
        for (int i = 0; i < page.length; i++)
        {
            page[i] = (byte)('a' + random.nextInt(26));
        }
        Files.write(dir.resolve("page.html"), page);
        if (bigFileLength > 0)
        {
            final byte[] chunk = new byte[1 << 20];
            try (var out = Files.newOutputStream(dir.resolve("big.bin")))
            {
                for (long written = 0; written < bigFileLength; written += chunk.length)
                {
                    random.nextBytes(chunk);
                    out.write(chunk, 0, (int)Math.min(chunk.length, bigFileLength - written));
                }
            }
        }
        final Path config = dir.resolve("lighttpd.conf");
        Files.writeString(config, String.join("\n",
            "server.document-root = \"" + dir + "\"",
            "server.bind = \"" + address + "\"",
            "server.port = " + port,
            "server.errorlog = \"" + dir.resolve("error.log") + "\"",
            "server.pid-file = \"\"",
            "server.network-backend = \"" + backend + "\"",
            ""));
        return new LighttpdSite(dir, config, address, port, page);
    }

    String url(final String file)
    {
        return "http://" + address + ":" + port + "/" + file;
    }

    List<String> command()
    {
        return List.of("/usr/sbin/lighttpd", "-D", "-f", config.toString());
    }

    ReplicatedRun.Running start(final int replicas, final String... runOptions) throws Exception
    {
        final List<String> options = new java.util.ArrayList<>(List.of("--keep-mailbox"));
        options.addAll(List.of(runOptions));
        final ReplicatedRun.Running running = ReplicatedRun.start(replicas, options, null,
            command().toArray(String[]::new));
        running.awaitListening(port);
        return running;
    }

    /**
     * ab counts a response whose length differs from the first one's as failed: every body was the page.
     */
    static void assertAbServedEverything(final String report, final int requests)
    {
        assertTrue(report.contains("Complete requests:      " + requests), report);
        assertTrue(report.contains("Failed requests:        0"), report);
        assertTrue(report.contains("Document Length:        " + PAGE_LENGTH + " bytes"), report);
        assertTrue(!report.contains("Non-2xx"), report);
    }

    static String sha256(final Path file) throws Exception
    {
        final MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(file))
        {
            final byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0)
            {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
