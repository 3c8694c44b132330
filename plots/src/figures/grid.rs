//! The engine comparison grid: engine (or preset) × workload, each cell the mean throughput
//! with its interval, shaded from the worst to the best engine for that workload.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{err, text, tick, Draw, DrawResult, KeyedAxis, DESC, LABEL, TITLE};

/// One cell: the mean and its interval half-width.
pub(crate) type Cell = (f64, Option<f64>);

/// An engine × workload grid.
pub(crate) struct Grid {
    /// Title.
    pub title: String,
    /// The row axis (engines, top to bottom).
    pub row_desc: String,
    /// The column axis (workloads, left to right).
    pub col_desc: String,
    /// Row labels.
    pub rows: Vec<String>,
    /// Column labels.
    pub cols: Vec<String>,
    /// `cells[row][col]`, when measured.
    pub cells: Vec<Vec<Option<Cell>>>,
    /// The cells' unit.
    pub unit: String,
}

impl Draw for Grid {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (nr, nc) = (self.rows.len().max(1) as f64, self.cols.len().max(1) as f64);
        let col_keys: Vec<f64> = (0..self.cols.len()).map(|i| i as f64 + 0.5).collect();
        let row_keys: Vec<f64> = (0..self.rows.len()).map(|i| i as f64 + 0.5).collect();
        let mut ctx = ChartBuilder::on(root)
            .caption(&self.title, text(TITLE))
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(160)
            .build_cartesian_2d(
                KeyedAxis { range: 0.0..nc, keys: col_keys },
                KeyedAxis { range: 0.0..nr, keys: row_keys },
            )
            .map_err(err)?;
        let label_of = |labels: &[String], v: f64| {
            labels.get((v - 0.5).round().max(0.0) as usize).cloned().unwrap_or_default()
        };
        let x_label = |x: &f64| label_of(&self.cols, *x);
        // Row 0 is drawn at the top.
        let y_label = |y: &f64| label_of(&self.rows, nr - *y);
        ctx.configure_mesh()
            .disable_mesh()
            .x_desc(&self.col_desc)
            .y_desc(&self.row_desc)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(text(LABEL))
            .axis_desc_style(text(DESC))
            .draw()
            .map_err(err)?;
        let centre = Pos::new(HPos::Center, VPos::Center);
        for c in 0..self.cols.len() {
            let values: Vec<f64> = self
                .cells
                .iter()
                .filter_map(|row| row.get(c).copied().flatten())
                .map(|v| v.0)
                .collect();
            let best = values.iter().copied().fold(0.0f64, f64::max);
            let worst = values.iter().copied().fold(f64::MAX, f64::min);
            for (r, row) in self.cells.iter().enumerate() {
                let (x, y) = (c as f64, nr - 1.0 - r as f64);
                let cell = row.get(c).copied().flatten();
                // Shade from light (the column's worst) to saturated (its best).
                let share = match cell {
                    Some((v, _)) if best > worst => 0.2 + 0.8 * (v - worst) / (best - worst),
                    Some(_) => 1.0,
                    None => 0.0,
                };
                let mix = |full: f64| (255.0 - (255.0 - full) * share).round() as u8;
                let fill = RGBColor(mix(31.0), mix(119.0), mix(180.0));
                ctx.draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.02, y + 0.02), (x + 0.98, y + 0.98)],
                    fill.filled(),
                )))
                .map_err(err)?;
                let ink = if share > 0.6 { WHITE } else { BLACK };
                let line1 = match cell {
                    Some((v, _)) => format!("{} {}", tick(v), self.unit),
                    None => "not measured".into(),
                };
                let line2 = match cell {
                    Some((_, Some(ci))) => format!("± {}", tick(ci)),
                    Some((v, None)) if best > 0.0 => format!("{:.0} % of best", 100.0 * v / best),
                    _ => String::new(),
                };
                let style = text(LABEL).color(&ink).pos(centre);
                ctx.draw_series([
                    Text::new(line1, (x + 0.5, y + 0.58), style.clone()),
                    Text::new(line2, (x + 0.5, y + 0.4), style),
                ])
                .map_err(err)?;
            }
        }
        Ok(())
    }
}
