//! `plot`: every figure a results directory has data for, as PNG and SVG in `DIR/plots/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::error::{Error, Result};
use crate::figures::{
    latency_unit, render, throughput_unit, Bar, BarChart, BarGroup, Grid, Marker, Panels,
    PercentileChart, PercentileSeries, SideBySide, Stack, StackedChart, Timeline, TimelineSeries,
};
use crate::hlog;
use crate::results::{outcome_of, outcome_op, NodeRow, Results, SummaryRow, SUMMARY_PERCENTILES};
use crate::stats::{mean, Estimate};

/// One figure written to disk.
#[derive(Clone, Debug)]
pub(crate) struct FigureFile {
    /// File name without extension.
    pub stem: String,
    /// One-line caption for reports.
    pub caption: String,
    /// The PNG.
    pub png: PathBuf,
    /// The SVG.
    pub svg: PathBuf,
}

/// Writes every figure the results have data for into `DIR/plots/`; figures whose data is
/// absent are skipped.
///
/// Figures (file stems): `latency-spectrum-service`, `latency-spectrum-intended`,
/// `latency-spectrum-failed` (failed operations' latencies, when some failed), `throughput`,
/// `p99`, `throughput-over-time`, `p99-over-time`, `nodes-served`, `staleness`,
/// `engine-grid`. Each is written as `<stem>.png` and `<stem>.svg`.
///
/// # Errors
///
/// A missing or malformed results file ([`Error::Missing`], [`Error::Csv`], [`Error::Format`],
/// each naming the file), an output file that cannot be written, or a drawing failure.
pub fn plot(dir: &Path) -> Result<Vec<PathBuf>> {
    let results = Results::load(dir)?;
    Ok(draw_all(&results)?.into_iter().flat_map(|f| [f.png, f.svg]).collect())
}

