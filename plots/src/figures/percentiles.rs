//! Percentile spectra: x is the percentile on a 1/(1−p) log scale (50 %, 90 %, 99 %, 99.9 %,
//! 99.99 %), y the value on a log scale; one line per configuration.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, err, text, tick, Draw, DrawResult, KeyedAxis, DESC, LABEL, TITLE};

/// The x position of percentile `p` (in %): `log10(1 / (1 − p))`.
pub(crate) fn x_of(percentile: f64) -> f64 {
    let tail = (1.0 - percentile / 100.0).max(1e-9);
    (1.0 / tail).log10()
}

/// The labelled percentiles.
const TICKS: [(f64, &str); 5] =
    [(50.0, "50 %"), (90.0, "90 %"), (99.0, "99 %"), (99.9, "99.9 %"), (99.99, "99.99 %")];

/// One configuration's line.
pub(crate) struct PercentileSeries {
    /// Legend text.
    pub label: String,
    /// Configuration index (colour).
    pub config: usize,
    /// `(percentile in %, value)`, ascending percentile; values must be positive.
    pub points: Vec<(f64, f64)>,
}

/// One panel of percentile spectra.
pub(crate) struct PercentileChart {
    /// Title above the panel.
    pub title: String,
    /// Y axis description, with its unit.
    pub y_desc: String,
    /// The lines.
    pub series: Vec<PercentileSeries>,
}

impl PercentileChart {
    /// The highest percentile shown: 99.99 % unless every line stops earlier.
    fn max_percentile(&self) -> f64 {
        let top =
            self.series.iter().filter_map(|s| s.points.last().map(|p| p.0)).fold(0.0, f64::max);
        top.clamp(99.0, 99.99)
    }
}

impl Draw for PercentileChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        draw_panel(root, self)
    }
}

/// Several panels side by side.
pub(crate) struct Panels(pub Vec<PercentileChart>);

impl Draw for Panels {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let areas = root.split_evenly((1, self.0.len().max(1)));
        for (area, chart) in areas.iter().zip(&self.0) {
            draw_panel(area, chart)?;
        }
        Ok(())
    }
}

/// The y range for values from `lo` to `hi` (positive) on a log axis: a margin around them,
/// widened to a power of ten at each end when they span less than a decade, so that the axis
/// has labelled ticks (failures that all took about their timeout span almost nothing).
fn y_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = (lo * 0.8, hi * 1.25);
    if hi / lo >= 10.0 {
        return (lo, hi);
    }
    (10f64.powf(lo.log10().floor()), 10f64.powf(hi.log10().ceil()))
}

fn draw_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &PercentileChart,
) -> DrawResult {
    let values =
        chart.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if hi <= 0.0 { (1.0, 10.0) } else { y_range(lo, hi) };
    let x_max = x_of(chart.max_percentile()) + 0.05;
    let x_min = x_of(50.0) - 0.05;
    let keys: Vec<f64> = TICKS.iter().map(|t| x_of(t.0)).filter(|x| *x <= x_max).collect();
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, text(TITLE))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(KeyedAxis { range: x_min..x_max, keys }, (lo..hi).log_scale())
        .map_err(err)?;
    let x_label = |x: &f64| {
        TICKS
            .iter()
            .find(|t| (x_of(t.0) - x).abs() < 1e-6)
            .map_or_else(String::new, |t| t.1.to_string())
    };
    let y_label = |y: &f64| tick(*y);
    ctx.configure_mesh()
        .x_desc("percentile")
        .y_desc(&chart.y_desc)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(text(LABEL))
        .axis_desc_style(text(DESC))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.15))
        .draw()
        .map_err(err)?;
    for s in &chart.series {
        let c = color(s.config);
        let points: Vec<(f64, f64)> =
            s.points.iter().filter(|p| p.1 > 0.0).map(|&(p, v)| (x_of(p), v)).collect();
        let dots = points.len() <= 8;
        ctx.draw_series(LineSeries::new(points.clone(), c.stroke_width(3)))
            .map_err(err)?
            .label(&s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
        if dots {
            ctx.draw_series(points.iter().map(|&p| Circle::new(p, 5, c.filled()))).map_err(err)?;
        }
    }
    if !chart.series.is_empty() {
        ctx.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(text(LABEL))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::y_range;

    #[test]
    fn a_narrow_range_reaches_its_decades() {
        assert_eq!(y_range(300.0, 305.0), (100.0, 1000.0));
        assert_eq!(y_range(10.0, 1000.0), (8.0, 1250.0));
    }
}
