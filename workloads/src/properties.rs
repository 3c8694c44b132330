//! Workload properties: YCSB `.properties` files plus `-p key=value` overrides.
//!
//! A [`Properties`] is a string map that remembers where each value came from, so that a bad
//! value can be reported as "`fieldcount` (workloads/ycsb/workloada:12): bad value `ten`:
//! expected a non-negative integer". Values are typed on use, by the getters.
//!
//! The file syntax is Java's `java.util.Properties.load` syntax:
//! - lines whose first non-blank character is `#` or `!` are comments; blank lines are skipped;
//! - a key ends at the first unescaped `=`, `:` or whitespace; whitespace, then at most one `=`
//!   or `:`, then whitespace separate it from the value (`key=value`, `key: value`, `key value`);
//! - a line ending in an odd number of backslashes continues on the next line, whose leading
//!   whitespace is dropped;
//! - escapes `\t`, `\n`, `\r`, `\f`, `\uXXXX`, and `\` before any other character stands for
//!   that character (`\=`, `\:`, `\ `, `\\`).
//!
//! Unlike Java, typed values are trimmed before parsing and booleans must be `true` or `false`
//! (Java reads any other word as `false`, which hides typos).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result, Source};

/// One property value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// The value, escapes resolved, as written otherwise.
    value: String,
    /// Where the value came from.
    source: Source,
}

/// An ordered map of workload properties, remembering the source of every value.
///
/// Later assignments win: files are merged in the order given, then the overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Properties {
    /// Key → value and source, sorted by key.
    entries: BTreeMap<String, Entry>,
}

impl Properties {
    /// An empty property map.
    pub fn new() -> Properties {
        Properties::default()
    }

    /// Loads property files in order, then applies `overrides` (`-p key=value`) in order;
    /// later values win.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read, [`Error::Syntax`] for a malformed line (a bad
    /// `\uXXXX` escape or an empty key).
    pub fn load(files: &[PathBuf], overrides: &[(String, String)]) -> Result<Properties> {
        let mut props = Properties::new();
        for path in files {
            props.merge_file(path)?;
        }
        for (key, value) in overrides {
            props.insert(key.clone(), value.clone(), Source::Override);
        }
        Ok(props)
    }