/// Draws every figure for loaded results.
pub(crate) fn draw_all(results: &Results) -> Result<Vec<FigureFile>> {
    let out = results.dir.join("plots");
    std::fs::create_dir_all(&out).map_err(|e| Error::io("cannot create directory", &out, e))?;
    let hists = hlog::load(results)?;
    let phase = results.main_phase();
    let configs = config_note(results);
    let mut files = Vec::new();
    let mut add =
        |stem: &str, caption: String, figure: &dyn Fn(&Path, &str) -> Result<[PathBuf; 2]>| {
            let [png, svg] = figure(&out, stem)?;
            files.push(FigureFile { stem: stem.to_string(), caption, png, svg });
            Ok::<(), Error>(())
        };
    for latency in ["service", "intended"] {
        let Some(op) = results.overall_op(phase) else { break };
        if let Some((chart, source)) = spectrum(results, &hists, phase, &op, latency) {
            let what = match latency {
                "intended" => {
                    "intended latency (from each operation's scheduled start, so \
                               queueing counts)"
                }
                _ => "service latency",
            };
            let caption = format!(
                "{what} of the completed operations (found or not found): percentile spectrum \
                 of the {phase} phase, one line per configuration ({configs}); from {source}"
            );
            add(&format!("latency-spectrum-{latency}"), caption, &|d, s| render(d, s, &chart))?;
        }
    }
    if let Some(op) = results.overall_op(phase).filter(|_| results.has_outcome(phase, "FAILED")) {
        let failed = outcome_op(&op, "FAILED");
        if let Some((chart, source)) = spectrum(results, &hists, phase, &failed, "service") {
            let caption = format!(
                "service latency of the failed operations (timeouts, unavailable, …), kept apart \
                 from the completed ones: percentile spectrum of the {phase} phase, one line per \
                 configuration that had failures ({configs}); from {source}"
            );
            add("latency-spectrum-failed", caption, &|d, s| render(d, s, &chart))?;
        }
    }
    if let Some(chart) = summary_bars(results, phase, Metric::Throughput) {
        let caption = format!(
            "mean {phase}-phase throughput per configuration ({configs}), error bars: 95 % \
             confidence interval over repetitions"
        );
        add("throughput", caption, &|d, s| render(d, s, &chart))?;
    }
    if let Some(chart) = summary_bars(results, phase, Metric::P99) {
        let caption = format!(
            "mean {phase}-phase p99 service latency per configuration ({configs}), error bars: \
             95 % confidence interval over repetitions"
        );
        add("p99", caption, &|d, s| render(d, s, &chart))?;
    }
    for metric in [Metric::Throughput, Metric::P99] {
        if let Some(chart) = timeline(results, phase, metric) {
            let (stem, what) = match metric {
                Metric::Throughput => ("throughput-over-time", "throughput"),
                Metric::P99 => ("p99-over-time", "p99 latency"),
            };
            let markers = if chart.markers.is_empty() { "" } else { "; dashed lines: events" };
            let gaps = match metric {
                Metric::Throughput => {
                    "a second without completions is drawn at 0; a break in a line is a second \
                     without data"
                }
                Metric::P99 => {
                    "a break in a line is a second without completions (no latency to show), \
                     never a 0"
                }
            };
            let caption = format!(
                "{what} per second of the {phase} phase, one line per configuration \
                 ({configs}): each second the mean over the repetitions that have a value in \
                 it; {gaps}{markers}"
            );
            add(stem, caption, &|d, s| render(d, s, &chart))?;
        }
    }
    if let Some(chart) = nodes(results) {
        let caption = format!(
            "operations served by each store node (left) and, for node processes, each node's \
             CPU seconds in the measured window (right), mean over repetitions, per \
             configuration ({configs}): leader reads pile onto one node, follower and mixed \
             reads spread"
        );
        add("nodes-served", caption, &|d, s| render(d, s, &chart))?;
    }
    if let Some(chart) = staleness(results) {
        let caption = format!(
            "distribution of stale reads' staleness (age and log lag) per configuration \
             ({configs}), quantiles from staleness.csv, mean over repetitions"
        );
        add("staleness", caption, &|d, s| render(d, s, &chart))?;
    }
    if let Some(chart) = stages(results, phase) {
        let caption = format!(
            "where a store read spends its time in the {phase} phase: mean per stage and \
             configuration ({configs}), mean over repetitions, from stages.csv — at the client \
             (routing, failed attempts), on the wire (the rest of the measured latency: request \
             and reply, emulated latency), waiting for the ReadIndex round, waiting for apply, \
             queued for a read pool thread, in the engine; the stages add up to the mean \
             service latency of reads"
        );
        add("read-stages", caption, &|d, s| render(d, s, &chart))?;
    }
    if let Some(chart) = engine_grid(results, phase) {
        let caption = format!(
            "{phase}-phase throughput per {} × {} (mean ± 95 % CI), shaded from the worst to the \
             best in each column",
            chart.row_desc, chart.col_desc
        );
        add("engine-grid", caption, &|d, s| render(d, s, &chart))?;
    }
    Ok(files)
}

/// How legends name configurations, for captions: `read_policy / workload`.
fn config_note(results: &Results) -> String {
    if results.axes.is_empty() {
        "a single run".into()
    } else {
        let names: Vec<&str> =
            results.label_axes().into_iter().map(|i| results.axis_short(i)).collect();
        format!("legend: {}", names.join(" / "))
    }
}

#[derive(Clone, Copy)]
enum Metric {
    Throughput,
    P99,
}

