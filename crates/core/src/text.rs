//! The one escaping path for outside text: every value launchguard did not write itself (tags,
//! policy documents, user agents, session names, CloudTrail fields, AWS error messages, handler
//! details built from them) goes through [`untrusted`] before it reaches a page, a report, a log
//! line meant for people or a shell command.
//!
//! What it neutralises: every character of the Unicode categories Cc (controls: line breaks,
//! escape sequences), Cf (format: bidi controls such as U+202E, zero-width characters), Zl
//! (U+2028) and Zp (U+2029). Each is shown as its escape (`\n`, `\u{202e}`), so no value can start
//! a line of its own, reorder what a person reads, or hide text.

use unicode_general_category::{GeneralCategory, get_general_category};

/// True for a character that [`untrusted`] shows escaped: categories Cc, Cf, Zl and Zp.
pub fn is_neutralised(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Control | GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

/// `s` with every character of categories Cc, Cf, Zl and Zp shown as its escape (`\n`, `\t`,
/// `\u{202e}`); everything else as it is. The result holds none of those characters.
pub fn untrusted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_neutralised(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
