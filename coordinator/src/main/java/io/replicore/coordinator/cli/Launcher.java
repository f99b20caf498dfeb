package io.replicore.coordinator.cli;

import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * Where the native launcher is: the {@code replicore.launcher} property (set by bin/replicore and the tests),
 * else {@code native/replicore-launch} beside the directory of the coordinator's jar.
 */
final class Launcher
{
    private Launcher()
    {
    }

    static Path path()
    {
        final String configured = System.getProperty("replicore.launcher");
        if (configured != null)
        {
            return Path.of(configured);
        }
        try
        {
            final Path jar = Path.of(Launcher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().resolve("native").resolve("replicore-launch");
        }
        catch (final URISyntaxException ex)
        {
            throw new IllegalStateException("cannot locate the coordinator's jar", ex);
        }
    }
}
