//! The metrics that comparisons judge — `kvlab compare` and a suite's findings — with their
//! direction (whether higher is better) and where `summary.csv` keeps them.

use crate::results::SummaryRow;

/// A metric of one operation kind's service latency row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metric {
    /// Operations per second.
    Throughput,
    /// Median service latency.
    P50,
    /// 99th percentile service latency.
    P99,
    /// 99.9th percentile service latency.
    P999,
}

impl Metric {
    /// The metrics `kvlab compare` judges.
    pub const COMPARED: [Metric; 3] = [Metric::Throughput, Metric::P50, Metric::P99];

    /// The metric spelled as in suite files and `run.json` (`throughput`, `p50`, `p99`,
    /// `p99.9`).
    pub fn parse(name: &str) -> Option<Metric> {
        match name {
            "throughput" => Some(Metric::Throughput),
            "p50" => Some(Metric::P50),
            "p99" => Some(Metric::P99),
            "p99.9" => Some(Metric::P999),
            _ => None,
        }
    }

    /// Its name, as [`Metric::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
        }
    }

    /// Its unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Throughput => "ops/s",
            _ => "µs",
        }
    }

    /// Whether a larger value is better for the system under test.
    pub fn higher_is_better(self) -> bool {
        self == Metric::Throughput
    }

    /// Its value in a `summary.csv` row.
    pub fn of(self, row: &SummaryRow) -> f64 {
        match self {
            Metric::Throughput => row.throughput,
            Metric::P50 => row.percentiles[0],
            Metric::P99 => row.percentiles[3],
            Metric::P999 => row.percentiles[4],
        }
    }
}

/// Which way an interval of a ratio lies from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The whole interval is above 1.
    Higher,
    /// The whole interval is below 1.
    Lower,
    /// The interval includes 1.
    Same,
    /// No interval (fewer than two repetitions on a side).
    Unknown,
}

/// Where the 95 % interval of a ratio lies.
pub(crate) fn direction(ci: Option<(f64, f64)>) -> Direction {
    match ci {
        Some((lo, _)) if lo > 1.0 => Direction::Higher,
        Some((_, hi)) if hi < 1.0 => Direction::Lower,
        Some(_) => Direction::Same,
        None => Direction::Unknown,
    }
}
