//! SVG plots for `sci run` (trajectories) and `sci train` (loss curves).
//!
//! Drawn with `plotters`' SVG backend and its font-free text path: labels become `<text>`
//! elements that the viewer renders with its own sans-serif font, so no font file is needed
//! or embedded. The functions return the SVG as a string; the caller writes it (atomically).
//!
//! Points that cannot be drawn — non-finite values, and non-positive values on a log axis —
//! are left out, and a line is broken where they were, so a gap shows rather than a
//! straight segment across missing data.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// The size of every plot in pixels (width, height).
const SIZE: (u32, u32) = (960, 600);
/// The width of the legend column to the right of the plot.
const LEGEND_WIDTH: u32 = 200;
/// The height of one legend entry.
const LEGEND_ROW: i32 = 20;

/// Line colours, cycled: the Tableau 10 palette, distinguishable and print-friendly.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A plot of named series against `t`: one line per series, a legend with the names beside
/// the plot, the axes labelled `x_label` and `y_label`. `log_x`/`log_y` select logarithmic
/// axes (Robertson's kinetics need log time); points that cannot be shown on them are
/// skipped, as are non-finite values. Series beyond ten reuse the colours dashed, then
/// dotted, so every line stays distinguishable.
///
/// Fails, with a sentence saying why, when there is nothing to draw (no times, no series,
/// no drawable point), when a series has a different length than `t`, or when the values
/// span more than a double can hold.
pub fn trajectory_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    t: &[f64],
    series: &[(String, Vec<f64>)],
    log_x: bool,
    log_y: bool,
) -> Result<String, String> {
    let axes = Axes {
        title,
        x_label,
        y_label,
        log_x,
        log_y,
    };
    trajectory_with_data_svg(&axes, t, series, &[])
}

/// Observations drawn as markers over a line of a [`trajectory_with_data_svg`] plot.
pub struct DataMarks {
    /// The index of the series they observe (their colour).
    pub series: usize,
    /// Their legend entry (`prey (obs)`).
    pub name: String,
    /// `(t, value)` pairs.
    pub points: Vec<(f64, f64)>,
}

/// The title, axis labels and axis kinds of a plot.
pub struct Axes<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_x: bool,
    pub log_y: bool,
}

/// [`trajectory_svg`] with observations over the lines they observe: open circles in the
/// line's colour, listed in the legend after the lines (a fit and its data on one figure).
pub fn trajectory_with_data_svg(
    axes: &Axes<'_>,
    t: &[f64],
    series: &[(String, Vec<f64>)],
    data: &[DataMarks],
) -> Result<String, String> {
    let Axes {
        title,
        x_label,
        y_label,
        log_x,
        log_y,
    } = *axes;
    if t.is_empty() {
        return Err("There is nothing to plot: the trajectory has no time points.".into());
    }
    if series.is_empty() {
        return Err("There is nothing to plot: the trajectory has no series.".into());
    }
    if let Some((name, values)) = series.iter().find(|(_, values)| values.len() != t.len()) {
        return Err(format!(
            "The series `{name}` has {} values but there are {} time points; they must match.",
            values.len(),
            t.len()
        ));
    }
    let lines = series
        .iter()
        .map(|(name, values)| Line {
            name: name.clone(),
            segments: segments(t, values, log_x, log_y),
        })
        .collect();
    let drawable = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let marks = data
        .iter()
        .filter(|m| m.series < series.len())
        .map(|m| Marks {
            series: m.series,
            name: m.name.clone(),
            points: (m.points.iter().copied())
                .filter(|&(x, y)| drawable(x, log_x) && drawable(y, log_y))
                .collect(),
        })
        .collect();
    Figure {
        title,
        x_label,
        y_label,
        log_x,
        log_y,
        legend: true,
        lines,
        marks,
        bands: Vec::new(),
    }
    .render()
}

