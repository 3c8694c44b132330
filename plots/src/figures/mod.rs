//! The figures: each module turns part of a results directory into one figure, drawn once
//! per backend (PNG and SVG) by [`render`].
//!
//! Shared conventions:
//! - one colour per configuration, by its index in the results (the same in every figure);
//! - text sized for a report (figures are 1200 × 700 px, shown at about 800 px wide);
//! - every axis says its unit; legends name configurations by their axis values.

mod bars;
mod grid;
mod percentiles;
mod stacked;
mod timeline;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

pub(crate) use bars::{Bar, BarChart, BarGroup};
pub(crate) use grid::Grid;
pub(crate) use percentiles::{Panels, PercentileChart, PercentileSeries};
pub(crate) use stacked::{Stack, StackedChart};
#[cfg(test)]
pub(crate) use timeline::segments;
pub(crate) use timeline::{Marker, Timeline, TimelineSeries};

/// Figure size in pixels.
pub(crate) const SIZE: (u32, u32) = (1200, 700);
/// The font family every figure uses (registered from the embedded DejaVu Sans).
pub(crate) const FONT: &str = "sans-serif";
/// Title text size.
pub(crate) const TITLE: u32 = 32;
/// Axis description size.
pub(crate) const DESC: u32 = 24;
/// Tick label and legend size.
pub(crate) const LABEL: u32 = 20;

static FONT_DATA: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the embedded font with plotters (once per process).
pub(crate) fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, FONT_DATA).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::format("assets/DejaVuSans.ttf", "embedded font cannot be parsed"))
    }
}

/// Tableau's ten colours: distinguishable, and readable on white.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of configuration `index` (cycles after ten).
pub(crate) fn color(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The same colour as [`color`] as CSS `#rrggbb`.
pub(crate) fn css_color(index: usize) -> String {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A text style in the embedded font.
pub(crate) fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// A latency unit chosen so that numbers stay readable: divisor from µs and its name.
pub(crate) fn latency_unit(max_us: f64) -> (f64, &'static str) {
    if max_us >= 20_000.0 {
        (1000.0, "ms")
    } else {
        (1.0, "µs")
    }
}

/// A throughput unit: divisor from ops/s and its name.
pub(crate) fn throughput_unit(max: f64) -> (f64, &'static str) {
    if max >= 20_000.0 {
        (1000.0, "kops/s")
    } else {
        (1.0, "ops/s")
    }
}

/// Compact number formatting for tick labels.
pub(crate) fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 || (a >= 1.0 && (v - v.round()).abs() < 1e-9) {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Something that can draw itself on any plotters backend.
pub(crate) trait Draw {
    /// Draws the figure on `root`, which is already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// A figure with, when there is one, a second beside it (each on half the width).
pub(crate) struct SideBySide<A, B>(pub A, pub Option<B>);

impl<A: Draw, B: Draw> Draw for SideBySide<A, B> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let Some(second) = &self.1 else { return self.0.draw(root) };
        let (w, _) = root.dim_in_pixel();
        let (left, right) = root.split_horizontally(w / 2);
        self.0.draw(&left)?;
        second.draw(&right)
    }
}

/// The result of drawing: plotters' errors flattened to text.
pub(crate) type DrawResult = std::result::Result<(), String>;

/// Converts a plotters error to text.
pub(crate) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Draws `figure` into `dir/<stem>.png` and `dir/<stem>.svg`; returns both paths.
pub(crate) fn render(dir: &Path, stem: &str, figure: &impl Draw) -> Result<[PathBuf; 2]> {
    register_font()?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        let plot_error = |message: String| Error::Plot { path: png.clone(), message };
        root.fill(&WHITE).map_err(|e| plot_error(err(e)))?;
        figure.draw(&root).map_err(plot_error)?;
        root.present().map_err(|e| plot_error(err(e)))?;
    }
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        let plot_error = |message: String| Error::Plot { path: svg.clone(), message };
        root.fill(&WHITE).map_err(|e| plot_error(err(e)))?;
        figure.draw(&root).map_err(plot_error)?;
        root.present().map_err(|e| plot_error(err(e)))?;
    }
    Ok([png, svg])
}

/// A linear f64 axis whose ticks sit exactly at `keys` (group centres, labelled percentiles),
/// labelled by the chart's formatter.
#[derive(Clone)]
pub(crate) struct KeyedAxis {
    /// The range shown.
    pub range: std::ops::Range<f64>,
    /// Where the ticks go.
    pub keys: Vec<f64>,
}

impl plotters::coord::ranged1d::Ranged for KeyedAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let share = if span > 0.0 { (value - self.range.start) / span } else { 0.0 };
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}
