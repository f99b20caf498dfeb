package io.replicore.coordinator.cli;

import java.util.List;
import java.util.Locale;

/**
 * Builds one JSON object on a single line, enough for the CLI's machine-readable output without a JSON library:
 * the commands print flat objects and arrays of them, one per line (NDJSON for {@code watch}).
 */
final class JsonObject
{
    private final StringBuilder text = new StringBuilder(256).append('{');

    JsonObject put(final String name, final long value)
    {
        return name(name).append(value);
    }

    /**
     * @param value true, false, or null for JSON null.
     */
    JsonObject put(final String name, final Boolean value)
    {
        return name(name).append(value == null ? "null" : value.toString());
    }

    /**
     * @param value a string, or null for JSON null.
     */
    JsonObject put(final String name, final String value)
    {
        if (value == null)
        {
            return name(name).append("null");
        }
        name(name);
        quote(text, value);
        return this;
    }

    /**
     * @param value a number, or null for JSON null.
     */
    JsonObject put(final String name, final Long value)
    {
        return name(name).append(value == null ? "null" : value.toString());
    }

    /**
     * @param value a number written with 3 decimals (milliseconds to the microsecond), or null for JSON null.
     */
    JsonObject putMillis(final String name, final Double value)
    {
        return name(name).append(value == null ? "null" : String.format(Locale.ROOT, "%.3f", value));
    }

    JsonObject put(final String name, final JsonObject value)
    {
        return name(name).append(value.toString());
    }

    JsonObject put(final String name, final List<JsonObject> values)
    {
        name(name).append('[');
        for (int i = 0; i < values.size(); i++)
        {
            text.append(i == 0 ? "" : ",").append(values.get(i).toString());
        }
        text.append(']');
        return this;
    }

    /**
     * Append every field of {@code other} to this object.
     */
    JsonObject putAll(final JsonObject other)
    {
        if (other.text.length() > 1)
        {
            text.append(text.length() > 1 ? "," : "").append(other.text, 1, other.text.length());
        }
        return this;
    }

    @Override
    public String toString()
    {
        return text + "}";
    }

    private JsonObject name(final String name)
    {
        if (text.length() > 1)
        {
            text.append(',');
        }
        quote(text, name);
        text.append(':');
        return this;
    }

    private JsonObject append(final Object value)
    {
        text.append(value);
        return this;
    }

    /**
     * Quote a string; control characters are escaped so that one object always stays on one line.
     */
    static void quote(final StringBuilder out, final String value)
    {
        out.append('"');
        for (int i = 0; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            switch (c)
            {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default ->
                {
                    if (c < 0x20 || c == 0x2028 || c == 0x2029)
                    {
                        out.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
