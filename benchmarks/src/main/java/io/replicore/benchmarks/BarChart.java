package io.replicore.benchmarks;

import java.awt.BasicStroke;
import java.awt.Graphics2D;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Grouped bar charts drawn with plain Java2D and written as PNG: one or more panels side by side, each with its
 * categories on the x axis and one bar per series in every category, the value written above each bar and an
 * optional error bar. Enough for benchmark reports without a plotting dependency; the frame, legend and axes are
 * {@link Charts}'.
 */
final class BarChart
{
    /**
     * One panel: {@code values[series][category]}; {@code errors} may be null; NaN marks a missing value. A log
     * scale suits latency percentiles, whose tail can be orders of magnitude above the median.
     */
    record Panel(String title, String yLabel, List<String> categories, double[][] values, double[][] errors,
        String valueFormat, boolean logScale)
    {
    }

    private BarChart()
    {
    }

    static void write(
        final Path file,
        final String title,
        final String subtitle,
        final List<String> seriesNames,
        final List<Panel> panels)
    {
        Charts.write(file, title, subtitle, seriesNames, panels.size(),
            (g, i, plot) -> drawPanel(g, panels.get(i), plot, seriesNames.size()));
    }

    private static void drawPanel(final Graphics2D g, final Panel panel, final Charts.Plot plot, final int seriesCount)
    {
        double max = 0;
        double minPositive = Double.MAX_VALUE;
        for (int s = 0; s < panel.values().length; s++)
        {
            for (int c = 0; c < panel.values()[s].length; c++)
            {
                final double value = finiteOrZero(panel.values()[s][c]);
                max = Math.max(max, value);
                if (value > 0)
                {
                    minPositive = Math.min(minPositive, value);
                }
            }
        }

        Charts.drawPanelTitle(g, plot, panel.title());
        // Linear: head room for the value labels; error bars taller than that are cut at the top.
        final Charts.Axis axis = panel.logScale() && max > 0 ?
            Charts.logAxis(minPositive, max, plot.bottom(), plot.top()) :
            Charts.linearAxis(0, max, 1.15, 5, plot.bottom(), plot.top());
        final Charts.Scale scale = axis.scale();
        Charts.drawYAxis(g, plot, axis, panel.yLabel());

        final int categoryCount = panel.categories().size();
        final double groupWidth = (double)(plot.right() - plot.left()) / categoryCount;
        final double barWidth = groupWidth * 0.7 / seriesCount;
        for (int c = 0; c < categoryCount; c++)
        {
            final double groupLeft = plot.left() + c * groupWidth + groupWidth * 0.15;
            g.setFont(Charts.LABEL_FONT);
            g.setColor(Charts.AXIS);
            Charts.drawCentred(g, panel.categories().get(c), (int)(plot.left() + (c + 0.5) * groupWidth),
                plot.bottom() + 22);
            for (int s = 0; s < seriesCount; s++)
            {
                final double value = panel.values()[s][c];
                final int x = (int)Math.round(groupLeft + s * barWidth);
                final int w = (int)Math.round(barWidth) - 4;
                final int centre = x + w / 2;
                g.setFont(Charts.VALUE_FONT);
                if (!Double.isFinite(value))
                {
                    g.setColor(Charts.AXIS);
                    Charts.drawCentred(g, "n/a", centre, plot.bottom() - 6);
                    continue;
                }
                final int barTop = scale.pixel(value);
                g.setColor(Charts.colour(s));
                g.fillRect(x, barTop, w, plot.bottom() - barTop);

                if (panel.errors() != null && Double.isFinite(panel.errors()[s][c]) && panel.errors()[s][c] > 0)
                {
                    final double error = panel.errors()[s][c];
                    final int high = scale.pixel(value + error);
                    final int low = scale.pixel(Math.max(0, value - error));
                    g.setColor(Charts.AXIS);
                    g.setStroke(new BasicStroke(1.5f));
                    g.drawLine(centre, high, centre, low);
                    if (high > plot.top())
                    {
                        g.drawLine(centre - 5, high, centre + 5, high);
                    }
                    g.drawLine(centre - 5, low, centre + 5, low);
                    g.setStroke(new BasicStroke(1f));
                }
                Charts.drawLabel(g, String.format(Locale.ROOT, panel.valueFormat(), value), centre, barTop - 5);
            }
        }
        Charts.drawFrame(g, plot);
    }

    private static double finiteOrZero(final double value)
    {
        return Double.isFinite(value) ? value : 0;
    }
}
