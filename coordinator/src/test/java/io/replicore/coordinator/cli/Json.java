package io.replicore.coordinator.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Just enough reading of the CLI's flat JSON for assertions: a field's raw value, and the replica objects.
 */
final class Json
{
    private static final Pattern REPLICA = Pattern.compile("\\{\"id\":\\d+(?:[^{}\"]|\"(?:[^\"\\\\]|\\\\.)*\")*}");

    private Json()
    {
    }

    /**
     * @return the raw text of the first field called {@code name}: a number, true, false, null, or a string with
     *         its quotes removed; null if there is none.
     */
    static String field(final String json, final String name)
    {
        final Matcher matcher = Pattern.compile("\"" + Pattern.quote(name) +
            "\":(\"(?:[^\"\\\\]|\\\\.)*\"|[^,}\\]]+)").matcher(json);
        if (!matcher.find())
        {
            return null;
        }
        final String value = matcher.group(1);
        return value.startsWith("\"") ? value.substring(1, value.length() - 1) : value;
    }

    static List<String> replicas(final String json)
    {
        final List<String> objects = new ArrayList<>();
        final Matcher matcher = REPLICA.matcher(json.substring(json.indexOf("\"replicas\":[")));
        while (matcher.find())
        {
            objects.add(matcher.group());
        }
        return objects;
    }

    /**
     * A cheap check that a line is one complete object whose quotes and brackets balance.
     */
    static boolean isOneObject(final String line)
    {
        if (!line.startsWith("{") || !line.endsWith("}"))
        {
            return false;
        }
        int depth = 0;
        boolean inString = false;
        for (int i = 0; i < line.length(); i++)
        {
            final char c = line.charAt(i);
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }
                continue;
            }
            switch (c)
            {
                case '"' -> inString = true;
                case '{', '[' -> depth++;
                case '}', ']' ->
                {
                    depth--;
                    if (depth == 0 && i != line.length() - 1)
                    {
                        return false;
                    }
                }
                default ->
                {
                }
            }
        }
        return depth == 0 && !inString;
    }
}
