//! Property-based tests of the `.properties` parser: whatever keys and values a program
//! writes with Java's escaping rules parse back unchanged, and overrides win.
#![allow(clippy::unwrap_used)]

use kvlab_workloads::{Properties, Source};
use proptest::prelude::*;

/// Escapes `s` the way `java.util.Properties.store` does (keys escape blanks too).
fn escape(s: &str, is_key: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            c if !c.is_ascii() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Strings mixing plain characters with every character the syntax treats specially.
fn tricky() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => Just(' '),
            1 => Just('='),
            1 => Just(':'),
            1 => Just('#'),
            1 => Just('!'),
            1 => Just('\\'),
            1 => Just('\t'),
            1 => Just('\n'),
            1 => Just('é'),
            1 => Just('→'),
        ],
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #[test]
    fn escaped_pairs_parse_back(
        pairs in proptest::collection::vec((tricky(), tricky()), 1..8),
        sep in prop_oneof![Just("="), Just(": "), Just(" "), Just(" = ")],
        continue_at in 0usize..4,
    ) {
        let mut text = String::from("# generated\n");
        let mut expected = std::collections::BTreeMap::new();
        for (i, (k, v)) in pairs.iter().enumerate() {
            let key = format!("k{i}{k}");
            let mut value = escape(v, false);
            // Split one value over two lines with a continuation.
            if i == continue_at && value.len() > 2 && value.is_char_boundary(1) {
                let (a, b) = value.split_at(1);
                if !a.ends_with('\\') {
                    value = format!("{a}\\\n      {}", b.trim_start_matches(' '));
                    let v2: String = v.chars().take(1).chain(v.chars().skip(1).collect::<String>()
                        .trim_start_matches(' ').chars()).collect();
                    expected.insert(key.clone(), v2);
                    text.push_str(&format!("{}{sep}{value}\n", escape(&key, true)));
                    continue;
                }
            }
            expected.insert(key.clone(), v.clone());
            text.push_str(&format!("{}{sep}{value}\n", escape(&key, true)));
        }
        let props = Properties::from_text(&text, "gen").unwrap();
        let got: std::collections::BTreeMap<String, String> =
            props.iter().map(|(k, v, _)| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(got, expected, "text:\n{}", text);
    }

    #[test]
    fn overrides_win(value in "[a-z0-9]{1,8}") {
        let mut props = Properties::from_text("recordcount=10\n", "f").unwrap();
        props.set_override("recordcount", value.clone());
        prop_assert_eq!(props.get("recordcount"), Some(value.as_str()));
        prop_assert_eq!(props.source("recordcount"), Source::Override);
    }
}

/// Fuzzing cases per property (issue 7): `KVLAB_FUZZ_CASES` raises it for long runs.
fn fuzz_cases() -> u32 {
    std::env::var("KVLAB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

/// Values a workload property may be given: numbers in and out of range, words, junk.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..200_000).prop_map(|n| n.to_string()),
        (-5i64..5).prop_map(|n| n.to_string()),
        (-2.0f64..3.0).prop_map(|x| format!("{x}")),
        Just(String::new()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("99999999999999999999999".to_string()),
        "[a-z,._-]{0,12}",
        Just("zipfian".to_string()),
        Just("hotspot".to_string()),
        Just("latest".to_string()),
        Just("true".to_string()),
        Just("hashed".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

    // Any text, valid UTF-8 or not, parses or fails with an error; never a panic.
    #[test]
    fn arbitrary_text_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Properties::from_text(&text, "fuzz");
        let _ = kvlab_workloads::parse_override(&text);
    }

    // Any mix of workload properties with odd values builds a workload or gives an error
    // naming a property; never a panic. Workloads that build produce operations.
    #[test]
    fn arbitrary_workload_properties_never_panic(
        pairs in proptest::collection::vec(
            (proptest::sample::select(kvlab_workloads::WORKLOAD_PROPERTIES), any_value()), 0..12),
    ) {
        let mut props = Properties::from_text("recordcount=100\noperationcount=100\n", "base").unwrap();
        for (k, v) in &pairs {
            props.set_override(*k, v.clone());
        }
        match kvlab_workloads::CoreWorkload::new(&props) {
            Ok(workload) => {
                let mut stream = workload.run_stream(0, 1);
                let mut op = kvlab_workloads::Operation::new();
                for _ in 0..20 {
                    stream.next_op(&mut op);
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
