package io.replicore.coordinator.cli;

import picocli.CommandLine;

/**
 * Reads a run id written in hexadecimal, as status prints it.
 */
final class HexLong implements CommandLine.ITypeConverter<Long>
{
    @Override
    public Long convert(final String value)
    {
        return Long.parseUnsignedLong(value, 16);
    }
}
