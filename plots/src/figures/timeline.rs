//! Values over time, one line per configuration, with event markers (faults, leader changes).
//!
//! Points are one second apart; where seconds are missing the line breaks (nothing is drawn
//! across a second without data), and a point with no neighbour is drawn as a dot.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, err, text, tick, Draw, DrawResult, DESC, LABEL, TITLE};

/// One configuration's line.
pub(crate) struct TimelineSeries {
    /// Legend text.
    pub label: String,
    /// Configuration index (colour).
    pub config: usize,
    /// `(second, value)`, ascending; a missing second breaks the line.
    pub points: Vec<(f64, f64)>,
}

/// The runs of consecutive seconds in `points` (ascending): a gap of more than one second
/// starts a new run.
pub(crate) fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    for &p in points {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|q| p.0 - q.0 <= 1.0 + 1e-9) => run.push(p),
            _ => out.push(vec![p]),
        }
    }
    out
}

/// A vertical marker at one second.
pub(crate) struct Marker {
    /// Configuration index (colour).
    pub config: usize,
    /// When.
    pub second: f64,
    /// What (`leader-change`, `partition`, ...).
    pub kind: String,
}

/// A time-series chart.
pub(crate) struct Timeline {
    /// Title.
    pub title: String,
    /// Y axis description with unit.
    pub y_desc: String,
    /// The lines.
    pub series: Vec<TimelineSeries>,
    /// Event markers.
    pub markers: Vec<Marker>,
}

impl Draw for Timeline {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let points = self.series.iter().flat_map(|s| s.points.iter());
        let (x_max, y_max) = points.fold((1.0f64, 0.0f64), |(x, y), p| (x.max(p.0), y.max(p.1)));
        let x_max = self.markers.iter().map(|m| m.second).fold(x_max, f64::max);
        let y_top = if y_max > 0.0 { y_max * 1.25 } else { 1.0 };
        let mut ctx = ChartBuilder::on(root)
            .caption(&self.title, text(TITLE))
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(0.0..x_max, 0.0..y_top)
            .map_err(err)?;
        let y_label = |y: &f64| tick(*y);
        ctx.configure_mesh()
            .x_desc("time since measurement start (s)")
            .y_desc(&self.y_desc)
            .y_label_formatter(&y_label)
            .label_style(text(LABEL))
            .axis_desc_style(text(DESC))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.15))
            .draw()
            .map_err(err)?;
        for s in &self.series {
            let c = color(s.config);
            let runs = segments(&s.points);
            for (i, run) in runs.iter().enumerate() {
                let drawn = if run.len() == 1 {
                    ctx.draw_series(run.iter().map(|&p| Circle::new(p, 4, c.filled())))
                        .map_err(err)?
                } else {
                    ctx.draw_series(LineSeries::new(run.clone(), c.stroke_width(3))).map_err(err)?
                };
                // One legend entry per configuration.
                if i == 0 {
                    drawn.label(&s.label).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3))
                    });
                }
            }
        }
        for m in &self.markers {
            let c = color(m.config);
            ctx.draw_series(DashedLineSeries::new(
                vec![(m.second, 0.0), (m.second, y_top)],
                8,
                6,
                c.stroke_width(2),
            ))
            .map_err(err)?;
            ctx.draw_series(std::iter::once(Text::new(
                m.kind.clone(),
                (m.second, y_top * 0.97),
                text(LABEL - 4),
            )))
            .map_err(err)?;
        }
        if !self.series.is_empty() {
            ctx.configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font(text(LABEL))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn missing_seconds_break_the_line() {
        let points = [(0.0, 5.0), (1.0, 0.0), (2.0, 4.0), (4.0, 3.0), (6.0, 1.0), (7.0, 2.0)];
        let runs = segments(&points);
        let starts: Vec<Vec<f64>> = runs.iter().map(|r| r.iter().map(|p| p.0).collect()).collect();
        assert_eq!(starts, vec![vec![0.0, 1.0, 2.0], vec![4.0], vec![6.0, 7.0]]);
        assert!(segments(&[]).is_empty());
    }
}
