//! The store's modules form layers: no module reaches, through `crate::` paths, back into
//! itself (issue 12, item 11). A request enters at `client` or `grpc`, crosses `transport` as a
//! `request` type, and reaches `node`, `raftstore` and `engine` in that order; a cycle would
//! let two layers depend on each other's internals again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level module a source file belongs to: `node/read_pool.rs` is `node`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let first = rel.components().next().expect("non-empty path");
    first.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string()
}

/// Every `crate::NAME` a file mentions (code, `use` lines and doc links alike).
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String =
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module graph of `store/src`: module → modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read source");
        let deps = g.entry(from.clone()).or_default();
        for to in crate_paths(&text) {
            if to != from && modules.contains(&to) {
                deps.insert(to);
            }
        }
    }
    g
}

/// A path from `to` back to `from`, if there is one.
fn path_back(
    g: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if to == from {
        return Some(vec![to.to_string()]);
    }
    if !seen.insert(to.to_string()) {
        return None;
    }
    for next in g.get(to).into_iter().flatten() {
        if let Some(mut path) = path_back(g, from, next, seen) {
            path.insert(0, to.to_string());
            return Some(path);
        }
    }
    None
}

#[test]
fn the_store_modules_have_no_cycle() {
    let g = graph();
    assert!(g.len() > 10, "found too few modules: {:?}", g.keys().collect::<Vec<_>>());
    let mut cycles = Vec::new();
    for (from, deps) in &g {
        for to in deps {
            if let Some(path) = path_back(&g, from, to, &mut BTreeSet::new()) {
                cycles.push(format!("{from} -> {}", path.join(" -> ")));
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_graph_sees_a_cycle_when_there_is_one() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("node".to_string(), BTreeSet::from(["transport".to_string()])),
        ("transport".to_string(), BTreeSet::from(["node".to_string()])),
    ]
    .into();
    assert_eq!(
        path_back(&g, "node", "transport", &mut BTreeSet::new()),
        Some(vec!["transport".to_string(), "node".to_string()])
    );
    assert_eq!(crate_paths("use crate::node::{NodeMsg};\n/// [`crate::raftstore::Peer`]"), {
        BTreeSet::from(["node".to_string(), "raftstore".to_string()])
    });
}
