//! `report`: `DIR/report.md` and a self-contained `DIR/report.html` describing one results
//! directory — the question, the environment, summary tables with confidence intervals, every
//! figure with its caption, and the command that reproduces the run.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::figures::css_color;
use crate::findings::{self, Finding};
use crate::html::{escape, md_table, num, page, table};
use crate::plot::{draw_all, FigureFile};
use crate::results::{outcome_op, Results};
use crate::stats::Estimate;

/// Writes `DIR/report.md` (figures linked as `plots/*.png`) and `DIR/report.html` (figures
/// inlined as SVG; no external resource of any kind); returns the HTML's path. Figures are
/// redrawn first, so the report always matches the data.
///
/// # Errors
///
/// Those of [`plot`](crate::plot), and a report file that cannot be written.
pub fn report(dir: &Path) -> Result<PathBuf> {
    let results = Results::load(dir)?;
    let figures = draw_all(&results)?;
    let doc = Document::new(&results, &figures)?;
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, doc.markdown()).map_err(|e| Error::io("cannot write", &md_path, e))?;
    let html_path = dir.join("report.html");
    std::fs::write(&html_path, doc.html()).map_err(|e| Error::io("cannot write", &html_path, e))?;
    Ok(html_path)
}

/// What the results tables hold.
const RESULTS_NOTE: &str = "Means over repetitions ± half-width of the 95 % confidence interval \
     (Student t). Throughput and latencies count the completed operations: those that \
     succeeded and reads that found nothing (`not found`, a count over all repetitions). \
     Failed operations (`failed`, over all repetitions) are not in them; `p99 failed` is their \
     own latency.";

/// A table: headers, plain-text rows, and the configuration of each row (for a colour swatch).
struct Table {
    title: String,
    headers: Vec<String>,
    rows: Vec<(Option<usize>, Vec<String>)>,
}

/// The report's content, rendered as Markdown or HTML.
struct Document {
    title: String,
    question: Option<String>,
    findings: Vec<Finding>,
    command: String,
    suite_text: Option<String>,
    environment: Vec<(String, String)>,
    notes: Vec<String>,
    tables: Vec<Table>,
    /// Figures with their SVG text.
    figures: Vec<(FigureFile, String)>,
}

fn with_ci(e: Option<Estimate>) -> String {
    match e {
        Some(Estimate { mean, ci95: Some(ci), .. }) => format!("{} ± {}", num(mean), num(ci)),
        Some(e) => num(e.mean),
        None => "–".into(),
    }
}

impl Document {
    fn new(results: &Results, figures: &[FigureFile]) -> Result<Document> {
        let meta = &results.meta;
        let name = results
            .dir
            .components()
            .rev()
            .take(2)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        let name = name.into_iter().rev().collect::<Vec<_>>().join("/");
        let mut environment = vec![
            ("kvlab version".to_string(), meta.kvlab_version.clone()),
            ("git commit".to_string(), meta.git_commit.clone()),
            ("kind".to_string(), meta.kind.clone()),
        ];
        for (k, v) in &meta.machine {
            let value = match (k.as_str(), v.parse::<f64>()) {
                ("memory_bytes", Ok(b)) => format!("{:.1} GiB", b / (1u64 << 30) as f64),
                _ => v.clone(),
            };
            let key = k.strip_suffix("_bytes").unwrap_or(k).replace('_', " ");
            environment.push((format!("machine {key}"), value));
        }
        if let Some((start, end)) = &meta.span {
            environment.push(("first phase started".into(), start.clone()));
            environment.push(("last phase ended".into(), end.clone()));
        }
        environment.push(("run.json written".into(), meta.written.clone()));
        environment.push(("finished".into(), meta.finished.clone()));
        environment.push(("completed".into(), if meta.completed { "yes" } else { "NO" }.into()));
        if let Some(r) = meta.repetitions {
            environment.push(("repetitions".into(), r.to_string()));
        }
        environment.retain(|(_, v)| !v.is_empty());
        let mut notes = Vec::new();
        if !meta.completed {
            notes.push(
                "The run did not complete: numbers cover what was measured before it stopped."
                    .into(),
            );
        }
        for n in &meta.system_notes {
            notes.push(format!("System under test: {n}."));
        }
        for (run, w) in &meta.warnings {
            notes.push(format!("warning ({run}): {w}"));
        }
        let mut figs = Vec::new();
        for f in figures {
            let svg =
                std::fs::read_to_string(&f.svg).map_err(|e| Error::io("cannot read", &f.svg, e))?;
            figs.push((f.clone(), strip_xml_declaration(&svg).to_string()));
        }
        Ok(Document {
            title: format!("kvlab report: {name}"),
            question: meta.question.clone(),
            findings: findings::compute(results),
            command: meta.command.clone(),
            suite_text: meta.suite_text.clone(),
            environment,
            notes,
            tables: tables(results),
            figures: figs,
        })
    }

