package io.replicore.benchmarks;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Grouped bar charts drawn with plain Java2D and written as PNG: one or more panels side by side, each with its
 * categories on the x axis and one bar per series in every category, the value written above each bar and an
 * optional error bar. Enough for benchmark reports without a plotting dependency.
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

    /**
     * Maps values to pixel rows of a panel's plot area.
     */
    private record Scale(boolean log, double low, double high, int plotTop, int plotBottom)
    {
        int y(final double value)
        {
            final double fraction = log ?
                (Math.log10(Math.max(value, low)) - Math.log10(low)) / (Math.log10(high) - Math.log10(low)) :
                value / high;
            return plotBottom - (int)Math.round(Math.min(fraction, 1.0) * (plotBottom - plotTop));
        }
    }

    private static final Color[] SERIES_COLOURS = {
        new Color(0x1F77B4), new Color(0xFF7F0E), new Color(0x2CA02C), new Color(0xD62728), new Color(0x9467BD),
        new Color(0x8C564B) };
    private static final Color GRID = new Color(0xDDDDDD);
    private static final Color AXIS = new Color(0x333333);
    private static final Font TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 18);
    private static final Font SUBTITLE_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    private static final Font PANEL_TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 14);
    private static final Font LABEL_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    private static final Font VALUE_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);

    private static final int PANEL_WIDTH = 560;
    private static final int HEIGHT = 520;
    private static final int TOP = 110;
    private static final int BOTTOM = 60;
    private static final int LEFT = 80;
    private static final int RIGHT = 20;

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
        final int width = PANEL_WIDTH * panels.size();
        final BufferedImage image = new BufferedImage(width, HEIGHT, BufferedImage.TYPE_INT_RGB);
        final Graphics2D g = image.createGraphics();
        try
        {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, HEIGHT);

            g.setColor(AXIS);
            g.setFont(TITLE_FONT);
            drawCentred(g, title, width / 2, 28);
            g.setFont(SUBTITLE_FONT);
            drawCentred(g, subtitle, width / 2, 50);
            drawLegend(g, seriesNames, width / 2, 74);

            for (int i = 0; i < panels.size(); i++)
            {
                drawPanel(g, panels.get(i), i * PANEL_WIDTH, seriesNames.size());
            }
        }
        finally
        {
            g.dispose();
        }
        try
        {
            ImageIO.write(image, "png", file.toFile());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot write " + file, ex);
        }
    }

    private static void drawLegend(final Graphics2D g, final List<String> seriesNames, final int centreX, final int y)
    {
        g.setFont(LABEL_FONT);
        final FontMetrics metrics = g.getFontMetrics();
        final int swatch = 14;
        final int gap = 24;
        int total = 0;
        for (final String name : seriesNames)
        {
            total += swatch + 6 + metrics.stringWidth(name) + gap;
        }
        int x = centreX - (total - gap) / 2;
        for (int s = 0; s < seriesNames.size(); s++)
        {
            g.setColor(SERIES_COLOURS[s % SERIES_COLOURS.length]);
            g.fillRect(x, y - swatch + 2, swatch, swatch);
            g.setColor(AXIS);
            g.drawString(seriesNames.get(s), x + swatch + 6, y);
            x += swatch + 6 + metrics.stringWidth(seriesNames.get(s)) + gap;
        }
    }

    private static void drawPanel(final Graphics2D g, final Panel panel, final int originX, final int seriesCount)
    {
        final int plotLeft = originX + LEFT;
        final int plotRight = originX + PANEL_WIDTH - RIGHT;
        final int plotTop = TOP;
        final int plotBottom = HEIGHT - BOTTOM;
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

        g.setFont(PANEL_TITLE_FONT);
        g.setColor(AXIS);
        drawCentred(g, panel.title(), (plotLeft + plotRight) / 2, plotTop - 12);
        g.setFont(LABEL_FONT);
        final FontMetrics metrics = g.getFontMetrics();

        final Scale scale;
        final List<Double> ticks = new ArrayList<>();
        if (panel.logScale() && max > 0)
        {
            // Below the smallest value, so that a value right on a decade still shows as a bar.
            final int lowDecade = (int)Math.floor(Math.log10(minPositive * 0.6));
            final int highDecade = Math.max(lowDecade + 1, (int)Math.ceil(Math.log10(max * 1.5)));
            scale = new Scale(true, Math.pow(10, lowDecade), Math.pow(10, highDecade), plotTop, plotBottom);
            for (int decade = lowDecade; decade <= highDecade; decade++)
            {
                ticks.add(Math.pow(10, decade));
                if (highDecade - lowDecade <= 2 && decade < highDecade)
                {
                    ticks.add(2 * Math.pow(10, decade));
                    ticks.add(5 * Math.pow(10, decade));
                }
            }
        }
        else
        {
            // Head room for the value labels; error bars taller than that are cut at the top.
            final double step = niceStep(max * 1.15 / 5);
            final double top = Math.max(step, Math.ceil(max * 1.15 / step) * step);
            scale = new Scale(false, 0, top, plotTop, plotBottom);
            for (int i = 0; i * step <= top + step / 1000; i++)
            {
                ticks.add(i * step);
            }
        }
        for (final double tick : ticks)
        {
            final int y = scale.y(tick);
            g.setColor(GRID);
            g.drawLine(plotLeft, y, plotRight, y);
            g.setColor(AXIS);
            final String label = formatTick(tick);
            g.drawString(label, plotLeft - 8 - metrics.stringWidth(label), y + metrics.getAscent() / 2 - 1);
        }

        final AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2);
        drawCentred(g, panel.yLabel(), -(plotTop + plotBottom) / 2, originX + 20);
        g.setTransform(saved);

        final int categoryCount = panel.categories().size();
        final double groupWidth = (double)(plotRight - plotLeft) / categoryCount;
        final double barWidth = groupWidth * 0.7 / seriesCount;
        for (int c = 0; c < categoryCount; c++)
        {
            final double groupLeft = plotLeft + c * groupWidth + groupWidth * 0.15;
            g.setFont(LABEL_FONT);
            g.setColor(AXIS);
            drawCentred(g, panel.categories().get(c), (int)(plotLeft + (c + 0.5) * groupWidth), plotBottom + 22);
            for (int s = 0; s < seriesCount; s++)
            {
                final double value = panel.values()[s][c];
                final int x = (int)Math.round(groupLeft + s * barWidth);
                final int w = (int)Math.round(barWidth) - 4;
                final int centre = x + w / 2;
                g.setFont(VALUE_FONT);
                if (!Double.isFinite(value))
                {
                    g.setColor(AXIS);
                    drawCentred(g, "n/a", centre, plotBottom - 6);
                    continue;
                }
                final int barTop = scale.y(value);
                g.setColor(SERIES_COLOURS[s % SERIES_COLOURS.length]);
                g.fillRect(x, barTop, w, plotBottom - barTop);

                if (panel.errors() != null && Double.isFinite(panel.errors()[s][c]) && panel.errors()[s][c] > 0)
                {
                    final double error = panel.errors()[s][c];
                    final int high = scale.y(value + error);
                    final int low = scale.y(Math.max(0, value - error));
                    g.setColor(AXIS);
                    g.setStroke(new BasicStroke(1.5f));
                    g.drawLine(centre, high, centre, low);
                    if (high > plotTop)
                    {
                        g.drawLine(centre - 5, high, centre + 5, high);
                    }
                    g.drawLine(centre - 5, low, centre + 5, low);
                    g.setStroke(new BasicStroke(1f));
                }
                drawLabel(g, String.format(Locale.ROOT, panel.valueFormat(), value), centre, barTop - 5);
            }
        }

        g.setColor(AXIS);
        g.setStroke(new BasicStroke(1.5f));
        g.drawLine(plotLeft, plotBottom, plotRight, plotBottom);
        g.drawLine(plotLeft, plotTop, plotLeft, plotBottom);
        g.setStroke(new BasicStroke(1f));
    }

    /**
     * A value label on a white box, readable over grid lines and error bars.
     */
    private static void drawLabel(final Graphics2D g, final String text, final int centreX, final int baselineY)
    {
        final FontMetrics metrics = g.getFontMetrics();
        final int width = metrics.stringWidth(text);
        g.setColor(Color.WHITE);
        g.fillRect(centreX - width / 2 - 2, baselineY - metrics.getAscent(), width + 4, metrics.getHeight());
        g.setColor(AXIS);
        g.drawString(text, centreX - width / 2, baselineY);
    }

    private static void drawCentred(final Graphics2D g, final String text, final int centreX, final int baselineY)
    {
        g.drawString(text, centreX - g.getFontMetrics().stringWidth(text) / 2, baselineY);
    }

    /**
     * @return 1, 2 or 5 times a power of ten, at least {@code rough}.
     */
    static double niceStep(final double rough)
    {
        if (!(rough > 0))
        {
            return 1;
        }
        final double magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
        final double fraction = rough / magnitude;
        final double nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
        return nice * magnitude;
    }

    private static String formatTick(final double tick)
    {
        return new BigDecimal(tick).round(new MathContext(6)).stripTrailingZeros().toPlainString();
    }

    private static double finiteOrZero(final double value)
    {
        return Double.isFinite(value) ? value : 0;
    }
}
