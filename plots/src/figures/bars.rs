//! Grouped bar charts with 95 % confidence-interval error bars.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, err, text, tick, Draw, DrawResult, KeyedAxis, DESC, LABEL, TITLE};

/// One bar.
pub(crate) struct Bar {
    /// Configuration index (colour and legend).
    pub config: usize,
    /// Legend text for the configuration.
    pub label: String,
    /// Height.
    pub value: f64,
    /// Half-width of the 95 % interval, when known.
    pub ci: Option<f64>,
}

/// Bars that share an x label (a value of the grouping axis, or a node).
pub(crate) struct BarGroup {
    /// The x label.
    pub label: String,
    /// The bars, left to right.
    pub bars: Vec<Bar>,
}

/// A grouped bar chart.
pub(crate) struct BarChart {
    /// Title.
    pub title: String,
    /// X axis description (the grouping).
    pub x_desc: String,
    /// Y axis description with unit.
    pub y_desc: String,
    /// The groups, left to right.
    pub groups: Vec<BarGroup>,
    /// A logarithmic y axis (for values that span orders of magnitude; `y_desc` says so).
    pub log: bool,
}

const GAP: f64 = 0.8;

impl BarChart {
    /// `(x of each bar's left edge, group centres)`.
    fn layout(&self) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut x = 0.0;
        let mut lefts = Vec::new();
        let mut centres = Vec::new();
        for g in &self.groups {
            let start = x;
            lefts.push(g.bars.iter().enumerate().map(|(i, _)| start + i as f64).collect());
            x += g.bars.len() as f64;
            centres.push((start + x) / 2.0);
            x += GAP;
        }
        (lefts, centres)
    }
}

impl Draw for BarChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (lefts, centres) = self.layout();
        let width = centres.last().map_or(1.0, |_| {
            self.groups.iter().map(|g| g.bars.len() as f64 + GAP).sum::<f64>() - GAP
        });
        let top = self
            .groups
            .iter()
            .flat_map(|g| g.bars.iter().map(|b| b.value + b.ci.unwrap_or(0.0)))
            .fold(0.0f64, f64::max);
        // On a log axis the chart's y is log10 of the value, from the decade below the
        // smallest bar; labels show the values themselves.
        let floor = self
            .groups
            .iter()
            .flat_map(|g| g.bars.iter().map(|b| b.value))
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let floor = if floor.is_finite() { floor.log10().floor() } else { 0.0 };
        let y = |v: f64| if self.log { v.max(10f64.powf(floor)).log10() } else { v };
        let (bottom, top) = match (self.log, top > 0.0) {
            (true, true) => (floor, top.log10() + 0.3),
            (true, false) => (0.0, 1.0),
            (false, true) => (0.0, top * 1.3),
            (false, false) => (0.0, 1.0),
        };
        let mut ctx = ChartBuilder::on(root)
            .caption(&self.title, text(TITLE))
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(
                KeyedAxis { range: -GAP / 2.0..width + GAP / 2.0, keys: centres.clone() },
                bottom..top,
            )
            .map_err(err)?;
        let x_label = |x: &f64| {
            centres
                .iter()
                .zip(&self.groups)
                .find(|(c, _)| (*c - x).abs() < 1e-6)
                .map_or_else(String::new, |(_, g)| g.label.clone())
        };
        let y_label = |v: &f64| if self.log { tick(10f64.powf(*v)) } else { tick(*v) };
        ctx.configure_mesh()
            .disable_x_mesh()
            .x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(text(LABEL))
            .axis_desc_style(text(DESC))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.15))
            .draw()
            .map_err(err)?;
        // One series per configuration, so the legend lists each once.
        let mut configs: Vec<(usize, String)> = Vec::new();
        for b in self.groups.iter().flat_map(|g| &g.bars) {
            if !configs.iter().any(|c| c.0 == b.config) {
                configs.push((b.config, b.label.clone()));
            }
        }
        for (config, label) in &configs {
            let c = color(*config);
            let rects: Vec<Rectangle<(f64, f64)>> = self
                .groups
                .iter()
                .zip(&lefts)
                .flat_map(|(g, l)| g.bars.iter().zip(l))
                .filter(|(b, _)| b.config == *config)
                .map(|(b, &x)| {
                    Rectangle::new([(x + 0.08, bottom), (x + 0.92, y(b.value))], c.filled())
                })
                .collect();
            ctx.draw_series(rects)
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 8), (x + 20, y + 8)], c.filled()));
        }
        let mut whiskers = Vec::new();
        for (g, l) in self.groups.iter().zip(&lefts) {
            for (b, &x) in g.bars.iter().zip(l) {
                let Some(ci) = b.ci else { continue };
                let mid = x + 0.5;
                let (lo, hi) = (y((b.value - ci).max(0.0)), y(b.value + ci));
                whiskers.push(vec![(mid, lo), (mid, hi)]);
                whiskers.push(vec![(mid - 0.15, lo), (mid + 0.15, lo)]);
                whiskers.push(vec![(mid - 0.15, hi), (mid + 0.15, hi)]);
            }
        }
        ctx.draw_series(whiskers.into_iter().map(|w| PathElement::new(w, BLACK.stroke_width(2))))
            .map_err(err)?;
        if !configs.is_empty() {
            ctx.configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font(text(LABEL))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}