    fn markdown(&self) -> String {
        let mut md = format!("# {}\n\n", self.title);
        if let Some(q) = &self.question {
            md.push_str(&format!("**Question:** {q}\n\n"));
        }
        if !self.findings.is_empty() {
            md.push_str(&format!("## Findings\n\n{}\n\n", findings::METHOD));
            for f in &self.findings {
                md.push_str(&format!("### {}\n\n", f.heading));
                for line in f.lines() {
                    md.push_str(&format!("- {line}\n"));
                }
                md.push('\n');
            }
        }
        md.push_str("## Reproduce\n\n```sh\n");
        md.push_str(&self.command);
        md.push_str("\n```\n\n");
        if let Some(s) = &self.suite_text {
            md.push_str("Suite file:\n\n```toml\n");
            md.push_str(s.trim_end());
            md.push_str("\n```\n\n");
        }
        md.push_str("## Environment\n\n");
        let env: Vec<Vec<String>> =
            self.environment.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect();
        md.push_str(&md_table(&["setting".into(), "value".into()], &env));
        md.push('\n');
        for n in &self.notes {
            md.push_str(&format!("- {n}\n"));
        }
        md.push_str(&format!("\n## Results\n\n{RESULTS_NOTE}\n\n"));
        for t in &self.tables {
            md.push_str(&format!("### {}\n\n", t.title));
            let rows: Vec<Vec<String>> = t.rows.iter().map(|r| r.1.clone()).collect();
            md.push_str(&md_table(&t.headers, &rows));
            md.push('\n');
        }
        md.push_str("## Figures\n\n");
        for (f, _) in &self.figures {
            let file =
                f.png.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            md.push_str(&format!(
                "![{}](plots/{file})\n\n*{}* (also as `plots/{}.svg`)\n\n",
                f.stem, f.caption, f.stem
            ));
        }
        md
    }

