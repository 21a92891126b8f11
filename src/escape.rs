//! Names (genes, cells, variables, conditions) made safe for each output format.
//!
//! Names come from users' files and may hold anything: a tab or newline (which splits a TSV
//! row), `<script>` (which a Markdown viewer or browser runs), `|` (which splits a table cell),
//! an ANSI escape (which rewrites the terminal) or a NUL (which makes an SVG invalid XML).
//! Every writer passes names through the function for its format; each function returns the
//! name unchanged (borrowed) when nothing needs escaping, so ordinary names cost nothing.
//!
//! Control characters are shown as Rust-style escapes (`\n`, `\t`, `\u{1b}`) wherever the
//! format has no way to hold them.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `c` as visible text: `\n`, `\t`, `\r`, `\0`, `\u{1b}`.
fn visible(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\0' => out.push_str("\\0"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Escapes every char for which `needs` is true with `esc`.
fn escape_with(
    s: &str,
    needs: impl Fn(char) -> bool,
    esc: impl Fn(char, &mut String),
) -> Cow<'_, str> {
    if !s.chars().any(&needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs(c) {
            esc(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A name for the terminal or a plain-text report: every control character (newline and tab
/// included) shown as an escape, so a name stays on its line and cannot send terminal
/// commands.
pub fn terminal(name: &str) -> Cow<'_, str> {
    escape_with(name, char::is_control, visible)
}

/// Text for the terminal that may span lines: control characters other than newline and tab
/// shown as escapes.
pub fn terminal_text(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| c.is_control() && c != '\n' && c != '\t', visible)
}

/// A field of a tab-separated file: backslash, tab, newline and carriage return written as
/// `\\`, `\t`, `\n`, `\r` (the escapes of PostgreSQL's text format and of "linear TSV"), other
/// control characters as `\u{..}`. A row then always has its columns on one line.
pub fn tsv(field: &str) -> Cow<'_, str> {
    escape_with(
        field,
        |c| c == '\\' || c.is_control(),
        |c, out| match c {
            '\\' => out.push_str("\\\\"),
            c => visible(c, out),
        },
    )
}

/// A field of a comma-separated file (RFC 4180): quoted when it holds a comma, quote,
/// newline or leading/trailing space, with quotes doubled.
pub fn csv(field: &str) -> Cow<'_, str> {
    let needs =
        field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ');
    if !needs {
        return Cow::Borrowed(field);
    }
    Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
}

/// Inline Markdown text (also inside a table cell): the characters Markdown gives a meaning
/// to are backslash-escaped, so `<script>` shows as text and `|` does not split a cell;
/// control characters are shown as escapes.
pub fn markdown(text: &str) -> Cow<'_, str> {
    escape_with(
        text,
        |c| {
            matches!(
                c,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '!'
            ) || c.is_control()
        },
        |c, out| {
            if c.is_control() {
                // `\u{1b}` would read as an escaped `u`: write the backslash escaped.
                let mut v = String::new();
                visible(c, &mut v);
                out.push_str(&v.replace('\\', "\\\\"));
            } else {
                out.push('\\');
                out.push(c);
            }
        },
    )
}

/// A Markdown code span holding `text` verbatim (paths, commands): fenced by one more
/// backtick than the longest run inside it, padded when it starts or ends with a backtick;
/// control characters are shown as escapes. Not for table cells, where `|` would still split
/// the cell: use [`markdown`] there.
pub fn markdown_code(text: &str) -> String {
    let text = terminal(text);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// HTML text or attribute value: `& < > " '` as entities, control characters as escapes.
pub fn html(text: &str) -> Cow<'_, str> {
    escape_with(
        text,
        |c| matches!(c, '&' | '<' | '>' | '"' | '\'') || c.is_control(),
        |c, out| match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => visible(c, out),
        },
    )
}

/// XML text already escaped for markup (as plotters writes SVG labels): the characters XML 1.0
/// cannot hold at all, escaped or not (control characters other than tab, newline and
/// carriage return; U+FFFE, U+FFFF), shown as escapes; a whole document may be passed.
pub fn xml_chars(text: &str) -> Cow<'_, str> {
    escape_with(
        text,
        |c| {
            (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                || c == '\u{fffe}'
                || c == '\u{ffff}'
        },
        visible,
    )
}

/// LaTeX text: `# $ % & ~ _ ^ \ { }` escaped, control characters shown as escapes.
pub fn latex(text: &str) -> Cow<'_, str> {
    escape_with(
        text,
        |c| {
            matches!(
                c,
                '#' | '$' | '%' | '&' | '~' | '_' | '^' | '\\' | '{' | '}'
            ) || c.is_control()
        },
        |c, out| match c {
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '\\' => out.push_str("\\textbackslash{}"),
            c if c.is_control() => {
                let mut v = String::new();
                visible(c, &mut v);
                out.push_str(
                    &v.replace('\\', "\\textbackslash{}")
                        .replace('{', "\\{")
                        .replace('}', "\\}"),
                );
            }
            c => {
                out.push('\\');
                out.push(c);
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_borrowed_unchanged() {
        for f in [terminal, tsv, csv, markdown, html, xml_chars, latex] {
            assert!(matches!(f("SNAP25"), Cow::Borrowed("SNAP25")));
        }
    }

    #[test]
    fn each_format_neutralises_its_own_specials() {
        assert_eq!(terminal("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(terminal_text("x\n\u{0}y"), "x\n\\0y");
        assert_eq!(tsv("a\tb\nc\\d"), "a\\tb\\nc\\\\d");
        assert_eq!(csv("a,b \"q\""), "\"a,b \"\"q\"\"\"");
        assert_eq!(markdown("<script>|x"), "\\<script\\>\\|x");
        assert_eq!(markdown("a\u{1b}"), "a\\\\u{1b}");
        assert_eq!(markdown_code("a/b"), "`a/b`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(html("<b a='1'>&"), "&lt;b a=&#39;1&#39;&gt;&amp;");
        assert_eq!(xml_chars("<t>x\u{0}y\n</t>"), "<t>x\\0y\n</t>");
        assert_eq!(latex("a_b & 50%"), "a\\_b \\& 50\\%");
    }
}
