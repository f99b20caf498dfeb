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

/**
 * What the charts of the benchmark reports ({@link BarChart}, {@link LineChart}) share: the picture with its title,
 * subtitle and legend above one or more panels side by side, the palette and fonts, the axes with their grid, tick
 * labels and titles, and writing the PNG. Each chart draws only what is inside its panels' plot areas.
 */
final class Charts
{
    static final Color[] SERIES_COLOURS = {
        new Color(0x1F77B4), new Color(0xFF7F0E), new Color(0x2CA02C), new Color(0xD62728), new Color(0x9467BD),
        new Color(0x8C564B) };
    static final Color GRID = new Color(0xDDDDDD);
    static final Color AXIS = new Color(0x333333);
    static final Font TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 18);
    static final Font SUBTITLE_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    static final Font PANEL_TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 14);
    static final Font LABEL_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    static final Font VALUE_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);

    private static final int PANEL_WIDTH = 560;
    private static final int HEIGHT = 520;
    private static final int TOP = 110;
    private static final int BOTTOM = 60;
    private static final int LEFT = 80;
    private static final int RIGHT = 20;

    /**
     * One panel's plot area in pixels; the panel itself starts at {@code originX}.
     */
    record Plot(int originX, int left, int top, int right, int bottom)
    {
    }

    /**
     * Draws what is inside one panel.
     */
    interface PanelPainter
    {
        void paint(Graphics2D g, int panel, Plot plot);
    }

    /**
     * Maps values to pixels along one axis: {@code low} to pixel {@code from}, {@code high} to pixel {@code to}
     * (for a y axis, from the bottom up). Values outside are drawn at the ends.
     */
    record Scale(boolean log, double low, double high, int from, int to)
    {
        int pixel(final double value)
        {
            final double fraction = log ?
                (Math.log10(Math.max(value, low)) - Math.log10(low)) / (Math.log10(high) - Math.log10(low)) :
                (value - low) / (high - low);
            return from + (int)Math.round(Math.max(0.0, Math.min(fraction, 1.0)) * (to - from));
        }
    }

    /**
     * A scale and the values at which the axis has a tick and a grid line.
     */
    record Axis(Scale scale, List<Double> ticks)
    {
    }

    private Charts()
    {
    }

    static Color colour(final int series)
    {
        return SERIES_COLOURS[series % SERIES_COLOURS.length];
    }

    /**
     * Draws the picture: title, subtitle and a legend of the series' colours, then each panel through the painter,
     * and writes it as PNG.
     */
    static void write(
        final Path file,
        final String title,
        final String subtitle,
        final List<String> seriesNames,
        final int panels,
        final PanelPainter painter)
    {
        final int width = PANEL_WIDTH * panels;
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

            for (int i = 0; i < panels; i++)
            {
                final int originX = i * PANEL_WIDTH;
                painter.paint(g, i,
                    new Plot(originX, originX + LEFT, TOP, originX + PANEL_WIDTH - RIGHT, HEIGHT - BOTTOM));
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
            g.setColor(colour(s));
            g.fillRect(x, y - swatch + 2, swatch, swatch);
            g.setColor(AXIS);
            g.drawString(seriesNames.get(s), x + swatch + 6, y);
            x += swatch + 6 + metrics.stringWidth(seriesNames.get(s)) + gap;
        }
    }

    /**
     * A linear axis from 0, or from below {@code min} when that is negative, to a round value at least
     * {@code max * headroom}, with about {@code ticks} steps of 1, 2 or 5 times a power of ten.
     */
    static Axis linearAxis(
        final double min, final double max, final double headroom, final int ticks, final int from, final int to)
    {
        final double step = niceStep((max * headroom - Math.min(0, min)) / ticks);
        // In whole steps, so that the tick at 0 is 0 and not a rounding error of one.
        final long lowSteps = (long)Math.floor(Math.min(0, min) / step);
        final long highSteps = Math.max(lowSteps + 1, (long)Math.ceil(max * headroom / step));
        final List<Double> values = new ArrayList<>();
        for (long i = lowSteps; i <= highSteps; i++)
        {
            values.add(i * step);
        }
        return new Axis(new Scale(false, lowSteps * step, highSteps * step, from, to), values);
    }

    /**
     * A log axis over whole decades, from below {@code minPositive} (so that a value right on a decade still shows
     * as a bar) to above {@code max}, with ticks at 2 and 5 too when it spans two decades or less.
     */
    static Axis logAxis(final double minPositive, final double max, final int from, final int to)
    {
        final int lowDecade = (int)Math.floor(Math.log10(minPositive * 0.6));
        final int highDecade = Math.max(lowDecade + 1, (int)Math.ceil(Math.log10(max * 1.5)));
        final List<Double> values = new ArrayList<>();
        for (int decade = lowDecade; decade <= highDecade; decade++)
        {
            values.add(Math.pow(10, decade));
            if (highDecade - lowDecade <= 2 && decade < highDecade)
            {
                values.add(2 * Math.pow(10, decade));
                values.add(5 * Math.pow(10, decade));
            }
        }
        return new Axis(new Scale(true, Math.pow(10, lowDecade), Math.pow(10, highDecade), from, to), values);
    }

    static void drawPanelTitle(final Graphics2D g, final Plot plot, final String title)
    {
        g.setFont(PANEL_TITLE_FONT);
        g.setColor(AXIS);
        drawCentred(g, title, (plot.left() + plot.right()) / 2, plot.top() - 12);
    }

    /**
     * Horizontal grid lines at the y axis's ticks, their values on the left and the axis title turned upright.
     */
    static void drawYAxis(final Graphics2D g, final Plot plot, final Axis axis, final String label)
    {
        g.setFont(LABEL_FONT);
        final FontMetrics metrics = g.getFontMetrics();
        for (final double tick : axis.ticks())
        {
            final int y = axis.scale().pixel(tick);
            g.setColor(GRID);
            g.drawLine(plot.left(), y, plot.right(), y);
            g.setColor(AXIS);
            final String text = formatTick(tick);
            g.drawString(text, plot.left() - 8 - metrics.stringWidth(text), y + metrics.getAscent() / 2 - 1);
        }
        final AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2);
        drawCentred(g, label, -(plot.top() + plot.bottom()) / 2, plot.originX() + 20);
        g.setTransform(saved);
    }

    /**
     * Vertical grid lines at the x axis's ticks, their values below the plot and the axis title under them.
     */
    static void drawXAxis(final Graphics2D g, final Plot plot, final Axis axis, final String label)
    {
        g.setFont(LABEL_FONT);
        for (final double tick : axis.ticks())
        {
            final int x = axis.scale().pixel(tick);
            g.setColor(GRID);
            g.drawLine(x, plot.top(), x, plot.bottom());
            g.setColor(AXIS);
            drawCentred(g, formatTick(tick), x, plot.bottom() + 18);
        }
        drawCentred(g, label, (plot.left() + plot.right()) / 2, plot.bottom() + 40);
    }

    /**
     * The x and y axis lines, over whatever was drawn in the plot.
     */
    static void drawFrame(final Graphics2D g, final Plot plot)
    {
        g.setColor(AXIS);
        g.setStroke(new BasicStroke(1.5f));
        g.drawLine(plot.left(), plot.bottom(), plot.right(), plot.bottom());
        g.drawLine(plot.left(), plot.top(), plot.left(), plot.bottom());
        g.setStroke(new BasicStroke(1f));
    }

    /**
     * A label on a white box, readable over grid lines, bars and lines.
     */
    static void drawLabel(final Graphics2D g, final String text, final int centreX, final int baselineY)
    {
        final FontMetrics metrics = g.getFontMetrics();
        final int width = metrics.stringWidth(text);
        g.setColor(Color.WHITE);
        g.fillRect(centreX - width / 2 - 2, baselineY - metrics.getAscent(), width + 4, metrics.getHeight());
        g.setColor(AXIS);
        g.drawString(text, centreX - width / 2, baselineY);
    }

    static void drawCentred(final Graphics2D g, final String text, final int centreX, final int baselineY)
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

    static String formatTick(final double tick)
    {
        return new BigDecimal(tick).round(new MathContext(6)).stripTrailingZeros().toPlainString();
    }
}
