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
