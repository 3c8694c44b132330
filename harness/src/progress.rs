//! Live progress: an indicatif bar with throughput and p99 on a terminal, YCSB-like status
//! lines otherwise.
//!
//! The operation count and the current rate come from the same numbers: the completed
//! operations the client threads have reported (warm-up included), and the rate is their
//! increase over the time since the previous line (over the last second or more for the bar),
//! as YCSB's status thread computes it. A stalled store therefore shows 0 current ops/sec at
//! once, not the last second that had completions. The p99 is the latest complete second's.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::measure::{us, Collector, Counts};
use crate::runner::Phase;

/// Where progress goes.
pub struct Progress {
    mode: Mode,
    status_every: Duration,
    phase: Phase,
    label: String,
    next_status: Duration,
    bar: Option<ProgressBar>,
    /// The counts at the start of the current rate's window, and when that was.
    window: (Duration, Counts),
    /// The rate and failures over the last window the bar finished.
    bar_rate: Option<(f64, u64)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Quiet,
}

/// The shortest window the bar computes its rate over.
const BAR_WINDOW: Duration = Duration::from_secs(1);

impl Progress {
    /// Progress for a terminal or a log, chosen by whether stderr is a terminal.
    pub fn new(status_every: Duration, label: impl Into<String>) -> Self {
        let mode = if std::io::stderr().is_terminal() { Mode::Bar } else { Mode::Lines };
        Progress {
            mode,
            status_every,
            phase: Phase::Run,
            label: label.into(),
            next_status: status_every,
            bar: None,
            window: (Duration::ZERO, Counts::default()),
            bar_rate: None,
        }
    }

    /// No output at all (tests).
    pub fn quiet() -> Self {
        Progress { mode: Mode::Quiet, ..Progress::new(Duration::from_secs(10), "") }
    }

    /// A phase starts.
    pub fn begin(&mut self, phase: Phase, duration: Option<Duration>) {
        self.phase = phase;
        self.next_status = self.status_every;
        self.window = (Duration::ZERO, Counts::default());
        self.bar_rate = None;
        if self.mode == Mode::Bar {
            let bar = match duration {
                Some(d) => ProgressBar::new(d.as_secs().max(1)),
                None => ProgressBar::new_spinner(),
            };
            let template = if duration.is_some() {
                "{prefix} [{bar:30}] {pos}/{len}s {msg}"
            } else {
                "{prefix} {spinner} {elapsed} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(format!("{} {}", self.label, phase.as_str()));
            self.bar = Some(bar);
        }
    }

    /// Called a few times a second with the collector's state.
    pub fn update(&mut self, elapsed: Duration, collector: &Collector) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Bar => {
                if elapsed.saturating_sub(self.window.0) >= BAR_WINDOW {
                    self.bar_rate = Some(self.advance(elapsed, collector));
                }
                let text = self.bar_rate.map(|(rate, failed)| {
                    format!("{rate:.0} current ops/sec; {failed} errors; {}", p99(collector))
                });
                if let Some(bar) = &self.bar {
                    bar.set_position(elapsed.as_secs());
                    if let Some(text) = text {
                        bar.set_message(text);
                    }
                    bar.tick();
                }
            }
            Mode::Lines => {
                if elapsed >= self.next_status {
                    self.next_status += self.status_every;
                    eprintln!("{}", self.status_line(elapsed, collector));
                }
            }
        }
    }

    /// Moves the rate's window to `elapsed`: the completions per second and the failures
    /// since the window's start.
    fn advance(&mut self, elapsed: Duration, collector: &Collector) -> (f64, u64) {
        let now = collector.live();
        let (since, before) = std::mem::replace(&mut self.window, (elapsed, now));
        let secs = elapsed.saturating_sub(since).as_secs_f64();
        let done = now.completed.saturating_sub(before.completed);
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        (rate, now.failed.saturating_sub(before.failed))
    }

    /// The status line at `elapsed` since the phase start: operations completed so far,
    /// completions per second and failures since the previous line, and the p99 of the latest
    /// complete second; `warm-up` while the warm-up lasts.
    pub fn status_line(&mut self, elapsed: Duration, collector: &Collector) -> String {
        let (rate, failed) = self.advance(elapsed, collector);
        let warmup = if elapsed <= collector.warmup() { " (warm-up)" } else { "" };
        format!(
            "{} {} {} sec: {} operations; {rate:.0} current ops/sec; {failed} errors; {}{warmup}",
            self.label,
            self.phase.as_str(),
            elapsed.as_secs(),
            self.window.1.completed,
            p99(collector),
        )
    }

    /// The phase ended.
    pub fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `p99 12.3 us in second 4` for the latest complete second (counted from the phase start).
fn p99(collector: &Collector) -> String {
    match &collector.latest {
        Some((interval, stats)) => match stats.overall().filter(|s| s.completed() > 0) {
            Some(all) => format!(
                "p99 {:.1} us in second {interval}",
                us(all.completed_latencies().service.value_at_quantile(0.99))
            ),
            None => format!("no completions in second {interval}"),
        },
        None => "no second complete yet".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::{OpError, Served};
    use crate::measure::ThreadRecorder;
    use kvlab_workloads::OpKind;
    use std::time::Instant;

    fn lines(label: &str) -> Progress {
        Progress { mode: Mode::Lines, ..Progress::new(Duration::from_secs(2), label) }
    }

    #[test]
    fn a_status_line_counts_what_its_rate_counts() {
        // 2 s of warm-up at 38 616 ops/s on one thread, then a 2 s outage with nothing done,
        // then 1000 completions and 3 failures.
        let (tx, rx) = Collector::channel();
        let start = Instant::now();
        let mut collector = Collector::new(1, Duration::from_secs(2));
        let mut t = ThreadRecorder::new(0, start, false, tx);
        let ok = Ok(Served::default());
        let n = 2 * 38_616u64;
        let us = Duration::from_micros;
        for i in 0..n {
            t.record(OpKind::Read, start + Duration::from_nanos(i * 25_896), us(20), None, &ok);
        }
        let collect = |collector: &mut Collector| {
            for report in rx.try_iter() {
                collector.accept(report);
            }
        };
        collect(&mut collector);
        let mut progress = lines("quick");
        progress.begin(Phase::Run, Some(Duration::from_secs(10)));
        let line = progress.status_line(Duration::from_secs(2), &collector);
        assert!(
            line.starts_with("quick run 2 sec: 77232 operations; 38616 current ops/sec; 0 errors;"),
            "{line}"
        );
        assert!(line.ends_with("(warm-up)"), "{line}");
        // Nothing completes in seconds 2 to 4: nothing is current.
        let line = progress.status_line(Duration::from_secs(4), &collector);
        assert!(
            line.starts_with("quick run 4 sec: 77232 operations; 0 current ops/sec; 0 errors;"),
            "{line}"
        );
        assert!(!line.contains("warm-up"), "{line}");
        let failed = Err(OpError::new("timeout", String::new()));
        for i in 0..1000 {
            t.record(OpKind::Read, start + Duration::from_millis(5000 + i), us(20), None, &ok);
        }
        for _ in 0..3 {
            t.record(OpKind::Read, start + Duration::from_millis(5999), us(900), None, &failed);
        }
        collect(&mut collector);
        let line = progress.status_line(Duration::from_secs(6), &collector);
        assert!(
            line.starts_with("quick run 6 sec: 78232 operations; 500 current ops/sec; 3 errors;"),
            "{line}"
        );
        // The thread is in interval 5: interval 4 is final, and had nothing.
        assert!(line.ends_with("no completions in second 4"), "{line}");
    }
}
