//! Figures from the fixture: valid PNG and SVG files with the expected series.

mod common;

use std::path::{Path, PathBuf};

use common::{fixture_copy, labels, TestResult};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Every `<text>` element's content in an SVG file (which must parse as XML).
fn svg_texts(path: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let doc = roxmltree::Document::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{}", path.display());
    Ok(doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect())
}

fn find<'a>(files: &'a [PathBuf], name: &str) -> Option<&'a PathBuf> {
    files.iter().find(|p| p.file_name().is_some_and(|n| n == name))
}

#[test]
fn figures_are_valid_and_name_their_series() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    let files = kvlab_plots::plot(&dir)?;
    let stems = [
        "latency-spectrum-service",
        "latency-spectrum-intended",
        "throughput",
        "p99",
        "throughput-over-time",
        "p99-over-time",
        "nodes-served",
        "staleness",
    ];
    for stem in stems {
        for ext in ["png", "svg"] {
            let name = format!("{stem}.{ext}");
            assert!(find(&files, &name).is_some(), "{name} missing from {files:?}");
        }
    }
    // No engine axis in the fixture: no engine grid.
    assert!(find(&files, "engine-grid.svg").is_none());
    for f in &files {
        assert!(f.starts_with(dir.join("plots")), "{} outside DIR/plots", f.display());
        let bytes = std::fs::read(f)?;
        match f.extension().and_then(|e| e.to_str()) {
            Some("png") => {
                assert!(bytes.starts_with(&PNG_SIGNATURE), "{} is not a PNG", f.display());
                // The first chunk is IHDR: width and height, big-endian.
                let dim = |at: usize| {
                    bytes
                        .get(at..at + 4)
                        .map(|b| b.iter().fold(0u32, |a, &x| a << 8 | u32::from(x)))
                };
                assert_eq!(bytes.get(12..16), Some(&b"IHDR"[..]), "{}", f.display());
                assert_eq!((dim(16), dim(20)), (Some(1200), Some(700)), "{}", f.display());
                assert!(bytes.len() > 10_000, "{} suspiciously small", f.display());
            }
            Some("svg") => {
                svg_texts(f)?;
            }
            other => panic!("unexpected file {} ({other:?})", f.display()),
        }
    }
    // Every configuration is named in the legends of the per-configuration figures.
    for stem in
        ["latency-spectrum-service", "throughput", "p99", "throughput-over-time", "nodes-served"]
    {
        let path = dir.join("plots").join(format!("{stem}.svg"));
        let texts = svg_texts(&path)?;
        for label in labels() {
            assert!(texts.contains(&label), "{stem}.svg lacks series {label}: {texts:?}");
        }
    }
    // Percentile axis labels, units, grouping axis, event marker, staleness only for followers.
    let spectrum = svg_texts(&dir.join("plots/latency-spectrum-service.svg"))?;
    for want in ["50 %", "90 %", "99 %", "percentile", "latency (µs)"] {
        assert!(spectrum.iter().any(|t| t == want), "spectrum lacks {want}: {spectrum:?}");
    }
    let throughput = svg_texts(&dir.join("plots/throughput.svg"))?;
    for want in ["read_policy", "leader", "follower", "throughput (kops/s)"] {
        assert!(throughput.iter().any(|t| t == want), "throughput lacks {want}: {throughput:?}");
    }
    let timeline = svg_texts(&dir.join("plots/throughput-over-time.svg"))?;
    assert!(timeline.iter().any(|t| t == "leader-change"), "no event marker: {timeline:?}");
    let staleness = svg_texts(&dir.join("plots/staleness.svg"))?;
    assert!(staleness.iter().any(|t| t == "follower / a"));
    assert!(!staleness.iter().any(|t| t == "leader / a"), "leader reads are never stale");
    Ok(())
}

#[test]
fn colours_are_consistent_across_figures() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    kvlab_plots::plot(&dir)?;
    // The first configuration is drawn in the palette's first colour everywhere.
    for stem in ["latency-spectrum-service", "throughput", "throughput-over-time"] {
        let svg = std::fs::read_to_string(dir.join("plots").join(format!("{stem}.svg")))?;
        assert!(
            svg.contains("#1F77B4") || svg.contains("#1f77b4"),
            "{stem}: colour of c01 missing"
        );
    }
    Ok(())
}

#[test]
fn engine_grid_when_engine_and_workload_axes_exist() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    // Rename the read-policy axis to an engine preset axis in every file.
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "csv") {
            let text =
                std::fs::read_to_string(&path)?.replacen("store.read_policy", "store.engine", 1);
            std::fs::write(&path, text)?;
        }
    }
    let files = kvlab_plots::plot(&dir)?;
    let grid = find(&files, "engine-grid.svg").ok_or("no engine grid")?;
    let texts = svg_texts(grid)?;
    for want in ["leader", "follower", "a", "b", "engine", "workload"] {
        assert!(texts.iter().any(|t| t == want), "grid lacks {want}: {texts:?}");
    }
    Ok(())
}

#[test]
fn absent_optional_files_skip_their_figures() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    for name in [
        "timeseries.csv",
        "nodes.csv",
        "staleness.csv",
        "events.csv",
        "aggregate.csv",
        "errors.csv",
    ] {
        std::fs::remove_file(dir.join(name))?;
    }
    std::fs::remove_dir_all(dir.join("hlog"))?;
    let files = kvlab_plots::plot(&dir)?;
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    // The spectrum falls back to summary.csv's percentiles.
    for want in ["latency-spectrum-service.svg", "throughput.png", "p99.svg"] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for gone in ["throughput-over-time.svg", "nodes-served.svg", "staleness.svg"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} drawn without data");
    }
    Ok(())
}

