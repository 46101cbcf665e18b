//! The pictures: one SVG per figure, a line per contender against the concurrency (log
//! scale). plotters' SVG backend writes text as `<text>` elements, so no font is needed
//! to draw them and GitHub renders them as they are.

use std::path::Path;

use plotters::prelude::*;

/// One line of a figure: a contender's name and its points (concurrency, value).
pub struct Line<'a> {
    /// The legend.
    pub name: &'a str,
    /// (clients or threads, value), by concurrency.
    pub points: Vec<(f64, f64)>,
    /// Drawn thicker: smartasync's own.
    pub ours: bool,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(127, 127, 127),
];

/// Draws `lines` into the SVG file `path`: `title` on top, `y_label` on the y axis
/// (logarithmic when `log_y`), the concurrency on the x axis.
///
/// # Errors
///
/// If the file cannot be written.
pub fn draw(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    log_y: bool,
    lines: &[Line<'_>],
) -> Result<(), String> {
    let points = || lines.iter().flat_map(|line| line.points.iter());
    let x_max = points().map(|p| p.0).fold(1.0, f64::max) * 1.25;
    let y_max = points()
        .map(|p| p.1)
        .filter(|y| y.is_finite())
        .fold(0.0, f64::max);
    let y_min_positive = points()
        .map(|p| p.1)
        .filter(|y| y.is_finite() && *y > 0.0)
        .fold(f64::INFINITY, f64::min);
    let root = SVGBackend::new(path, (760, 460)).into_drawing_area();
    let error = |e: DrawingAreaErrorKind<_>| format!("{}: {e:?}", path.display());
    root.fill(&WHITE).map_err(error)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    let x_range = (0.8..x_max).log_scale();
    let x_labels = |x: &f64| format!("{x:.0}");
    let concurrency: Vec<f64> = {
        let mut xs: Vec<f64> = points().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    };
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .x_labels(concurrency.len().max(2))
                .x_label_formatter(&x_labels)
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(error)?;
            for (index, line) in lines.iter().enumerate() {
                let color = PALETTE[index % PALETTE.len()];
                let width = if line.ours { 3 } else { 1 };
                let style = color.stroke_width(width);
                let data: Vec<(f64, f64)> = line
                    .points
                    .iter()
                    .copied()
                    .filter(|p| p.1.is_finite() && (!log_y || p.1 > 0.0))
                    .collect();
                chart
                    .draw_series(LineSeries::new(data.clone(), style))
                    .map_err(error)?
                    .label(line.name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                chart
                    .draw_series(
                        data.iter()
                            .map(|&p| Circle::new(p, 3 + width, color.filled())),
                    )
                    .map_err(error)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(error)?;
        }};
    }
    if log_y {
        let low = if y_min_positive.is_finite() {
            y_min_positive / 2.0
        } else {
            0.01
        };
        finish!(
            builder
                .build_cartesian_2d(x_range, (low..(y_max * 3.0).max(low * 10.0)).log_scale())
                .map_err(error)?
        );
    } else {
        finish!(
            builder
                .build_cartesian_2d(x_range, 0.0..(y_max * 1.15).max(1.0))
                .map_err(error)?
        );
    }
    root.present().map_err(error)?;
    Ok(())
}