fn spectrum(
    results: &Results,
    hists: &BTreeMap<hlog::HistKey, Histogram<u64>>,
    phase: &str,
    op: &str,
    latency: &str,
) -> Option<(PercentileChart, &'static str)> {
    let mut series: Vec<PercentileSeries> = Vec::new();
    let mut source = "the HdrHistogram interval logs, repetitions merged";
    for (i, config) in results.configs.iter().enumerate() {
        let hist = overall_histogram(hists, (i, phase, op, latency));
        let points: Vec<(f64, f64)> = if let Some(h) = hist.filter(|h| !h.is_empty()) {
            // Percentiles up to the one the sample size supports, 40 per decade.
            let top = (1.0 - 1.0 / h.len() as f64).min(0.9999);
            (0..=160)
                .map(|k| 100.0 * (1.0 - 0.5 * 10f64.powf(-(k as f64) / 40.0)))
                .filter(|p| *p / 100.0 <= top + 1e-12)
                .map(|p| (p, h.value_at_quantile(p / 100.0) as f64 / 1000.0))
                .collect()
        } else {
            let rows = |k: usize| results.samples(i, phase, op, latency, |r| r.percentiles[k]);
            let points: Vec<(f64, f64)> = SUMMARY_PERCENTILES
                .iter()
                .enumerate()
                .filter_map(|(k, &p)| Estimate::of(&rows(k)).map(|e| (p, e.mean)))
                .collect();
            if !points.is_empty() {
                source = "summary.csv's percentiles, mean over repetitions";
            }
            points
        };
        if !points.is_empty() {
            series.push(PercentileSeries { label: config.label.clone(), config: i, points });
        }
    }
    if series.is_empty() {
        return None;
    }
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max);
    let (div, unit) = latency_unit(max);
    for s in &mut series {
        for p in &mut s.points {
            p.1 /= div;
        }
    }
    let title = match outcome_of(op) {
        Some(_) => format!("{latency} latency of failures by percentile ({op})"),
        None => format!("{latency} latency by percentile ({op})"),
    };
    Some((PercentileChart { title, y_desc: format!("latency ({unit})"), series }, source))
}

/// The histogram of `op`; for `ALL` and its outcomes (`ALL-FAILED`), which the harness does not
/// log, the sum of every operation kind's (or of every kind's same outcome).
fn overall_histogram(
    hists: &BTreeMap<hlog::HistKey, Histogram<u64>>,
    (config, phase, op, latency): (usize, &str, &str, &str),
) -> Option<Histogram<u64>> {
    if let Some(h) = hists.get(&(config, phase.to_string(), op.to_string(), latency.to_string())) {
        return Some(h.clone());
    }
    let outcome = outcome_of(op);
    if op.strip_suffix(outcome.unwrap_or("")).map(|o| o.trim_end_matches('-')) != Some("ALL") {
        return None;
    }
    let mut parts = hists.iter().filter(|((c, p, o, l), _)| {
        *c == config && p == phase && l == latency && outcome_of(o) == outcome
    });
    let mut total = parts.next()?.1.clone();
    for (_, h) in parts {
        total.add(h).ok()?;
    }
    Some(total)
}

/// Groups configurations for bar charts: by the first axis's value when there are two or more
/// axes, else one group per configuration.
fn group_configs(results: &Results) -> (String, Vec<(String, Vec<usize>)>) {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    if results.axes.len() >= 2 {
        for (i, c) in results.configs.iter().enumerate() {
            let key = c.values.first().cloned().unwrap_or_default();
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.1.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        (results.axis_short(0).to_string(), groups)
    } else {
        let desc = if results.axes.is_empty() { "run" } else { results.axis_short(0) };
        let groups = results.configs.iter().enumerate().map(|(i, c)| (c.label.clone(), vec![i]));
        (desc.to_string(), groups.collect())
    }
}

fn summary_bars(results: &Results, phase: &str, metric: Metric) -> Option<BarChart> {
    let op = results.overall_op(phase)?;
    let value = |r: &SummaryRow| match metric {
        Metric::Throughput => r.throughput,
        Metric::P99 => r.percentiles[3],
    };
    let (x_desc, grouping) = group_configs(results);
    let mut groups = Vec::new();
    let mut max = 0.0f64;
    for (label, members) in grouping {
        let bars: Vec<Bar> = members
            .into_iter()
            .filter_map(|i| {
                let e = results.estimate(i, phase, &op, "service", value)?;
                max = max.max(e.mean);
                let label = results.configs.get(i).map(|c| c.label.clone()).unwrap_or_default();
                Some(Bar { config: i, label, value: e.mean, ci: e.ci95 })
            })
            .collect();
        if !bars.is_empty() {
            groups.push(BarGroup { label, bars });
        }
    }
    if groups.is_empty() {
        return None;
    }
    let (div, unit, title) = match metric {
        Metric::Throughput => {
            let (d, u) = throughput_unit(max);
            (d, format!("throughput ({u})"), format!("{phase}-phase throughput ({op})"))
        }
        Metric::P99 => {
            let (d, u) = latency_unit(max);
            (d, format!("p99 service latency ({u})"), format!("{phase}-phase p99 latency ({op})"))
        }
    };
    scale_bars(&mut groups, div);
    // Bars that span more than an order of magnitude (the engine alone beside the replicated
    // store) would be slivers on a linear axis.
    let (lo, hi) = groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|b| b.value))
        .filter(|v| *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let log = hi / lo > 10.0;
    let y_desc = if log { format!("{unit}, log scale") } else { unit };
    Some(BarChart { title, x_desc, y_desc, groups, log })
}