/// Issue 15, item 5: a results directory with `stages.csv` gets the stacked stage figure, in
/// the report too; without it there is none.
#[test]
fn read_stages_are_a_stacked_figure_in_the_report() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    let summary = std::fs::read_to_string(dir.join("summary.csv"))?;
    let mut keys: Vec<String> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
        .collect();
    keys.dedup();
    let mut stages = String::from(
        "run,store.read_policy,workload,rep,phase,stage,count,mean_us,p50_us,p99_us,share\n",
    );
    for key in &keys {
        for (stage, mean) in
            [("client", 1.0), ("wire", 20.0), ("read_index", 150.0), ("apply_wait", 5.0)]
        {
            stages.push_str(&format!("{key},run,{stage},100,{mean},{mean},{mean},0.1\n"));
        }
    }
    let before = kvlab_plots::plot(&dir)?;
    assert!(find(&before, "read-stages.svg").is_none(), "no stages.csv, no figure");
    std::fs::write(dir.join("stages.csv"), stages)?;
    let files = kvlab_plots::plot(&dir)?;
    let svg = find(&files, "read-stages.svg").ok_or("read-stages.svg missing")?;
    let text = std::fs::read_to_string(svg)?;
    for stage in ["client", "wire", "read_index", "apply_wait"] {
        assert!(text.contains(stage), "legend names {stage}");
    }
    kvlab_plots::report(&dir)?;
    let html = std::fs::read_to_string(dir.join("report.html"))?;
    assert!(html.contains("where a store read spends its time"), "the report carries it");
    Ok(())
}

/// Multiplies the throughput of the configuration `config` (`c01`…) in `summary.csv` by
/// `factor`.
fn scale_throughput(dir: &Path, config: &str, factor: f64) -> TestResult {
    let path = dir.join("summary.csv");
    let text = std::fs::read_to_string(&path)?;
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty summary")?;
    let col = header.split(',').position(|c| c == "throughput_ops").ok_or("no throughput")?;
    let mut out = format!("{header}\n");
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        if cells[0].starts_with(&format!("{config}-")) {
            cells[col] = format!("{:.3}", cells[col].parse::<f64>()? * factor);
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// Issue 17: bars spanning more than an order of magnitude go on a log axis that says so;
/// bars of one order stay linear.
#[test]
fn throughput_bars_use_a_log_axis_across_orders_of_magnitude() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    let files = kvlab_plots::plot(&dir)?;
    let texts = svg_texts(find(&files, "throughput.svg").ok_or("no throughput figure")?)?;
    assert!(!texts.iter().any(|t| t.contains("log scale")), "{texts:?}");
    scale_throughput(&dir, "c04", 100.0)?;
    let files = kvlab_plots::plot(&dir)?;
    let texts = svg_texts(find(&files, "throughput.svg").ok_or("no throughput figure")?)?;
    assert!(texts.iter().any(|t| t.contains("log scale")), "{texts:?}");
    Ok(())
}

/// Issue 17: a configuration that does not set an axis is labelled with the value its runs
/// used (`run.json` `effective`), so a store run on the default engine reads `rocksdb`.
#[test]
fn unset_axes_are_labelled_with_the_effective_setting() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    // Make `workload` an axis configuration c01 leaves unset, and record what it ran with.
    for name in ["summary.csv", "aggregate.csv", "timeseries.csv", "nodes.csv"] {
        let path = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("c01-") || l.starts_with("c01,") {
                    l.replacen(",a,", ",,", 1)
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, text + "\n")?;
    }
    let path = dir.join("run.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    for run in json["runs"].as_array_mut().ok_or("no runs")? {
        if run["id"].as_str().is_some_and(|id| id.starts_with("c01-")) {
            run["effective"] = serde_json::json!({ "workload": "a-by-default" });
        }
    }
    std::fs::write(&path, serde_json::to_string(&json)?)?;
    let files = kvlab_plots::plot(&dir)?;
    let texts = svg_texts(find(&files, "throughput.svg").ok_or("no throughput figure")?)?;
    assert!(texts.iter().any(|t| t == "leader / a-by-default"), "{texts:?}");
    Ok(())
}

/// Issue 17: a configuration is labelled by the axes that tell configurations apart. An axis
/// every configuration shares (here `inflight = 8`, inserted as the first axis) names nothing
/// and stays out of the legends and of the caption's list of legend axes.
#[test]
fn labels_name_only_the_axes_that_distinguish() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "csv") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            let (first, rest) = line.split_once(',').ok_or("a one-column csv")?;
            let cell = if i == 0 { "inflight" } else { "8" };
            out.push_str(&format!("{first},{cell},{rest}\n"));
        }
        std::fs::write(&path, out)?;
    }
    let html = kvlab_plots::report(&dir)?;
    let files = kvlab_plots::plot(&dir)?;
    let texts = svg_texts(find(&files, "throughput.svg").ok_or("no throughput figure")?)?;
    assert!(texts.iter().any(|t| t == "leader / a"), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("8 / ")), "{texts:?}");
    let page = std::fs::read_to_string(html)?;
    assert!(page.contains("legend: read_policy / workload"), "the caption lists the legend axes");
    Ok(())
}