    /// Reads one property file and merges it in (its values win over existing ones).
    ///
    /// # Errors
    /// As [`Properties::load`].
    pub fn merge_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            what: "property file",
            path: path.to_path_buf(),
            source,
        })?;
        self.merge_text(&text, path)
    }

    /// Parses property-file text as if it were read from `path` and merges it in.
    ///
    /// # Errors
    /// [`Error::Syntax`] for a malformed line.
    pub fn merge_text(&mut self, text: &str, path: &Path) -> Result<()> {
        for (key, value, line) in parse_properties(text, path)? {
            let source = Source::File { path: path.to_path_buf(), line };
            self.insert(key, value, source);
        }
        Ok(())
    }

    /// Parses property-file text (for tests and programs that build workloads in memory).
    ///
    /// # Errors
    /// [`Error::Syntax`] for a malformed line.
    pub fn from_text(text: &str, name: &str) -> Result<Properties> {
        let mut props = Properties::new();
        props.merge_text(text, Path::new(name))?;
        Ok(props)
    }

    /// Sets a property from a program; it wins over earlier values.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.insert(key.into(), value.into(), Source::Set);
    }

    /// Sets a property as a `-p key=value` override would.
    pub fn set_override(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.insert(key.into(), value.into(), Source::Override);
    }

    /// Inserts a value with its source.
    fn insert(&mut self, key: String, value: String, source: Source) {
        self.entries.insert(key, Entry { value, source });
    }

    /// The raw value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|e| e.value.as_str())
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Where the value of `key` came from ([`Source::Default`] if it is not set).
    pub fn source(&self, key: &str) -> Source {
        self.entries.get(key).map_or(Source::Default, |e| e.source.clone())
    }

    /// All properties with their sources, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Source)> {
        self.entries.iter().map(|(k, e)| (k.as_str(), e.value.as_str(), &e.source))
    }

    /// The number of properties set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key` (trimmed), or `default`.
    pub fn get_str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).map_or(default, str::trim)
    }

    /// Parses the value of `key` (trimmed) as `T`, or returns `default` when it is not set.
    /// `expected` describes valid values for the error message ("a non-negative integer").
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the key, its source, the value and `expected`.
    pub fn get_parsed_or<T: FromStr>(&self, key: &str, default: T, expected: &str) -> Result<T> {
        match self.entries.get(key) {
            None => Ok(default),
            Some(e) => e
                .value
                .trim()
                .parse::<T>()
                .map_err(|_| Error::invalid(key, &e.source, &e.value, expected)),
        }
    }

    /// The value of `key` as a non-negative integer, or `default`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for anything but a non-negative decimal integer.
    pub fn get_u64_or(&self, key: &str, default: u64) -> Result<u64> {
        self.get_parsed_or(key, default, "a non-negative integer")
    }

    /// The value of `key` as a signed integer, or `default`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for anything but a decimal integer.
    pub fn get_i64_or(&self, key: &str, default: i64) -> Result<i64> {
        self.get_parsed_or(key, default, "an integer")
    }

    /// The value of `key` as a finite number, or `default`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for anything but a finite decimal number.
    pub fn get_f64_or(&self, key: &str, default: f64) -> Result<f64> {
        let v: f64 = self.get_parsed_or(key, default, "a number")?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.invalid(key, "a finite number"))
        }
    }

    /// The value of `key` as a number in `[lo, hi]`, or `default`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a non-number or a number out of range.
    pub fn get_f64_in(&self, key: &str, default: f64, lo: f64, hi: f64) -> Result<f64> {
        let v = self.get_f64_or(key, default)?;
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.invalid(key, &format!("a number between {lo} and {hi}")))
        }
    }

    /// The value of `key` as `true` or `false` (any letter case), or `default`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for any other word.
    pub fn get_bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.entries.get(key) {
            None => Ok(default),
            Some(e) => match e.value.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(Error::invalid(key, &e.source, &e.value, "`true` or `false`")),
            },
        }
    }

    /// The value of `key` as a comma-separated list of finite numbers (for sweeps), or an
    /// empty list when it is not set.
    ///
    /// # Errors
    /// [`Error::Invalid`] when an element is not a finite number.
    pub fn get_f64_list(&self, key: &str) -> Result<Vec<f64>> {
        let Some(e) = self.entries.get(key) else {
            return Ok(Vec::new());
        };
        let expected = "a comma-separated list of numbers";
        e.value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(Error::invalid(key, &e.source, &e.value, expected)),
            })
            .collect()
    }

    /// An [`Error::Invalid`] for the current value of `key` (which must be set; a missing key
    /// is reported with the default as its source).
    pub fn invalid(&self, key: &str, expected: &str) -> Error {
        match self.entries.get(key) {
            Some(e) => Error::invalid(key, &e.source, &e.value, expected),
            None => Error::invalid(key, &Source::Default, "", expected),
        }
    }

    /// The keys that neither this crate nor the caller knows, sorted. The caller passes a
    /// predicate for its own keys (the harness's `db`, `threadcount`, the store's `store.*`…),
    /// and prints one warning listing the result: a typo must not silently change an experiment.
    pub fn unknown_keys(&self, is_known_elsewhere: impl Fn(&str) -> bool) -> Vec<String> {
        self.entries
            .keys()
            .filter(|k| !crate::config::is_workload_property(k) && !is_known_elsewhere(k))
            .cloned()
            .collect()
    }
}

/// Splits a `-p` argument `key=value` into its parts.
///
/// # Errors
/// [`Error::Syntax`] when there is no `=` or the key is empty.
pub fn parse_override(arg: &str) -> Result<(String, String)> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(Error::Syntax {
            location: "-p".to_string(),
            message: format!("expected key=value, got `{arg}`"),
        }),
    }
}

/// Parses Java `.properties` text into `(key, value, line)` triples, in file order.
fn parse_properties(text: &str, path: &Path) -> Result<Vec<(String, String, usize)>> {
    let lines = natural_lines(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = i;
        let line = lines[i].trim_start_matches(is_blank);
        i += 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        // Join continuation lines into one logical line.
        let mut logical = String::from(line);
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.get(i) {
                Some(next) => {
                    logical.push_str(next.trim_start_matches(is_blank));
                    i += 1;
                }
                None => break,
            }
        }
        let location = || format!("{}:{}", path.display(), first + 1);
        let (key, value) = split_key_value(&logical)
            .map_err(|message| Error::Syntax { location: location(), message })?;
        if key.is_empty() {
            return Err(Error::Syntax { location: location(), message: "empty key".to_string() });
        }
        out.push((key, value, first + 1));
    }
    Ok(out)
}

/// Splits text into lines ended by `\n`, `\r\n` or `\r`.
fn natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Java's property-file whitespace.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Whether `s` ends in an odd number of backslashes (a line continuation).
fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Splits a logical line into its unescaped key and value.
fn split_key_value(line: &str) -> std::result::Result<(String, String), String> {
    let mut chars = line.chars().peekable();
    let mut key = String::new();
    // The key runs to the first unescaped separator.
    while let Some(&c) = chars.peek() {
        if c == '=' || c == ':' || is_blank(c) {
            break;
        }
        chars.next();
        if c == '\\' {
            key.push(unescape_one(&mut chars)?);
        } else {
            key.push(c);
        }
    }
    while chars.peek().is_some_and(|&c| is_blank(c)) {
        chars.next();
    }
    if chars.peek().is_some_and(|&c| c == '=' || c == ':') {
        chars.next();
        while chars.peek().is_some_and(|&c| is_blank(c)) {
            chars.next();
        }
    }
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if c == '\\' {
            value.push(unescape_one(&mut chars)?);
        } else {
            value.push(c);
        }
    }
    Ok((key, value))
}