fn scale_bars(groups: &mut [BarGroup], div: f64) {
    for b in groups.iter_mut().flat_map(|g| g.bars.iter_mut()) {
        b.value /= div;
        b.ci = b.ci.map(|c| c / div);
    }
}

/// Values per second, one line per configuration. Each second of each configuration is the
/// mean over the repetitions that have a value in it: a repetition without the second (it ran
/// shorter, or wrote no row) is left out, not counted as 0. Throughput sums the operation kinds
/// of a repetition (a second without completions has throughput 0); p99 takes their worst, and
/// a second without completions has none (a break in the line).
fn timeline(results: &Results, phase: &str, metric: Metric) -> Option<Timeline> {
    let rows: Vec<_> = results.timeseries.iter().filter(|r| r.phase == phase).collect();
    let has_all = rows.iter().any(|r| r.op == "ALL");
    // (config, rep, second) → value across ops: summed throughput, worst p99, if any.
    let mut per_rep: BTreeMap<(usize, u32, u64), Option<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| !has_all || r.op == "ALL") {
        let slot = per_rep.entry((r.config, r.rep, r.second.round() as u64)).or_insert(None);
        let value = match metric {
            Metric::Throughput => Some(r.throughput),
            Metric::P99 => r.p99_us,
        };
        if let Some(v) = value {
            *slot = Some(match (metric, *slot) {
                (_, None) => v,
                (Metric::Throughput, Some(sum)) => sum + v,
                (Metric::P99, Some(worst)) => worst.max(v),
            });
        }
    }
    // config → second → values over the repetitions that have one.
    let mut per_config: BTreeMap<usize, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    for ((config, _, second), v) in per_rep {
        if let Some(v) = v {
            per_config.entry(config).or_default().entry(second).or_default().push(v);
        }
    }
    if per_config.is_empty() {
        return None;
    }
    let max = per_config.values().flat_map(|m| m.values().map(|v| mean(v))).fold(0.0, f64::max);
    let (div, y_desc, title) = match metric {
        Metric::Throughput => {
            let (d, u) = throughput_unit(max);
            (d, format!("throughput ({u})"), format!("{phase}-phase throughput over time"))
        }
        Metric::P99 => {
            let (d, u) = latency_unit(max);
            (d, format!("p99 latency ({u})"), format!("{phase}-phase p99 latency over time"))
        }
    };
    let series = per_config
        .into_iter()
        .map(|(config, seconds)| TimelineSeries {
            label: results.configs.get(config).map(|c| c.label.clone()).unwrap_or_default(),
            config,
            points: seconds.into_iter().map(|(s, v)| (s as f64, mean(&v) / div)).collect(),
        })
        .collect();
    let mut markers: Vec<Marker> = results
        .events
        .iter()
        .map(|e| Marker { config: e.config, second: e.second, kind: e.kind.clone() })
        .collect();
    markers.sort_by(|a, b| a.second.total_cmp(&b.second).then(a.config.cmp(&b.config)));
    markers.dedup_by(|a, b| a.config == b.config && a.second == b.second && a.kind == b.kind);
    Some(Timeline { title, y_desc, series, markers })
}

