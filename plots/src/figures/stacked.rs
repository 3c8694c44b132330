//! Stacked bars: one bar per configuration, split into parts that add up to its height (where
//! a read spends its time, stage by stage). Parts are coloured by their position, not by the
//! configuration, and the legend names them.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, err, text, tick, Draw, DrawResult, KeyedAxis, DESC, LABEL, TITLE};

/// One bar and its parts, bottom up.
pub(crate) struct Stack {
    /// The x label (the configuration).
    pub label: String,
    /// Part values, in the chart's part order.
    pub parts: Vec<f64>,
}

/// A stacked bar chart.
pub(crate) struct StackedChart {
    /// Title.
    pub title: String,
    /// X axis description.
    pub x_desc: String,
    /// Y axis description with unit.
    pub y_desc: String,
    /// Part names, bottom up (the legend).
    pub part_names: Vec<String>,
    /// The bars, left to right.
    pub stacks: Vec<Stack>,
}

impl Draw for StackedChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let n = self.stacks.len().max(1) as f64;
        let top = self.stacks.iter().map(|s| s.parts.iter().sum::<f64>()).fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.35 } else { 1.0 };
        let centres: Vec<f64> = (0..self.stacks.len()).map(|i| i as f64).collect();
        let mut ctx = ChartBuilder::on(root)
            .caption(&self.title, text(TITLE))
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(KeyedAxis { range: -0.6..n - 0.4, keys: centres.clone() }, 0.0..top)
            .map_err(err)?;
        let x_label = |x: &f64| {
            centres
                .iter()
                .zip(&self.stacks)
                .find(|(c, _)| (*c - x).abs() < 1e-6)
                .map_or_else(String::new, |(_, s)| s.label.clone())
        };
        let y_label = |y: &f64| tick(*y);
        // Bars are narrow: their labels a little smaller than elsewhere.
        let label_size = if self.stacks.len() > 4 { LABEL * 4 / 5 } else { LABEL };
        ctx.configure_mesh()
            .disable_x_mesh()
            .x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(text(label_size))
            .axis_desc_style(text(DESC))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.15))
            .draw()
            .map_err(err)?;
        for (part, name) in self.part_names.iter().enumerate() {
            let c = color(part);
            let rects: Vec<Rectangle<(f64, f64)>> = self
                .stacks
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let below: f64 = s.parts.iter().take(part).sum();
                    let value = *s.parts.get(part)?;
                    let x = i as f64;
                    Some(Rectangle::new([(x - 0.35, below), (x + 0.35, below + value)], c.filled()))
                })
                .collect();
            ctx.draw_series(rects)
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 8), (x + 20, y + 8)], c.filled()));
        }
        ctx.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(text(LABEL))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}