    fn html(&self) -> String {
        let mut body = format!("<h1>{}</h1>\n", escape(&self.title));
        if let Some(q) = &self.question {
            body.push_str(&format!("<p><strong>Question:</strong> {}</p>\n", escape(q)));
        }
        if !self.findings.is_empty() {
            let method = code_spans(findings::METHOD);
            body.push_str(&format!("<h2>Findings</h2>\n<p>{method}</p>\n"));
            for f in &self.findings {
                body.push_str(&format!(
                    "<h3>{}</h3>\n<ul class=\"findings\">\n",
                    escape(&f.heading)
                ));
                for line in f.lines() {
                    body.push_str(&format!("<li>{}</li>\n", escape(&line)));
                }
                body.push_str("</ul>\n");
            }
        }
        body.push_str(&format!(
            "<h2>Reproduce</h2>\n<pre><code>{}</code></pre>\n",
            escape(&self.command)
        ));
        if let Some(s) = &self.suite_text {
            body.push_str(&format!(
                "<details><summary>Suite file</summary>\n<pre><code>{}</code></pre>\n</details>\n",
                escape(s)
            ));
        }
        body.push_str("<h2>Environment</h2>\n");
        let env: Vec<Vec<String>> =
            self.environment.iter().map(|(k, v)| vec![escape(k), escape(v)]).collect();
        body.push_str(&table(&["setting".into(), "value".into()], &env));
        if !self.notes.is_empty() {
            body.push_str("<ul>\n");
            for n in &self.notes {
                body.push_str(&format!("<li>{}</li>\n", escape(n)));
            }
            body.push_str("</ul>\n");
        }
        body.push_str(&format!("<h2>Results</h2>\n<p>{}</p>\n", escape(RESULTS_NOTE)));
        for t in &self.tables {
            body.push_str(&format!("<h3>{}</h3>\n", escape(&t.title)));
            let rows: Vec<Vec<String>> = t
                .rows
                .iter()
                .map(|(config, cells)| {
                    let mut cells: Vec<String> = cells.iter().map(|c| escape(c)).collect();
                    if let (Some(c), Some(first)) = (config, cells.first_mut()) {
                        *first = format!(
                            "<span class=\"swatch\" style=\"background:{}\"></span>{first}",
                            css_color(*c)
                        );
                    }
                    cells
                })
                .collect();
            body.push_str(&table(&t.headers, &rows));
        }
        body.push_str("<h2>Figures</h2>\n");
        for (f, svg) in &self.figures {
            body.push_str(&format!(
                "<figure id=\"{}\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
                escape(&f.stem),
                escape(&f.caption)
            ));
        }
        page(&self.title, &body)
    }
}

/// Escaped text with its Markdown code spans (`` `x` ``) as `<code>` elements.
fn code_spans(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(
            |(i, part)| {
                if i % 2 == 1 {
                    format!("<code>{}</code>", escape(part))
                } else {
                    escape(part)
                }
            },
        )
        .collect()
}

/// The SVG text without a leading `<?xml …?>` declaration (not allowed inside HTML).
fn strip_xml_declaration(svg: &str) -> &str {
    let s = svg.trim_start();
    if s.starts_with("<?xml") {
        if let Some(end) = s.find("?>") {
            return s.get(end + 2..).unwrap_or(s).trim_start();
        }
    }
    s
}