/// Per node and configuration, the mean over repetitions of `value` (`None` where a row has
/// none), grouped by node; with the largest mean.
fn per_node(results: &Results, value: impl Fn(&NodeRow) -> Option<f64>) -> (Vec<BarGroup>, f64) {
    let mut node_names: Vec<String> = results.nodes.iter().map(|n| n.node.clone()).collect();
    node_names.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
    node_names.dedup();
    let mut max = 0.0f64;
    let mut groups: Vec<BarGroup> = Vec::new();
    for node in &node_names {
        let mut bars = Vec::new();
        for (i, c) in results.configs.iter().enumerate() {
            let samples: Vec<f64> = results
                .nodes
                .iter()
                .filter(|n| n.config == i && &n.node == node)
                .filter_map(&value)
                .collect();
            if let Some(e) = Estimate::of(&samples) {
                max = max.max(e.mean);
                bars.push(Bar { config: i, label: c.label.clone(), value: e.mean, ci: e.ci95 });
            }
        }
        if !bars.is_empty() {
            groups.push(BarGroup { label: format!("node {node}"), bars });
        }
    }
    (groups, max)
}

/// Operations served per node; for node processes, their CPU seconds beside it.
fn nodes(results: &Results) -> Option<SideBySide<BarChart, BarChart>> {
    let (mut groups, max) = per_node(results, |n| Some(n.served));
    if groups.is_empty() || max <= 0.0 {
        return None;
    }
    let (div, unit) = if max >= 20_000.0 { (1000.0, "thousand ops") } else { (1.0, "ops") };
    scale_bars(&mut groups, div);
    let served = BarChart {
        title: "operations served per node".into(),
        x_desc: "store node".into(),
        y_desc: format!("served ({unit})"),
        groups,
        log: false,
    };
    let (groups, max) = per_node(results, |n| n.cpu);
    let cpu = (!groups.is_empty() && max > 0.0).then(|| BarChart {
        title: "CPU per node process".into(),
        x_desc: "store node".into(),
        y_desc: "CPU seconds in the measured window".into(),
        groups,
        log: false,
    });
    Some(SideBySide(served, cpu))
}

/// Stacked mean read stages per configuration (`stages.csv`), mean over repetitions.
fn stages(results: &Results, phase: &str) -> Option<StackedChart> {
    let rows: Vec<_> = results.stages.iter().filter(|r| r.phase == phase).collect();
    let mut names: Vec<String> = Vec::new();
    for r in &rows {
        if !names.contains(&r.stage) {
            names.push(r.stage.clone());
        }
    }
    let mut stacks = Vec::new();
    let mut max = 0.0f64;
    for (i, c) in results.configs.iter().enumerate() {
        let parts: Vec<f64> = names
            .iter()
            .map(|name| {
                let samples: Vec<f64> = rows
                    .iter()
                    .filter(|r| r.config == i && &r.stage == name)
                    .map(|r| r.mean_us)
                    .collect();
                Estimate::of(&samples).map_or(0.0, |e| e.mean)
            })
            .collect();
        let total: f64 = parts.iter().sum();
        if total > 0.0 {
            max = max.max(total);
            stacks.push((i, Stack { label: c.label.clone(), parts }));
        }
    }
    if stacks.is_empty() {
        return None;
    }
    // Label each bar by the axes that differ between the bars shown (no shared "store / 32").
    let varying: Vec<usize> = (0..results.axes.len())
        .filter(|&a| {
            let mut values = stacks.iter().map(|(i, _)| &results.configs[*i].values[a]);
            let first = values.next();
            values.any(|v| Some(v) != first)
        })
        .collect();
    let mut stacks: Vec<Stack> = stacks
        .into_iter()
        .map(|(i, mut s)| {
            let values = &results.configs[i].values;
            let label: Vec<&str> = varying.iter().map(|&a| values[a].as_str()).collect();
            if !label.is_empty() {
                s.label = label.join(" / ");
            }
            s
        })
        .collect();
    let (div, unit) = latency_unit(max);
    for s in &mut stacks {
        for p in &mut s.parts {
            *p /= div;
        }
    }
    Some(StackedChart {
        title: "where a read spends its time".into(),
        x_desc: "configuration".into(),
        y_desc: format!("mean time per read ({unit})"),
        part_names: names,
        stacks,
    })
}