/// An ensemble's plot: per quantity its mean as a line and a band between two quantiles
/// (`bands[k] = (lower, upper)` of `series[k]`) shaded in the line's colour.
pub fn bands_svg(
    axes: &Axes<'_>,
    t: &[f64],
    series: &[(String, Vec<f64>)],
    bands: &[(Vec<f64>, Vec<f64>)],
) -> Result<String, String> {
    if t.is_empty() || series.is_empty() {
        return Err("There is nothing to plot: no member reached an output time.".into());
    }
    let (log_x, log_y) = (axes.log_x, axes.log_y);
    let lines = (series.iter())
        .map(|(name, values)| Line {
            name: name.clone(),
            segments: segments(t, values, log_x, log_y),
        })
        .collect();
    let bands = (bands.iter().enumerate())
        .flat_map(|(series, (lower, upper))| {
            band_runs(t, lower, upper, log_x, log_y)
                .into_iter()
                .map(move |(upper, lower)| Band {
                    series,
                    upper,
                    lower,
                })
        })
        .collect();
    Figure {
        title: axes.title,
        x_label: axes.x_label,
        y_label: axes.y_label,
        log_x,
        log_y,
        legend: true,
        lines,
        marks: Vec::new(),
        bands,
    }
    .render()
}

/// The training loss against the optimiser step, on a log scale, with the loss's terms
/// (`(name, [(step, value)])`, sampled every so many steps) as further lines; non-positive
/// and non-finite values are skipped. Fails when there is no positive finite loss to draw.
pub fn loss_svg(
    title: &str,
    losses: &[f64],
    terms: &[(String, Vec<(f64, f64)>)],
) -> Result<String, String> {
    if losses.is_empty() {
        return Err("There is nothing to plot: no loss values were recorded.".into());
    }
    if !losses.iter().any(|&loss| loss.is_finite() && loss > 0.0) {
        return Err("There is nothing to plot: no loss value is positive and finite.".into());
    }
    let steps: Vec<f64> = (0..losses.len()).map(|step| step as f64).collect();
    let mut lines = vec![Line {
        name: "loss".into(),
        segments: segments(&steps, losses, false, true),
    }];
    for (name, samples) in terms {
        let (x, y): (Vec<f64>, Vec<f64>) = samples.iter().copied().unzip();
        lines.push(Line {
            name: name.clone(),
            segments: segments(&x, &y, false, true),
        });
    }
    Figure {
        title,
        x_label: "step",
        y_label: "loss",
        log_x: false,
        log_y: true,
        legend: !terms.is_empty(),
        lines,
        marks: Vec::new(),
        bands: Vec::new(),
    }
    .render()
}

/// One named line, already split into drawable runs of points.
struct Line {
    name: String,
    segments: Vec<Vec<(f64, f64)>>,
}

/// Observations of line `series`, drawable points only.
struct Marks {
    series: usize,
    name: String,
    points: Vec<(f64, f64)>,
}

/// A shaded band around line `series`: its upper and lower edges over the same times.
struct Band {
    series: usize,
    upper: Vec<(f64, f64)>,
    lower: Vec<(f64, f64)>,
}

/// Everything needed to draw one chart.
struct Figure<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    log_x: bool,
    log_y: bool,
    legend: bool,
    lines: Vec<Line>,
    marks: Vec<Marks>,
    bands: Vec<Band>,
}

