//! Small helpers for the Markdown and HTML that reports and comparisons write. The HTML is
//! also well-formed XML (every element closed, text escaped) so tests and tools can parse it.

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete page with inline CSS; `body` is HTML.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

const CSS: &str = "body { font-family: 'DejaVu Sans', Verdana, sans-serif; max-width: 1100px; \
margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
figure { margin: 2em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
.regression { color: #b00020; font-weight: bold; }
.improvement { color: #0a7a28; font-weight: bold; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: middle; }
";

/// An HTML table: header texts and rows of already-escaped cell HTML; cells that look like
/// numbers are right-aligned.
pub(crate) fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>\n<tr>");
    for h in headers {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let class = if looks_numeric(cell) { " class=\"num\"" } else { "" };
            out.push_str(&format!("<td{class}>{cell}</td>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// Whether a cell holds a number, possibly with an interval (`123.4 ± 5.6`).
fn looks_numeric(cell: &str) -> bool {
    cell.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-')
        && cell.chars().all(|c| c.is_ascii_digit() || ".-+e ±".contains(c))
}

/// A Markdown table of plain-text cells.
pub(crate) fn md_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out =
        format!("| {} |\n", headers.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
    out.push_str(&format!("|{}\n", " --- |".repeat(headers.len())));
    for row in rows {
        out.push_str(&format!(
            "| {} |\n",
            row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

/// A number with about three significant digits.
pub(crate) fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_numbers() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let cases = [
            (12345.6, "12346"),
            (123.45, "123.5"),
            (1.234, "1.23"),
            (0.01234, "0.012"),
            (0.0, "0"),
        ];
        for (v, want) in cases {
            assert_eq!(num(v), want);
        }
        assert!(looks_numeric("123.4 ± 5.6") && looks_numeric("-3") && !looks_numeric("6.1.0-x"));
        assert!(!looks_numeric("0123abc") && !looks_numeric("–"));
        let t = md_table(&["a|b".into()], &[vec!["1".into()]]);
        assert_eq!(t, "| a\\|b |\n| --- |\n| 1 |\n");
    }
}
