//! The report: Markdown and a self-contained, well-formed HTML page with every figure.

mod common;

use common::{fixture_copy, labels, TestResult};

#[test]
fn report_is_self_contained_and_complete() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    let html_path = kvlab_plots::report(&dir)?;
    assert_eq!(html_path, dir.join("report.html"));
    let html = std::fs::read_to_string(&html_path)?;
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() },
    )
    .map_err(|e| format!("report.html is not well-formed: {e}"))?;
    // No external resource: no src/href pointing anywhere, no external script or stylesheet.
    for node in doc.descendants().filter(|n| n.is_element()) {
        for attr in node.attributes() {
            let name = attr.name();
            if name == "src" || name == "href" || name == "xlink:href" {
                let v = attr.value();
                assert!(
                    v.starts_with('#'),
                    "<{}> {name}={v} is an external reference",
                    node.tag_name().name()
                );
            }
        }
        let tag = node.tag_name().name();
        assert!(
            tag != "script" && tag != "link" && tag != "img" && tag != "iframe",
            "<{tag}> in report"
        );
    }
    // Every figure is inlined once, with a caption.
    let figures: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("figure")).collect();
    let svgs = std::fs::read_dir(dir.join("plots"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "svg"))
        .count();
    assert_eq!(figures.len(), svgs, "figures in report vs SVG files");
    for f in &figures {
        assert!(f.descendants().any(|n| n.tag_name().name() == "svg"), "figure without inline svg");
        let caption = f.descendants().find(|n| n.has_tag_name("figcaption")).and_then(|n| n.text());
        assert!(caption.is_some_and(|c| c.len() > 20), "figure without caption");
    }
    // Question, environment, command, tables with intervals, configurations.
    for want in [
        "Does reading from followers relieve the leader",
        "kvlab suite harness/suites/fixture.toml --repetitions 2",
        "Test CPU @ 2.0GHz",
        "0123456789abcdef0123456789abcdef01234567",
        "±",
        "read_policy",
    ] {
        assert!(html.contains(want), "report.html lacks {want}");
    }
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    for want in
        ["## Reproduce", "## Environment", "## Results", "## Figures", "(plots/throughput.png)"]
    {
        assert!(md.contains(want), "report.md lacks {want}");
    }
    for label in labels() {
        assert!(md.contains(&label), "report.md lacks configuration {label}");
    }
    Ok(())
}

#[test]
fn single_run_has_figures_and_report() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    common::single_run(&dir)?;
    let html = std::fs::read_to_string(kvlab_plots::report(&dir)?)?;
    let names: Vec<String> = std::fs::read_dir(dir.join("plots"))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    for want in ["latency-spectrum-service.svg", "throughput.svg", "p99.svg", "nodes-served.svg"] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    assert!(html.contains("<figure"));
    // Two single runs compare with each other.
    let cmp = kvlab_plots::compare(&dir, &dir)?;
    assert!(cmp.changes.iter().all(|c| c.config == "run"));
    Ok(())
}