fn tables(results: &Results) -> Vec<Table> {
    let phase = results.main_phase();
    let mut out = Vec::new();
    let axis_headers: Vec<String> =
        (0..results.axes.len()).map(|i| results.axis_short(i).to_string()).collect();
    let Some(overall) = results.overall_op(phase) else { return out };
    let mut headers = vec!["config".to_string()];
    headers.extend(axis_headers.iter().cloned());
    headers.extend(
        [
            "reps",
            "throughput (ops/s)",
            "p50 (µs)",
            "p99 (µs)",
            "p99.9 (µs)",
            "p99 intended (µs)",
            "not found",
            "failed",
            "p99 failed (µs)",
        ]
        .map(String::from),
    );
    let failed_op = outcome_op(&overall, "FAILED");
    let not_found_op = outcome_op(&overall, "NOT_FOUND");
    let mut rows = Vec::new();
    for (i, c) in results.configs.iter().enumerate() {
        let est = |latency: &str, f: &dyn Fn(&crate::results::SummaryRow) -> f64| {
            results.estimate(i, phase, &overall, latency, f)
        };
        let thr = est("service", &|r| r.throughput);
        let Some(reps) = thr.map(|e| e.n) else { continue };
        let mut row = vec![c.id.clone()];
        row.extend(c.values.iter().cloned());
        row.push(reps.to_string());
        row.push(with_ci(thr));
        row.push(with_ci(est("service", &|r| r.percentiles[0])));
        row.push(with_ci(est("service", &|r| r.percentiles[3])));
        row.push(with_ci(est("service", &|r| r.percentiles[4])));
        row.push(with_ci(est("intended", &|r| r.percentiles[3])));
        // Counts over all repetitions: completed reads that found nothing, failures.
        let not_found = results.total(i, phase, &not_found_op, |r| r.count);
        row.push(format!("{not_found:.0}"));
        let failed = results.total(i, phase, &overall, |r| r.errors);
        row.push(format!("{failed:.0}"));
        row.push(with_ci(results.estimate(i, phase, &failed_op, "service", |r| r.percentiles[3])));
        rows.push((Some(i), row));
    }
    out.push(Table { title: format!("{phase} phase, {overall} operations"), headers, rows });
    let ops: Vec<String> = results.ops(phase).into_iter().filter(|o| *o != overall).collect();
    if !ops.is_empty() {
        let headers =
            ["config", "op", "throughput (ops/s)", "p50 (µs)", "p99 (µs)", "p99 intended (µs)"]
                .map(String::from)
                .to_vec();
        let mut rows = Vec::new();
        for (i, c) in results.configs.iter().enumerate() {
            for op in &ops {
                let est = |latency: &str, f: &dyn Fn(&crate::results::SummaryRow) -> f64| {
                    results.estimate(i, phase, op, latency, f)
                };
                let thr = est("service", &|r| r.throughput);
                if thr.is_none() {
                    continue;
                }
                rows.push((
                    Some(i),
                    vec![
                        format!("{} ({})", c.id, c.label),
                        op.clone(),
                        with_ci(thr),
                        with_ci(est("service", &|r| r.percentiles[0])),
                        with_ci(est("service", &|r| r.percentiles[3])),
                        with_ci(est("intended", &|r| r.percentiles[3])),
                    ],
                ));
            }
        }
        out.push(Table { title: format!("{phase} phase, per operation"), headers, rows });
    }
    if !results.storage.is_empty() {
        out.push(storage_table(results));
    }
    if !results.errors.is_empty() {
        let mut totals: std::collections::BTreeMap<(usize, String, String, String), f64> =
            Default::default();
        for e in &results.errors {
            *totals
                .entry((e.config, e.phase.clone(), e.op.clone(), e.error.clone()))
                .or_default() += e.count;
        }
        let rows = totals
            .into_iter()
            .map(|((config, phase, op, error), count)| {
                let label = results.configs.get(config).map(|c| format!("{} ({})", c.id, c.label));
                (
                    Some(config),
                    vec![label.unwrap_or_default(), phase, op, error, format!("{count:.0}")],
                )
            })
            .collect();
        let headers =
            ["config", "phase", "op", "error", "count (all reps)"].map(String::from).to_vec();
        out.push(Table { title: "errors".into(), headers, rows });
    }
    out
}

/// Storage after the load: per configuration, means over the repetitions that loaded.
fn storage_table(results: &Results) -> Table {
    let mean = |values: Vec<f64>| -> Option<f64> {
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let fmt =
        |v: Option<f64>, digits: usize| v.map_or("–".to_string(), |v| format!("{v:.digits$}"));
    let mb = |v: Option<f64>| fmt(v.map(|b| b / (1 << 20) as f64), 1);
    let mut rows = Vec::new();
    for (i, c) in results.configs.iter().enumerate() {
        let runs: Vec<_> = results.storage.iter().filter(|r| r.config == i).collect();
        if runs.is_empty() {
            continue;
        }
        rows.push((
            Some(i),
            vec![
                format!("{} ({})", c.id, c.label),
                runs.len().to_string(),
                mb(mean(runs.iter().map(|r| r.logical_bytes).collect())),
                mb(mean(runs.iter().filter_map(|r| r.disk_bytes).collect())),
                fmt(mean(runs.iter().filter_map(|r| r.space_amp).collect()), 2),
                fmt(mean(runs.iter().filter_map(|r| r.fsyncs_per_write).collect()), 3),
            ],
        ));
    }
    let headers = [
        "config",
        "runs",
        "logical (MiB)",
        "on disk (MiB)",
        "space amplification",
        "fsyncs per write",
    ]
    .map(String::from)
    .to_vec();
    Table {
        title: "storage after the load (bytes on disk per logical byte and replica; kvlab's \
                count of fsyncs per acknowledged write)"
            .into(),
        headers,
        rows,
    }
}
