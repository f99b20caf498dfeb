package io.replicore.benchmarks;

import java.awt.BasicStroke;
import java.awt.Graphics2D;
import java.awt.Shape;
import java.awt.geom.Path2D;
import java.nio.file.Path;
import java.util.List;

/**
 * Line charts drawn with plain Java2D and written as PNG: one or more panels side by side, each with linear x and y
 * axes, one polyline per series and vertical markers (an event, such as a failure injected) labelled at the top.
 * The frame, legend and axes are {@link Charts}', so it looks like {@link BarChart}.
 */
final class LineChart
{
    /**
     * One series' points in one panel, in order of x; {@code series} picks the colour and legend entry. NaN points
     * are skipped (the line is broken there).
     */
    record Line(int series, double[] x, double[] y)
    {
    }

    /**
     * A dashed vertical line at {@code x} in the series' colour, its label at the top of the plot.
     */
    record Marker(double x, int series, String label)
    {
    }

    /**
     * One panel; the y axis starts at 0 (or below the lowest value), the x axis at 0 or the lowest x.
     */
    record Panel(String title, String xLabel, String yLabel, List<Line> lines, List<Marker> markers)
    {
    }

    private static final BasicStroke LINE = new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND);
    private static final BasicStroke DASHED = new BasicStroke(
        2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{ 6f, 4f }, 0f);

    private LineChart()
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
            (g, i, plot) -> drawPanel(g, panels.get(i), plot));
    }

    private static void drawPanel(final Graphics2D g, final Panel panel, final Charts.Plot plot)
    {
        double minX = Double.MAX_VALUE;
        double maxX = -Double.MAX_VALUE;
        double minY = 0;
        double maxY = 0;
        for (final Line line : panel.lines())
        {
            for (int i = 0; i < line.x().length; i++)
            {
                if (Double.isFinite(line.x()[i]) && Double.isFinite(line.y()[i]))
                {
                    minX = Math.min(minX, line.x()[i]);
                    maxX = Math.max(maxX, line.x()[i]);
                    minY = Math.min(minY, line.y()[i]);
                    maxY = Math.max(maxY, line.y()[i]);
                }
            }
        }
        if (minX > maxX)
        {
            minX = 0;
            maxX = 1;
        }

        Charts.drawPanelTitle(g, plot, panel.title());
        final Charts.Axis yAxis = Charts.linearAxis(minY, maxY, 1.1, 5, plot.bottom(), plot.top());
        final Charts.Axis xAxis = Charts.linearAxis(minX, maxX, 1.0, 8, plot.left(), plot.right());
        Charts.drawXAxis(g, plot, xAxis, panel.xLabel());
        Charts.drawYAxis(g, plot, yAxis, panel.yLabel());

        final Shape savedClip = g.getClip();
        g.clipRect(plot.left(), plot.top(), plot.right() - plot.left() + 1, plot.bottom() - plot.top() + 1);
        g.setStroke(LINE);
        for (final Line line : panel.lines())
        {
            final Path2D.Double path = new Path2D.Double();
            boolean drawing = false;
            for (int i = 0; i < line.x().length; i++)
            {
                if (!Double.isFinite(line.x()[i]) || !Double.isFinite(line.y()[i]))
                {
                    drawing = false;
                    continue;
                }
                final int px = xAxis.scale().pixel(line.x()[i]);
                final int py = yAxis.scale().pixel(line.y()[i]);
                if (drawing)
                {
                    path.lineTo(px, py);
                }
                else
                {
                    path.moveTo(px, py);
                    drawing = true;
                }
            }
            g.setColor(Charts.colour(line.series()));
            g.draw(path);
        }
        g.setStroke(DASHED);
        for (final Marker marker : panel.markers())
        {
            final int px = xAxis.scale().pixel(marker.x());
            g.setColor(Charts.colour(marker.series()));
            g.drawLine(px, plot.top(), px, plot.bottom());
        }
        g.setStroke(new BasicStroke(1f));
        g.setClip(savedClip);

        g.setFont(Charts.VALUE_FONT);
        for (final Marker marker : panel.markers())
        {
            final int px = xAxis.scale().pixel(marker.x());
            final int half = g.getFontMetrics().stringWidth(marker.label()) / 2 + 3;
            // Inside the plot, next to the top of the line.
            Charts.drawLabel(g, marker.label(), Math.max(plot.left() + half, Math.min(plot.right() - half, px)),
                plot.top() + 14);
        }
        Charts.drawFrame(g, plot);
    }
}