/// Resolves the escape after a backslash.
fn unescape_one(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> std::result::Result<char, String> {
    match chars.next() {
        None => Ok('\\'),
        Some('t') => Ok('\t'),
        Some('n') => Ok('\n'),
        Some('r') => Ok('\r'),
        Some('f') => Ok('\x0c'),
        Some('u') => {
            let hex: String = chars.by_ref().take(4).collect();
            u32::from_str_radix(&hex, 16)
                .ok()
                .filter(|_| hex.len() == 4)
                .and_then(char::from_u32)
                .ok_or_else(|| format!("malformed \\uXXXX escape `\\u{hex}`"))
        }
        Some(c) => Ok(c),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Vec<(String, String, usize)> {
        parse_properties(text, Path::new("t")).unwrap()
    }

    fn kv(k: &str, v: &str, line: usize) -> (String, String, usize) {
        (k.to_string(), v.to_string(), line)
    }

    #[test]
    fn java_syntax() {
        let text = "# comment\n  ! also comment\n\na=1\nb : 2\nc 3\n  d=  4  \n\
                    e=one \\\n    two\nf\\=g=h\\:i\ng\\ h = x\\ty\\u0041\nempty=\nk\n\
                    # not continued \\\nl=m\r\nn=o\rp=q";
        assert_eq!(
            parse(text),
            vec![
                kv("a", "1", 4),
                kv("b", "2", 5),
                kv("c", "3", 6),
                kv("d", "4  ", 7),
                kv("e", "one two", 8),
                kv("f=g", "h:i", 10),
                kv("g h", "x\tyA", 11),
                kv("empty", "", 12),
                kv("k", "", 13),
                kv("l", "m", 15),
                kv("n", "o", 16),
                kv("p", "q", 17),
            ]
        );
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        assert_eq!(parse("a=x\\\\\nb=y"), vec![kv("a", "x\\", 1), kv("b", "y", 2)]);
    }

    #[test]
    fn bad_unicode_escape_is_reported_with_line() {
        let err = parse_properties("a=1\nb=\\u12G4\n", Path::new("w")).unwrap_err();
        assert_eq!(err.to_string(), "w:2: malformed \\uXXXX escape `\\u12G4`");
    }

    #[test]
    fn merge_order_later_wins_and_sources_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "x=1\ny=1\nz=1\n").unwrap();
        std::fs::write(&b, "y=2\n").unwrap();
        let props = Properties::load(&[a.clone(), b.clone()], &[("z".into(), "3".into())]).unwrap();
        assert_eq!(props.get("x"), Some("1"));
        assert_eq!(props.get("y"), Some("2"));
        assert_eq!(props.get("z"), Some("3"));
        assert_eq!(props.source("x"), Source::File { path: a, line: 1 });
        assert_eq!(props.source("y"), Source::File { path: b, line: 1 });
        assert_eq!(props.source("z"), Source::Override);
        let keys: Vec<&str> = props.iter().map(|(k, _, _)| k).collect();
        assert_eq!(keys, vec!["x", "y", "z"]);
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = Properties::load(&[PathBuf::from("/nonexistent/wl")], &[]).unwrap_err();
        assert!(err.to_string().starts_with("cannot read property file /nonexistent/wl:"), "{err}");
    }

    #[test]
    fn typed_getters_report_key_source_value_expected() {
        let props = Properties::from_text("n=ten\nf=0.5x\nb=yes\nok=12\n", "wl").unwrap();
        assert_eq!(
            props.get_u64_or("n", 1).unwrap_err().to_string(),
            "property `n` (wl:1): bad value `ten`: expected a non-negative integer"
        );
        assert_eq!(
            props.get_f64_or("f", 1.0).unwrap_err().to_string(),
            "property `f` (wl:2): bad value `0.5x`: expected a number"
        );
        assert_eq!(
            props.get_bool_or("b", true).unwrap_err().to_string(),
            "property `b` (wl:3): bad value `yes`: expected `true` or `false`"
        );
        assert_eq!(props.get_u64_or("ok", 1).unwrap(), 12);
        assert_eq!(props.get_u64_or("absent", 7).unwrap(), 7);
    }

    #[test]
    fn overrides_parse() {
        assert_eq!(parse_override("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_override("novalue").is_err());
    }

    #[test]
    fn unknown_keys_use_both_lists() {
        let props =
            Properties::from_text("readproportion=1\nreadproportoin=1\ndb=x\nstore.a=1\n", "wl")
                .unwrap();
        let unknown = props.unknown_keys(|k| k == "db" || k.starts_with("store."));
        assert_eq!(unknown, vec!["readproportoin".to_string()]);
    }
}
