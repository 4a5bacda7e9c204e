//! Escaping attacker-controlled text (user agents, session names, ARNs, reasons, details).
//!
//! Every string that reaches a report from CloudTrail, IAM or a handler goes through one of
//! these; the renderers never write such a string any other way. Both start from the one escaping
//! path, [`launchguard_core::text::untrusted`] (Unicode Cc, Cf, Zl and Zp shown escaped: line
//! breaks, U+2028, U+2029, bidi controls such as U+202E), then escape their own syntax.

/// Text for HTML element content and attribute values: `&`, `<`, `>`, `"` and `'` as entities;
/// Cc, Cf, Zl and Zp (line breaks, bidi controls) as visible `\u{..}` escapes, so nothing can start
/// a line of its own, reorder the text or hide in a terminal dump of the page.
pub fn html(s: &str) -> String {
    let s = launchguard_core::text::untrusted(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
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

/// Text for a Markdown table cell or line: HTML's escapes (a Markdown viewer renders inline
/// HTML), and every character that has a meaning in Markdown (`\`, `` ` ``, `*`, `_`, `[`, `]`,
/// `|`, `#`, `!`, `~`) backslash-escaped; Cc, Cf, Zl and Zp shown escaped (their escape's
/// backslash escaped too).
pub fn markdown(s: &str) -> String {
    let s = launchguard_core::text::untrusted(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, with `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_tag_is_inert_in_both() {
        let ua = "<script>alert('x')</script>\nlaunchguard release";
        assert_eq!(html(ua), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\\nlaunchguard release");
        let md = markdown(ua);
        assert!(!md.contains('<') && !md.contains('\n'), "{md}");
    }

    #[test]
    fn shorten_counts_characters_not_bytes() {
        assert_eq!(shorten("ééééé", 3), "éé…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