/// Splits `(x, y)` into maximal runs of drawable points.
fn segments(x: &[f64], y: &[f64], log_x: bool, log_y: bool) -> Vec<Vec<(f64, f64)>> {
    let drawable = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for (&a, &b) in x.iter().zip(y) {
        if drawable(a, log_x) && drawable(b, log_y) {
            run.push((a, b));
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// Splits a band into maximal runs of times where it can be drawn (both edges too):
/// `(upper edge, lower edge)` per run.
type Edges = Vec<(f64, f64)>;
fn band_runs(
    t: &[f64],
    lower: &[f64],
    upper: &[f64],
    log_x: bool,
    log_y: bool,
) -> Vec<(Edges, Edges)> {
    let drawable = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let mut runs = Vec::new();
    let mut run: (Edges, Edges) = (Vec::new(), Vec::new());
    for ((&x, &lo), &hi) in t.iter().zip(lower).zip(upper) {
        if drawable(x, log_x) && drawable(lo, log_y) && drawable(hi, log_y) {
            run.0.push((x, hi));
            run.1.push((x, lo));
        } else if !run.0.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.0.is_empty() {
        runs.push(run);
    }
    runs
}

/// The range an axis shows for values from `lo` to `hi`: padded by 5% (of the decades, on
/// a log axis) so lines do not sit on the frame, and widened when all values are equal.
fn axis_range(lo: f64, hi: f64, log: bool, pad: bool) -> Result<(f64, f64), String> {
    let too_wide = || "The values span more than a plot can show (beyond the range of a double).";
    if log {
        let (a, b) = (lo.log10(), hi.log10());
        let (a, b) = if a == b { (a - 1.0, b + 1.0) } else { (a, b) };
        let margin = if pad { 0.05 * (b - a) } else { 0.0 };
        let (lo, hi) = (10f64.powf(a - margin), 10f64.powf(b + margin));
        if lo > 0.0 && hi.is_finite() {
            Ok((lo, hi))
        } else {
            Err(too_wide().into())
        }
    } else {
        let (lo, hi) = if lo == hi {
            let half = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
            (lo - half, hi + half)
        } else {
            (lo, hi)
        };
        let margin = if pad { 0.05 * (hi - lo) } else { 0.0 };
        let (lo, hi) = (lo - margin, hi + margin);
        if (hi - lo).is_finite() {
            Ok((lo, hi))
        } else {
            Err(too_wide().into())
        }
    }
}

/// A tick label: plain decimals for moderate magnitudes, `1e-6` style otherwise, with
/// at most three significant digits so labels stay short.
pub(super) fn tick(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&magnitude) {
        let text = format!("{:.*}", decimals(magnitude), value);
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').into()
        } else {
            text
        }
    } else {
        let text = format!("{value:.2e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) => {
                let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
                format!("{mantissa}e{exponent}")
            }
            None => text,
        }
    }
}

/// Decimal places that show three significant digits of a number of this magnitude.
fn decimals(magnitude: f64) -> usize {
    let digits_before_point = magnitude.log10().floor() as i32 + 1;
    (3 - digits_before_point).clamp(0, 6) as usize
}

impl Figure<'_> {
    /// Draws the figure and returns the SVG text.
    fn render(&self) -> Result<String, String> {
        let points = || {
            (self.lines.iter().flat_map(|l| &l.segments).flatten())
                .chain(self.marks.iter().flat_map(|m| &m.points))
                .chain(
                    self.bands
                        .iter()
                        .flat_map(|b| b.upper.iter().chain(&b.lower)),
                )
        };
        let mut bounds: Option<(f64, f64, f64, f64)> = None;
        for &(x, y) in points() {
            bounds = Some(match bounds {
                None => (x, x, y, y),
                Some((x0, x1, y0, y1)) => (x0.min(x), x1.max(x), y0.min(y), y1.max(y)),
            });
        }
        let Some((x0, x1, y0, y1)) = bounds else {
            let why = match (self.log_x, self.log_y) {
                (false, false) => "every value is NaN or infinite",
                _ => "every point is NaN, infinite, or not positive on a logarithmic axis",
            };
            return Err(format!(
                "There is nothing to plot: no point can be drawn ({why})."
            ));
        };
        let (x0, x1) = axis_range(x0, x1, self.log_x, false)?;
        let (y0, y1) = axis_range(y0, y1, self.log_y, true)?;

        let mut svg = String::new();
        let lines;
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(drawing_failed)?;
            // The legend has its own column, so it never covers the data.
            let (root, legend) = if self.legend {
                let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
                (plot, Some(legend))
            } else {
                (root, None)
            };
            let frame = match (self.log_x, self.log_y) {
                (false, false) => self.draw(&root, x0..x1, y0..y1),
                (true, false) => self.draw(&root, (x0..x1).log_scale(), y0..y1),
                (false, true) => self.draw(&root, x0..x1, (y0..y1).log_scale()),
                (true, true) => self.draw(&root, (x0..x1).log_scale(), (y0..y1).log_scale()),
            }?;
            lines = self.lines_svg(&frame);
            if let Some(legend) = &legend {
                self.draw_legend(legend)?;
            }
            root.present().map_err(drawing_failed)?;
        }
        // The data lines after everything plotters drew, above the grid.
        let end = svg
            .rfind("</svg>")
            .ok_or("the SVG backend wrote no closing tag")?;
        svg.insert_str(end, &lines);
        Ok(svg)
    }

    /// The data lines as SVG polylines at fractional pixel coordinates (plotters rounds
    /// every point to a whole pixel, which makes smooth curves visibly stepped), clipped to
    /// the plotting area; dashes as `stroke-dasharray`.
    fn lines_svg(&self, frame: &Frame) -> String {
        let ((x0, x1), (y0, y1)) = (frame.x, frame.y);
        let scale = |log: bool| move |v: f64| if log { v.log10() } else { v };
        let (sx, sy) = (scale(self.log_x), scale(self.log_y));
        let (a, b) = (frame.corners[0], frame.corners[1]);
        let map = |v: f64, lo: f64, hi: f64, s: &dyn Fn(f64) -> f64, p0: i32, p1: i32| {
            f64::from(p0) + (s(v) - s(lo)) / (s(hi) - s(lo)) * f64::from(p1 - p0)
        };
        let (left, top, width, height) = frame.area;
        let mut out = format!(
            "<defs><clipPath id=\"plot-area\"><rect x=\"{left}\" y=\"{top}\" \
             width=\"{width}\" height=\"{height}\"/></clipPath></defs>\n"
        );
        // Points as the `x,y` pixel pairs of an SVG `points` attribute.
        let pixels = |points: &mut dyn Iterator<Item = &(f64, f64)>| -> String {
            let pairs: Vec<String> = points
                .map(|&(x, y)| {
                    let px = map(x, x0, x1, &sx, a.0, b.0);
                    let py = map(y, y0, y1, &sy, a.1, b.1);
                    format!("{px:.2},{py:.2}")
                })
                .collect();
            pairs.join(" ")
        };
        // Bands first, under the lines.
        for band in &self.bands {
            let RGBColor(r, g, bl) = line_style(band.series).0;
            let points = pixels(&mut band.upper.iter().chain(band.lower.iter().rev()));
            out.push_str(&format!(
                "<polygon class=\"band\" fill=\"#{r:02x}{g:02x}{bl:02x}\" fill-opacity=\"0.2\" \
                 stroke=\"none\" clip-path=\"url(#plot-area)\" points=\"{points}\"/>\n"
            ));
        }
        for (index, line) in self.lines.iter().enumerate() {
            let (colour, dash) = line_style(index);
            let RGBColor(r, g, bl) = colour;
            let dash = match dash {
                Some((on, off)) => format!(" stroke-dasharray=\"{on} {off}\""),
                None => String::new(),
            };
            for run in &line.segments {
                let points = pixels(&mut run.iter());
                out.push_str(&format!(
                    "<polyline class=\"series\" fill=\"none\" stroke=\"#{r:02x}{g:02x}{bl:02x}\" \
                     stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"{dash} \
                     clip-path=\"url(#plot-area)\" points=\"{}\"/>\n",
                    points
                ));
            }
        }
        for marks in &self.marks {
            let RGBColor(red, green, blue) = line_style(marks.series).0;
            for &(x, y) in &marks.points {
                let cx = map(x, x0, x1, &sx, a.0, b.0);
                let cy = map(y, y0, y1, &sy, a.1, b.1);
                out.push_str(&format!(
                    "<circle class=\"data\" cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"3.5\" \
                     fill=\"white\" stroke=\"#{red:02x}{green:02x}{blue:02x}\" stroke-width=\"1.5\" \
                     clip-path=\"url(#plot-area)\"/>\n"
                ));
            }
        }
        out
    }

    /// The legend column: a sample of each line's style and its name, then of each set of
    /// observations, as many as fit.
    fn draw_legend(
        &self,
        area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), String> {
        let (_, height) = area.dim_in_pixel();
        let fit = ((height as i32 - 80) / LEGEND_ROW).max(1) as usize;
        let entries: Vec<(&str, LegendSample)> = (self.lines.iter().enumerate())
            .map(|(index, line)| (line.name.as_str(), LegendSample::Line(index)))
            .chain((self.marks.iter()).map(|m| (m.name.as_str(), LegendSample::Marks(m.series))))
            .collect();
        let shown = if entries.len() > fit { fit - 1 } else { fit };
        for (row, (name, sample)) in entries.iter().enumerate().take(shown) {
            let y = 60 + LEGEND_ROW * row as i32;
            match *sample {
                LegendSample::Line(index) => {
                    let (colour, dash) = line_style(index);
                    let style = colour.stroke_width(2);
                    // A dashed or dotted sample drawn as its pieces.
                    let pieces: Vec<(i32, i32)> = match dash {
                        None => vec![(4, 32)],
                        Some((on, off)) => (0..)
                            .map(|k| 4 + k * (on + off))
                            .take_while(|x| x + on <= 32)
                            .map(|x| (x, x + on))
                            .collect(),
                    };
                    for (a, b) in pieces {
                        area.draw(&PathElement::new(vec![(a, y), (b, y)], style))
                            .map_err(drawing_failed)?;
                    }
                }
                LegendSample::Marks(index) => {
                    let style = line_style(index).0.stroke_width(2);
                    area.draw(&Circle::new((18, y), 4, style))
                        .map_err(drawing_failed)?;
                }
            }
            area.draw(&Text::new(
                name.to_string(),
                (40, y - 7),
                ("sans-serif", 14),
            ))
            .map_err(drawing_failed)?;
        }
        if entries.len() > shown {
            let y = 60 + LEGEND_ROW * shown as i32;
            let more = format!("… {} more", entries.len() - shown);
            area.draw(&Text::new(more, (40, y - 7), ("sans-serif", 14)))
                .map_err(drawing_failed)?;
        }
        Ok(())
    }

    /// Draws the axes on `root` with the given axis kinds (linear or log); returns where
    /// the data goes.
    fn draw<X, Y>(
        &self,
        root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
        x_spec: X,
        y_spec: Y,
    ) -> Result<Frame, String>
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x_spec, y_spec)
            .map_err(drawing_failed)?;
        // Rounding leaves ticks like -2.2e-16 where zero is meant: snap them.
        let (x_span, y_span) = (chart.x_range(), chart.y_range());
        let x_scale = (x_span.end - x_span.start).abs();
        let y_scale = (y_span.end - y_span.start).abs();
        let snap = |v: f64, scale: f64| if v.abs() <= 1e-9 * scale { 0.0 } else { v };
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .x_label_formatter(&|v| tick(snap(*v, x_scale)))
            .y_label_formatter(&|v| tick(snap(*v, y_scale)))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(drawing_failed)?;
        // Where the axes' ends are on the canvas, for the lines drawn at fractional pixels.
        let (x_px, y_px) = chart.plotting_area().get_pixel_range();
        let (x_span, y_span) = (chart.x_range(), chart.y_range());
        Ok(Frame {
            x: (x_span.start, x_span.end),
            y: (y_span.start, y_span.end),
            corners: [
                chart.backend_coord(&(x_span.start, y_span.start)),
                chart.backend_coord(&(x_span.end, y_span.end)),
            ],
            area: (
                x_px.start,
                y_px.start,
                x_px.end - x_px.start,
                y_px.end - y_px.start,
            ),
        })
    }
}

