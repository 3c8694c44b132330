//! Live progress: an indicatif bar with throughput and p99 on a terminal, YCSB-like status
//! lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::measure::{us, Collector};
use crate::runner::Phase;

/// Where progress goes.
pub struct Progress {
    mode: Mode,
    status_every: Duration,
    phase: Phase,
    label: String,
    next_status: Duration,
    bar: Option<ProgressBar>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Quiet,
}

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
        let summary = || -> Option<String> {
            let (_, stats) = collector.latest.as_ref()?;
            let all = stats.overall()?;
            let ops = all.ok();
            Some(format!(
                "{} current ops/sec; p99 {:.1} us; errors {}",
                ops,
                us(all.service.value_at_quantile(0.99)),
                all.failed()
            ))
        };
        match self.mode {
            Mode::Quiet => {}
            Mode::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(elapsed.as_secs());
                    if let Some(text) = summary() {
                        bar.set_message(text);
                    }
                    bar.tick();
                }
            }
            Mode::Lines => {
                if elapsed >= self.next_status {
                    self.next_status += self.status_every;
                    let done: u64 = collector.totals.ok();
                    eprintln!(
                        "{} {} {} sec: {} operations; {}",
                        self.label,
                        self.phase.as_str(),
                        elapsed.as_secs(),
                        done,
                        summary().unwrap_or_else(|| "warming up".to_string())
                    );
                }
            }
        }
    }

    /// The phase ended.
    pub fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
