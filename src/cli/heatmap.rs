//! Heat maps for `sci predict`: fields over two coordinates on a grid, one panel per field,
//! each coloured by the viridis map (perceptually uniform, readable in grey and by colour-
//! blind readers) over its own range, with a colour bar.
//!
//! Cells are the rectangles between the midpoints of neighbouring grid points, so each
//! grid value fills the area nearest to it; NaN or infinite values are drawn grey.

use plotters::prelude::*;

use super::plot::{drawing_failed, tick};

/// The side of one panel's square plot area, in pixels.
const PANEL: u32 = 440;
/// The width of a panel's colour bar column (bar and its labels).
const BAR: u32 = 110;
/// The colour of cells whose value cannot be shown.
const MISSING: RGBColor = RGBColor(190, 190, 190);

/// One field on the grid: `values[i * ys.len() + j]` is the value at `(xs[i], ys[j])`.
pub struct Field {
    pub name: String,
    pub values: Vec<f64>,
}

/// The heat maps of `fields` over the grid `xs × ys` (both sorted, at least two points
/// each), side by side, with `title` above them.
pub fn heatmap_svg(
    title: &str,
    (x_name, xs): (&str, &[f64]),
    (y_name, ys): (&str, &[f64]),
    fields: &[Field],
) -> Result<String, String> {
    if xs.len() < 2 || ys.len() < 2 {
        return Err("A heat map needs at least two grid points along each coordinate.".into());
    }
    if fields.is_empty() {
        return Err("There is nothing to plot: no field was given.".into());
    }
    if let Some(f) = fields
        .iter()
        .find(|f| f.values.len() != xs.len() * ys.len())
    {
        return Err(format!(
            "The field `{}` has {} values but the grid has {} points.",
            f.name,
            f.values.len(),
            xs.len() * ys.len()
        ));
    }
    let x_edges = edges(xs);
    let y_edges = edges(ys);
    let width = (PANEL + BAR) * fields.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, PANEL + 80)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_failed)?;
        let root = root
            .titled(title, ("sans-serif", 22))
            .map_err(drawing_failed)?;
        let panels = root.split_evenly((1, fields.len()));
        for (panel, field) in panels.iter().zip(fields) {
            let (lo, hi) = finite_range(&field.values);
            let (map_area, bar_area) = panel.split_horizontally(PANEL);
            draw_map(
                &map_area,
                field,
                (x_name, &x_edges),
                (y_name, &y_edges),
                (lo, hi),
            )?;
            draw_bar(&bar_area, (lo, hi))?;
        }
        root.present().map_err(drawing_failed)?;
    }
    Ok(svg)
}

/// The cell boundaries of sorted grid points: midpoints inside, half a spacing beyond the
/// ends.
fn edges(points: &[f64]) -> Vec<f64> {
    let n = points.len();
    let mut edges = Vec::with_capacity(n + 1);
    edges.push(points[0] - 0.5 * (points[1] - points[0]));
    for w in points.windows(2) {
        edges.push(0.5 * (w[0] + w[1]));
    }
    edges.push(points[n - 1] + 0.5 * (points[n - 1] - points[n - 2]));
    edges
}

/// The smallest and largest finite values (a unit interval around a constant field, and
/// `(0, 1)` when none is finite).
fn finite_range(values: &[f64]) -> (f64, f64) {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// The viridis colour of `v` on the scale `(lo, hi)`.
fn colour(v: f64, (lo, hi): (f64, f64)) -> RGBColor {
    if !v.is_finite() {
        return MISSING;
    }
    let h = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
    ViridisRGB.get_color_normalized(h as f32, 0.0, 1.0)
}

fn draw_map(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    field: &Field,
    (x_name, x_edges): (&str, &[f64]),
    (y_name, y_edges): (&str, &[f64]),
    range: (f64, f64),
) -> Result<(), String> {
    let (x0, x1) = (x_edges[0], x_edges[x_edges.len() - 1]);
    let (y0, y1) = (y_edges[0], y_edges[y_edges.len() - 1]);
    let mut chart = ChartBuilder::on(area)
        .caption(&field.name, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(drawing_failed)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(x_name)
        .y_desc(y_name)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(drawing_failed)?;
    let ny = y_edges.len() - 1;
    let cells = field.values.iter().enumerate().map(|(k, &v)| {
        let (i, j) = (k / ny, k % ny);
        Rectangle::new(
            [(x_edges[i], y_edges[j]), (x_edges[i + 1], y_edges[j + 1])],
            colour(v, range).filled(),
        )
    });
    chart.draw_series(cells).map_err(drawing_failed)?;
    Ok(())
}

/// The colour bar: the scale from `lo` (bottom) to `hi` (top), labelled.
fn draw_bar(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    (lo, hi): (f64, f64),
) -> Result<(), String> {
    const STEPS: usize = 64;
    let mut chart = ChartBuilder::on(area)
        .margin_top(42)
        .margin_bottom(56)
        .margin_right(8)
        .y_label_area_size(0)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(drawing_failed)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(drawing_failed)?;
    let step = (hi - lo) / STEPS as f64;
    let bands = (0..STEPS).map(|k| {
        let v0 = lo + step * k as f64;
        Rectangle::new(
            [(0.0, v0), (1.0, v0 + step)],
            colour(v0 + 0.5 * step, (lo, hi)).filled(),
        )
    });
    chart.draw_series(bands).map_err(drawing_failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_one_cell_per_grid_point_with_its_colour() {
        let xs = [0.0, 0.5, 1.0];
        let ys = [0.0, 1.0];
        let values: Vec<f64> = (0..6).map(f64::from).collect();
        let fields = [Field {
            name: "u".into(),
            values,
        }];
        let svg = heatmap_svg("field", ("x", &xs), ("y", &ys), &fields).unwrap();
        // The lowest value is viridis' first colour, the highest its last.
        let first = ViridisRGB.get_color_normalized(0.0, 0.0, 1.0);
        let last = ViridisRGB.get_color_normalized(1.0, 0.0, 1.0);
        for c in [first, last] {
            let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
            assert!(svg.contains(&hex), "{hex} missing");
        }
        for label in ["u", "x", "y"] {
            assert!(
                svg.contains(&format!(">\n{label}\n</text>")),
                "{label} missing"
            );
        }
        // 6 cells and 64 colour-bar bands, each a filled rectangle.
        assert!(svg.matches("<rect").count() >= 6 + 64);
    }

    #[test]
    fn grids_and_fields_that_do_not_fit_are_refused() {
        let one = Field {
            name: "u".into(),
            values: vec![1.0; 4],
        };
        let err = heatmap_svg("f", ("x", &[0.0]), ("y", &[0.0, 1.0]), &[one]).unwrap_err();
        assert!(err.contains("at least two grid points"), "{err}");
        let short = Field {
            name: "u".into(),
            values: vec![1.0; 3],
        };
        let err = heatmap_svg("f", ("x", &[0.0, 1.0]), ("y", &[0.0, 1.0]), &[short]).unwrap_err();
        assert!(err.contains("has 3 values but the grid has 4"), "{err}");
    }

    #[test]
    fn cells_reach_halfway_to_the_neighbours() {
        assert_eq!(edges(&[0.0, 1.0, 3.0]), [-0.5, 0.5, 2.0, 4.0]);
        assert_eq!(finite_range(&[f64::NAN, 2.0, 2.0]), (1.5, 2.5));
    }
}