/// What a legend entry shows: a line's style, or the marker of observations of a line.
#[derive(Clone, Copy)]
enum LegendSample {
    Line(usize),
    Marks(usize),
}

/// Where a chart's data goes on the canvas.
struct Frame {
    /// The axes' value ranges.
    x: (f64, f64),
    y: (f64, f64),
    /// The canvas pixels of the axes' lower-left and upper-right ends.
    corners: [(i32, i32); 2],
    /// The plotting area: left, top, width, height.
    area: (i32, i32, i32, i32),
}

/// The colour and dash pattern (`(on, off)` pixels, `None` for solid) of line `index`: the
/// ten colours solid, then dashed, then dotted.
fn line_style(index: usize) -> (RGBColor, Option<(i32, i32)>) {
    let colour = COLOURS[index % COLOURS.len()];
    let dash = match (index / COLOURS.len()) % 3 {
        0 => None,
        1 => Some((8, 5)),
        _ => Some((2, 4)),
    };
    (colour, dash)
}

/// The message for a failure inside plotters (in practice unreachable with the SVG backend
/// writing to a string, but reported rather than unwrapped).
pub(super) fn drawing_failed(error: impl std::fmt::Display) -> String {
    format!("Drawing the plot failed: {error}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    /// Structural checks every plot must pass: one `<svg>` element, closed, with text.
    fn assert_well_formed(svg: &str) {
        assert!(
            svg.trim_start().starts_with("<svg"),
            "{}",
            &svg[..svg.len().min(200)]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(count(svg, "<svg"), 1);
        assert_eq!(count(svg, "<text"), count(svg, "</text>"));
        assert!(count(svg, "<text") > 0);
    }

    fn series(name: &str, values: Vec<f64>) -> (String, Vec<f64>) {
        (name.to_string(), values)
    }

    #[test]
    fn trajectory_has_a_line_and_a_legend_entry_per_series() {
        let t: Vec<f64> = (0..50).map(|i| i as f64 * 0.1).collect();
        let data = vec![
            series("prey", t.iter().map(|x| x.sin()).collect()),
            series("predator", t.iter().map(|x| x.cos()).collect()),
            series("third <kind> & co", t.iter().map(|x| x * 0.1).collect()),
        ];
        let svg = trajectory_svg(
            "Lotka–Volterra",
            "time (s)",
            "value",
            &t,
            &data,
            false,
            false,
        )
        .unwrap();
        assert_well_formed(&svg);
        // Each series draws its line and a legend sample.
        assert!(count(&svg, "<polyline") >= 2 * data.len(), "{svg}");
        for name in ["prey", "predator", "Lotka–Volterra", "time (s)"] {
            // Text is emitted as `<text ...>\nNAME\n</text>`.
            assert!(svg.contains(&format!(">\n{name}\n</text>")), "{name}");
        }
        // Names are escaped, not spliced into the markup.
        assert!(svg.contains("third &lt;kind&gt; &amp; co"));
        assert!(!svg.contains("<kind>"));
    }

    #[test]
    fn log_axes_cover_eleven_decades() {
        let t: Vec<f64> = (0..=110)
            .map(|i| 10f64.powf(-6.0 + i as f64 / 10.0))
            .collect();
        let data = vec![
            series("A", t.iter().map(|x| 1.0 / (1.0 + x)).collect()),
            series("B", t.iter().map(|x| x.sqrt()).collect()),
        ];
        let svg = trajectory_svg("Robertson", "t", "value", &t, &data, true, true).unwrap();
        assert_well_formed(&svg);
        assert!(count(&svg, "<polyline") >= 2 * data.len());
        // Decade ticks at both ends of the range, in scientific notation.
        assert!(svg.contains("1e-6") || svg.contains("1e-5"), "{svg}");
        assert!(svg.contains("1e4") || svg.contains("1e5"), "{svg}");
        // The time axis is logarithmic: the screen distance from 1e-6 to 1e-5 equals the
        // distance from 1e4 to 1e5, so the first points of the line are spread out rather
        // than piled on the left edge. Read the x coordinates of the first series' line.
        let xs = polyline_xs(&svg, 0);
        assert_eq!(xs.len(), t.len());
        let first_decade = xs[10] - xs[0];
        let last_decade = xs[110] - xs[100];
        assert!(first_decade > 30.0, "{xs:?}");
        assert!(
            (first_decade - last_decade).abs() <= 2.0,
            "{first_decade} vs {last_decade}"
        );
    }

    /// The y pixel coordinates of the `index`-th data line.
    fn polyline_ys(svg: &str, index: usize) -> Vec<f64> {
        polyline_points(svg, index)
            .into_iter()
            .map(|(_, y)| y)
            .collect()
    }

    /// The x pixel coordinates of the `index`-th data line.
    fn polyline_xs(svg: &str, index: usize) -> Vec<f64> {
        polyline_points(svg, index)
            .into_iter()
            .map(|(x, _)| x)
            .collect()
    }

    /// The points of the `index`-th data line.
    fn polyline_points(svg: &str, index: usize) -> Vec<(f64, f64)> {
        let lines: Vec<&str> = svg
            .split("<polyline")
            .skip(1)
            .filter(|element| element.contains("class=\"series\""))
            .collect();
        let element = lines[index];
        let points = element
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        points
            .split_whitespace()
            .map(|pair| {
                let (x, y) = pair.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn non_finite_and_non_positive_points_break_the_line() {
        let t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let y = vec![1.0, 2.0, f64::NAN, 3.0, f64::INFINITY, 4.0, 5.0];
        let svg =
            trajectory_svg("gaps", "t", "value", &t, &[series("y", y)], false, false).unwrap();
        assert_well_formed(&svg);
        // Three runs: [0, 1], [3], [5, 6].
        assert_eq!(
            segments(
                &t,
                &[1.0, 2.0, f64::NAN, 3.0, f64::INFINITY, 4.0, 5.0],
                false,
                false
            )
            .len(),
            3
        );
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // On log time, t = 0 is dropped rather than failing the plot.
        let svg = trajectory_svg(
            "log",
            "t",
            "value",
            &t,
            &[series("y", vec![1.0; 7])],
            true,
            false,
        )
        .unwrap();
        assert_well_formed(&svg);
    }

    #[test]
    fn nothing_to_draw_is_an_error_sentence() {
        let t = [0.0, 1.0];
        let cases = [
            trajectory_svg("x", "t", "value", &[], &[series("y", vec![])], false, false),
            trajectory_svg("x", "t", "value", &t, &[], false, false),
            trajectory_svg(
                "x",
                "t",
                "value",
                &t,
                &[series("y", vec![1.0])],
                false,
                false,
            ),
            trajectory_svg(
                "x",
                "t",
                "value",
                &t,
                &[series("y", vec![f64::NAN; 2])],
                false,
                false,
            ),
            trajectory_svg(
                "x",
                "t",
                "value",
                &t,
                &[series("y", vec![-1.0, 0.0])],
                false,
                true,
            ),
            trajectory_svg(
                "x",
                "t",
                "value",
                &t,
                &[series("y", vec![-1e308, 1e308])],
                false,
                false,
            ),
            loss_svg("loss", &[], &[]),
            loss_svg("loss", &[0.0, -1.0, f64::NAN], &[]),
        ];
        for case in cases {
            let message = case.unwrap_err();
            assert!(message.starts_with(char::is_uppercase), "{message}");
            assert!(message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn constant_series_still_plot() {
        let t = [0.0, 1.0, 2.0];
        for (values, log_y) in [
            (vec![0.0; 3], false),
            (vec![2.5; 3], false),
            (vec![2.5; 3], true),
        ] {
            let svg = trajectory_svg(
                "flat",
                "t",
                "value",
                &t,
                &[series("c", values)],
                false,
                log_y,
            )
            .unwrap();
            assert_well_formed(&svg);
        }
        let svg = trajectory_svg(
            "one point",
            "t",
            "value",
            &[1.0],
            &[series("c", vec![1.0])],
            true,
            true,
        );
        assert_well_formed(&svg.unwrap());
    }

    #[test]
    fn loss_curve_is_drawn_on_a_log_axis() {
        let losses: Vec<f64> = (0..200).map(|i| 10f64.powf(-(i as f64) / 25.0)).collect();
        let mut with_bad = losses.clone();
        with_bad[7] = 0.0;
        with_bad[8] = f64::NAN;
        let svg = loss_svg("training <run>", &with_bad, &[]).unwrap();
        assert_well_formed(&svg);
        assert!(count(&svg, "<polyline") >= 2, "{svg}");
        assert!(svg.contains("training &lt;run&gt;"));
        assert!(svg.contains("step") && svg.contains("loss"));
        assert!(svg.contains("1e-7") || svg.contains("1e-6"), "{svg}");
    }

    #[test]
    fn many_series_get_distinct_styles_and_a_legend_beside_the_data() {
        let t: Vec<f64> = (0..20).map(f64::from).collect();
        let data: Vec<(String, Vec<f64>)> = (0..40)
            .map(|k| series(&format!("s{k}"), t.iter().map(|x| x * k as f64).collect()))
            .collect();
        let svg = trajectory_svg("many", "t", "value", &t, &data, false, false).unwrap();
        assert_well_formed(&svg);
        // Ten colours, each solid, dashed and dotted: no two of the first 30 alike.
        let styles: Vec<_> = (0..30).map(line_style).collect();
        for (i, a) in styles.iter().enumerate() {
            assert!(styles[..i].iter().all(|b| b != a), "style {i} repeats");
        }
        // The legend lists what fits and counts the rest, right of the plot area.
        assert!(svg.contains(">\ns0\n</text>") && svg.contains(">\ns24\n</text>"));
        assert!(!svg.contains(">\ns25\n</text>"));
        assert!(svg.contains("… 15 more"), "{svg}");
        let x_of = |name: &str| -> f64 {
            let at = svg.find(&format!(">\n{name}\n</text>")).unwrap();
            let open = svg[..at].rfind("<text").unwrap();
            let attr = svg[open..].split("x=\"").nth(1).unwrap();
            attr.split('"').next().unwrap().parse().unwrap()
        };
        assert!(x_of("s0") >= f64::from(SIZE.0 - LEGEND_WIDTH));
    }

    #[test]
    fn lines_are_drawn_at_fractional_pixels_inside_the_plot_area() {
        // A slow sine: rounded to whole pixels, neighbouring points would share rows.
        let t: Vec<f64> = (0..400).map(|i| f64::from(i) / 399.0).collect();
        let data: Vec<(String, Vec<f64>)> = (0..12)
            .map(|k| {
                let phase = f64::from(k) * 0.1;
                series(
                    &format!("s{k}"),
                    t.iter().map(|x| (x + phase).sin()).collect(),
                )
            })
            .collect();
        let svg = trajectory_svg("smooth", "t", "y", &t, &data, false, false).unwrap();
        assert_well_formed(&svg);
        let series_lines: Vec<&str> = svg.split("<polyline class=\"series\"").skip(1).collect();
        assert_eq!(series_lines.len(), 12);
        let (xs, ys) = (polyline_xs(&svg, 0), polyline_ys(&svg, 0));
        assert_eq!(xs.len(), 400);
        let fractional = ys.iter().filter(|y| y.fract() != 0.0).count();
        assert!(fractional > 300, "{ys:?}");
        // Inside the clip rectangle, which is the plotting area left of the legend.
        let rect = svg
            .split("<clipPath id=\"plot-area\"><rect ")
            .nth(1)
            .unwrap();
        let attr = |name: &str| -> f64 {
            let v = rect.split(&format!("{name}=\"")).nth(1).unwrap();
            v.split('"').next().unwrap().parse().unwrap()
        };
        let (left, top) = (attr("x"), attr("y"));
        let (right, bottom) = (left + attr("width"), top + attr("height"));
        assert!(right <= f64::from(SIZE.0 - LEGEND_WIDTH));
        for (x, y) in xs.iter().zip(&ys) {
            assert!(
                (left..=right).contains(x) && (top..=bottom).contains(y),
                "{x},{y}"
            );
        }
        // Lines beyond ten colours are dashed by the renderer, not cut into pieces.
        assert!(series_lines[10].contains("stroke-dasharray=\"8 5\""));
        assert!(series_lines[..10].iter().all(|l| !l.contains("dasharray")));
        assert!(
            series_lines
                .iter()
                .all(|l| l.contains("clip-path=\"url(#plot-area)\""))
        );
    }

    #[test]
    fn ticks_near_zero_read_zero() {
        // A range symmetric about zero: the middle tick is computed as a tiny non-zero.
        let t = [0.0, 1.0, 2.0];
        let svg = trajectory_svg(
            "z",
            "t",
            "y",
            &t,
            &[series("y", vec![-0.3, 0.0, 0.3])],
            false,
            false,
        )
        .unwrap();
        assert!(!svg.contains("e-17") && !svg.contains("e-16"), "{svg}");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(1e-6), "1e-6");
        assert_eq!(tick(2.0000000001e5), "2e5");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(1234.0), "1234");
        assert_eq!(tick(-12.5), "-12.5");
        assert_eq!(tick(0.001), "0.001");
    }
}