fn staleness(results: &Results) -> Option<Panels> {
    let mut panels = Vec::new();
    for (metric, title, desc) in [
        ("age_ms", "staleness of stale reads: age", "age (ms)"),
        ("lag_entries", "staleness of stale reads: log lag", "lag (entries)"),
    ] {
        let mut series = Vec::new();
        for (i, c) in results.configs.iter().enumerate() {
            let rows: Vec<_> = results
                .staleness
                .iter()
                .filter(|r| r.config == i && r.metric == metric && r.count > 0.0)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let points = [50.0, 90.0, 99.0, 99.9]
                .iter()
                .enumerate()
                .map(|(k, &p)| {
                    let v: Vec<f64> = rows.iter().map(|r| r.quantiles[k]).collect();
                    // A log axis cannot show 0: a fresh-enough stale read is drawn at 0.1.
                    (p, mean(&v).max(0.1))
                })
                .collect();
            series.push(PercentileSeries { label: c.label.clone(), config: i, points });
        }
        if !series.is_empty() {
            panels.push(PercentileChart { title: title.into(), y_desc: desc.into(), series });
        }
    }
    (!panels.is_empty()).then_some(Panels(panels))
}

/// The axis index whose short name contains one of `words`.
fn find_axis(results: &Results, words: &[&str]) -> Option<usize> {
    (0..results.axes.len())
        .find(|&i| words.iter().any(|w| results.axis_short(i).to_lowercase().contains(w)))
}

