//! kvlab's figures, reports and run comparison.
//!
//! Everything here reads a results directory written by the harness (`kvlab run`,
//! `kvlab suite`) and nothing else: the crate does not depend on the store.
//!
//! - [`plot`] draws the figures into `DIR/plots/` (PNG and SVG);
//! - [`report`] writes `DIR/report.md` and a self-contained `DIR/report.html`;
//! - [`compare`] matches the configurations of two results directories and says, per metric,
//!   whether B differs from A beyond noise.
//!
//! Text in figures uses DejaVu Sans, embedded in the crate (`assets/`), so drawing needs no
//! system font libraries.
//!
//! ```no_run
//! use std::path::Path;
//!
//! # fn main() -> kvlab_plots::Result<()> {
//! let dir = Path::new("results/quick/2026-11-26T04-00-00Z");
//! let figures = kvlab_plots::plot(dir)?; // DIR/plots/*.png and *.svg
//! let html = kvlab_plots::report(dir)?; // DIR/report.md and DIR/report.html
//! println!("{} figures, report at {}", figures.len(), html.display());
//!
//! let cmp = kvlab_plots::compare(Path::new("results/base"), dir)?;
//! println!("{cmp}"); // one line per configuration, op and metric
//! let page = cmp.write_html(None)?; // DIR/compare.html (B's directory)
//! if cmp.regressions().next().is_some() {
//!     eprintln!("regressions: see {}", page.display());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Input files and their columns are described in `results/README.md`; `run.json` and
//! `summary.csv` are required, every other file is optional and its figures are skipped when it
//! is absent. Bad input is an [`Error`] naming the file (and line and column for CSV), never a
//! panic.

mod compare;
mod error;
mod figures;
mod findings;
mod hlog;
mod html;
mod metric;
mod plot;
mod report;
mod results;
mod stats;
mod table;

pub use compare::{compare, compare_with, Change, CompareOptions, Comparison, Verdict};
pub use error::{Error, Result};
pub use plot::plot;
pub use report::report;
