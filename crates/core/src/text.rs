//! The one escaping path for outside text: every value launchguard did not write itself (tags,
//! policy documents, user agents, session names, CloudTrail fields, AWS error messages, handler
//! details built from them) goes through [`untrusted`] before it reaches a page, a report, a log
//! line meant for people or a shell command.
//!
//! What it neutralises: every character of the Unicode categories Cc (controls: line breaks,
//! escape sequences), Cf (format: bidi controls such as U+202E, zero-width characters), Zl
//! (U+2028) and Zp (U+2029). Each is shown as its escape (`\n`, `\u{202e}`), so no value can start
//! a line of its own, reorder what a person reads, or hide text.

use std::fmt;

use unicode_general_category::{GeneralCategory, get_general_category};

/// True for a character that [`untrusted`] shows escaped: categories Cc, Cf, Zl and Zp.
pub fn is_neutralised(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Control | GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

/// Write `s` to `out` with every character of categories Cc, Cf, Zl and Zp shown as its escape:
/// the one escaping path, behind [`untrusted`] and [`Untrusted`].
fn escape_into(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    for c in s.chars() {
        if is_neutralised(c) {
            for e in c.escape_default() {
                out.write_char(e)?;
            }
        } else {
            out.write_char(c)?;
        }
    }
    Ok(())
}

/// `s` with every character of categories Cc, Cf, Zl and Zp shown as its escape (`\n`, `\t`,
/// `\u{202e}`); everything else as it is. The result holds none of those characters.
pub fn untrusted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let _ = escape_into(&mut out, s); // writing to a String cannot fail
    out
}

/// JSON text (as `serde_json` writes it) with every non-ASCII character of categories Cc, Cf, Zl
/// and Zp written as its `\uXXXX` escape (a surrogate pair above U+FFFF). `serde_json` escapes only
/// U+0000-U+001F, so U+2028 or U+202E from outside text would reach a reader raw; non-ASCII
/// characters appear only inside JSON strings, so the result is the same JSON value.
pub fn json_text(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() || !is_neutralised(c) {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        }
    }
    out
}

/// Outside text that escapes itself wherever it is formatted: `format!("{}", Untrusted(&name))`
/// and `tracing::warn!(user = %Untrusted(&name), …)` show [`untrusted`]'s text. Wrap any
/// `Display` value launchguard did not write (a name, a tag, an AWS error, an error that quotes
/// one): the wrapper is the type that says "outside text", so a line built from it cannot forget
/// to escape.
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<T>(pub T);

impl<T: fmt::Display> fmt::Display for Untrusted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Escaping<'a, 'b>(&'a mut fmt::Formatter<'b>);
        impl fmt::Write for Escaping<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                escape_into(self.0, s)
            }
        }
        fmt::write(&mut Escaping(f), format_args!("{}", self.0))
    }
}