fn engine_grid(results: &Results, phase: &str) -> Option<Grid> {
    let engine = find_axis(results, &["engine", "preset"])?;
    let workload = find_axis(results, &["workload"])?;
    if engine == workload {
        return None;
    }
    let op = results.overall_op(phase)?;
    // The configurations that ran on an engine, each its own row and column: a cell is one
    // configuration, never an average of several. A row is labelled by the values (other
    // than the workload) that tell the members apart, the engine's at least.
    let members: Vec<usize> = (0..results.configs.len())
        .filter(|&i| {
            let v = &results.configs[i].values;
            !v[engine].is_empty() && !v[workload].is_empty()
        })
        .collect();
    if members.is_empty() {
        return None;
    }
    let varies = |axis: usize| {
        members
            .iter()
            .any(|&i| results.configs[i].values[axis] != results.configs[members[0]].values[axis])
    };
    let mut rows: Vec<String> = Vec::new();
    let mut cols: Vec<String> = Vec::new();
    let mut samples: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for &i in &members {
        let c = &results.configs[i];
        let named: Vec<&str> = (0..c.values.len())
            .filter(|&a| a != workload && !c.values[a].is_empty() && (a == engine || varies(a)))
            .map(|a| c.values[a].as_str())
            .collect();
        let mut row = named.join(" / ");
        let col = c.values[workload].clone();
        if samples.contains_key(&(row.clone(), col.clone())) {
            row = format!("{row} ({})", c.id);
        }
        if !rows.contains(&row) {
            rows.push(row.clone());
        }
        if !cols.contains(&col) {
            cols.push(col.clone());
        }
        samples.insert((row, col), results.samples(i, phase, &op, "service", |r| r.throughput));
    }
    let max = samples.values().map(|v| mean(v)).fold(0.0, f64::max);
    let (div, unit) = throughput_unit(max);
    let cells = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| {
                    let e = Estimate::of(samples.get(&(r.clone(), c.clone()))?)?;
                    Some((e.mean / div, e.ci95.map(|x| x / div)))
                })
                .collect()
        })
        .collect();
    Some(Grid {
        title: format!(
            "{phase}-phase throughput: {} × {}",
            results.axis_short(engine),
            results.axis_short(workload)
        ),
        row_desc: if (0..results.axes.len()).any(|a| a != engine && a != workload && varies(a)) {
            "configuration".to_string()
        } else {
            results.axis_short(engine).to_string()
        },
        col_desc: results.axis_short(workload).to_string(),
        rows,
        cols,
        cells,
        unit: unit.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A two-repetition run directory with the given `timeseries.csv` rows
    /// (`rep,second,throughput,p99`).
    fn results_with_series(
        rows: &[(u32, u64, f64, &str)],
    ) -> std::result::Result<(tempfile::TempDir, Results), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path();
        std::fs::write(dir.join("run.json"), r#"{"command": "kvlab suite t.toml", "runs": []}"#)?;
        let mut summary = String::from(
            "run,rep,phase,op,latency,count,errors,throughput_ops,mean_us,p50_us,p90_us,p95_us,\
             p99_us,p999_us,p9999_us,max_us,measured_s\n",
        );
        let mut series = String::from(
            "run,rep,phase,second,op,count,errors,throughput_ops,p50_us,p99_us,max_us\n",
        );
        for rep in [1, 2] {
            summary.push_str(&format!("r{rep},{rep},run,ALL,service,10,0,2,1,1,1,1,1,1,1,1,5\n"));
        }
        for (rep, second, thr, p99) in rows {
            series.push_str(&format!(
                "r{rep},{rep},run,{second},ALL,{thr},0,{thr},{p99},{p99},{p99}\n"
            ));
        }
        std::fs::write(dir.join("summary.csv"), summary)?;
        std::fs::write(dir.join("timeseries.csv"), series)?;
        let results = Results::load(dir)?;
        Ok((tmp, results))
    }

    fn points(t: &Timeline) -> Vec<(f64, f64)> {
        t.series.iter().flat_map(|s| s.points.iter().copied()).collect()
    }

    #[test]
    fn timelines_average_only_where_data_exist_and_keep_zeros_and_gaps() -> TestResult {
        // Rep 1 has seconds 0-4 and 6 (nothing in second 1: throughput 0, no p99); rep 2 ran
        // 3 s and had nothing in its second 2. No repetition has second 5.
        let (_tmp, results) = results_with_series(&[
            (1, 0, 10.0, "5"),
            (1, 1, 0.0, ""),
            (1, 2, 12.0, "6"),
            (1, 3, 11.0, "7"),
            (1, 4, 4.0, "8"),
            (1, 6, 9.0, "3"),
            (2, 0, 20.0, "15"),
            (2, 1, 30.0, "25"),
            (2, 2, 0.0, ""),
        ])?;
        let thr = timeline(&results, "run", Metric::Throughput).ok_or("no throughput timeline")?;
        assert_eq!(
            points(&thr),
            vec![(0.0, 15.0), (1.0, 15.0), (2.0, 6.0), (3.0, 11.0), (4.0, 4.0), (6.0, 9.0)],
            "zeros count, a missing repetition does not"
        );
        let p99 = timeline(&results, "run", Metric::P99).ok_or("no p99 timeline")?;
        assert_eq!(
            points(&p99),
            vec![(0.0, 10.0), (1.0, 25.0), (2.0, 6.0), (3.0, 7.0), (4.0, 8.0), (6.0, 3.0)],
            "a second without completions has no p99, not 0"
        );
        // Second 5 has no data: the line breaks there.
        let runs = crate::figures::segments(&thr.series[0].points);
        assert_eq!(runs.len(), 2);
        Ok(())
    }

    #[test]
    fn all_sums_the_kinds_and_all_failed_their_failures() -> TestResult {
        let hist = |v: u64| -> std::result::Result<Histogram<u64>, Box<dyn std::error::Error>> {
            let mut h = Histogram::new(3)?;
            h.record(v)?;
            Ok(h)
        };
        let mut hists = BTreeMap::new();
        let key = |op: &str| (0usize, "run".to_string(), op.to_string(), "service".to_string());
        hists.insert(key("READ"), hist(10)?);
        hists.insert(key("READ-NOT_FOUND"), hist(20)?);
        hists.insert(key("READ-FAILED"), hist(1000)?);
        hists.insert(key("READ-MODIFY-WRITE"), hist(30)?);
        hists.insert(key("UPDATE-FAILED"), hist(2000)?);
        let all = overall_histogram(&hists, (0, "run", "ALL", "service")).ok_or("no ALL")?;
        // READ already holds its not-found reads.
        assert_eq!((all.len(), all.max()), (2, 30));
        let failed =
            overall_histogram(&hists, (0, "run", "ALL-FAILED", "service")).ok_or("no failures")?;
        assert_eq!((failed.len(), failed.min()), (2, 1000));
        assert!(overall_histogram(&hists, (0, "run", "SCAN", "service")).is_none());
        Ok(())
    }
}
