package io.replicore.mailbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Unique mailbox paths in /dev/shm for one test class, removed afterwards.
 */
final class ShmFiles implements AutoCloseable
{
    private final List<Path> paths = new ArrayList<>();

    String newPath()
    {
        final Path path = Path.of("/dev/shm", "replicore-test-" + UUID.randomUUID());
        paths.add(path);
        return path.toString();
    }

    @Override
    public void close() throws IOException
    {
        for (final Path path : paths)
        {
            Files.deleteIfExists(path);
        }
    }
}
