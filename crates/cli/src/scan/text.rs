//! A scan's report as text for people ([`ScanReport`]'s `Display`), at most [`WIDTH`] columns:
//! a section a rule, a line a burst (verdict and principal), its figures and details on the
//! lines below it, long text wrapped. Every value from CloudTrail or the inputs (names, keys,
//! addresses, user agents, file names, problems) goes through the one escaping path
//! ([`Untrusted`]), so no value can start a line of its own.

use std::fmt;

use launchguard_core::text::{Untrusted, untrusted};
use launchguard_core::threshold::{Counted, Verdict};
use launchguard_core::time::format_utc;
use launchguard_core::windows::Horizon;

use super::report::{Launcher, RuleReport, ScanReport, why};

/// The widest line of the text report, in characters.
pub const WIDTH: usize = 100;

/// Where a burst's details start.
const DETAIL: usize = 12;

/// `text` (already escaped) as lines of at most [`WIDTH`] characters: the first after `first`
/// spaces, the others after `rest`; broken at spaces, a word too long for a line cut across lines.
fn wrap(text: &str, first: usize, rest: usize) -> String {
    wrap_after(&" ".repeat(first), text, rest)
}

/// [`wrap`], the first line starting with `prefix` as it is (a padded column).
fn wrap_after(prefix: &str, text: &str, rest: usize) -> String {
    let mut out = String::new();
    let first = prefix.chars().count();
    let (mut line, mut len, mut indent) = (prefix.to_owned(), first, first);
    let next_line = |out: &mut String, line: &mut String, len: &mut usize, indent: &mut usize| {
        out.push_str(line.trim_end());
        out.push('\n');
        (*line, *len, *indent) = (" ".repeat(rest), rest, rest);
    };
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut chars: Vec<char> = word.chars().collect();
        while !chars.is_empty() {
            let sep = usize::from(len > indent);
            if len + sep + chars.len() <= WIDTH {
                len += sep + chars.len();
                line.extend(std::iter::repeat_n(' ', sep).chain(chars.drain(..)));
            } else if (len > indent && chars.len() <= WIDTH - rest) || WIDTH <= len + sep {
                // it fits on the next line, or this one is full
                next_line(&mut out, &mut line, &mut len, &mut indent);
            } else {
                // too long for any line: as much as fits here, the rest on the next
                let tail = chars.split_off(WIDTH - len - sep);
                line.extend(std::iter::repeat_n(' ', sep).chain(chars.drain(..)));
                chars = tail;
                next_line(&mut out, &mut line, &mut len, &mut indent);
            }
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// A principal as the text report shows it: CloudTrail's name, through the one escaping path,
/// with its account when the input holds several.
fn who(label: &str, account: Option<&str>, several: bool) -> String {
    match account.filter(|_| several) {
        Some(a) => format!("{} {}", Untrusted(a), Untrusted(label)),
        None => untrusted(label),
    }
}

fn list(v: &[String], max: usize) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let mut s = v.iter().take(max).map(|x| untrusted(x)).collect::<Vec<_>>().join(", ");
    if v.len() > max {
        s.push_str(&format!(" (+{})", v.len() - max));
    }
    s
}

impl RuleReport {
    fn render(&self, f: &mut fmt::Formatter<'_>, several_accounts: bool) -> fmt::Result {
        let horizons: Vec<String> = self.horizons.iter().map(Horizon::describe).collect();
        let launches = self.counts == Counted::Instances;
        write!(
            f,
            "{}",
            wrap(
                &format!("Rule {} ({}): {} counted, {} duplicate(s)", self.rule, self.event, self.stats.matched, self.stats.duplicates),
                0,
                2
            )
        )?;
        write!(f, "{}", wrap(&format!("flagged at {} (sliding windows, half-open)", horizons.join(", or ")), 2, 2))?;
        if self.bursts.is_empty() {
            writeln!(f, "  No burst: no principal reached a threshold.")?;
        } else {
            let details = if launches { "; regions, user agents" } else { "" };
            writeln!(f, "  {:<9} PRINCIPAL (below: when it crossed, counts, why, keys, source IPs{details})", "VERDICT")?;
        }
        for b in &self.bursts {
            let verdict = match &b.verdict {
                Verdict::Flagged { .. } => "FLAGGED",
                Verdict::Excluded { .. } => "excluded",
                Verdict::BelowThreshold => "below",
            };
            let name = who(&b.principal.label(), b.principal.account_id(), several_accounts);
            write!(f, "{}", wrap_after(&format!("  {verdict:<9} "), &name, DETAIL))?;
            let at = b.crossed.map_or(b.start, |c| c.at);
            let duration = (b.end - b.start).num_seconds();
            let figures = if launches {
                format!(
                    "crossed at {}, over {duration}s: {} calls, {} failed, {} launched, {} requested",
                    format_utc(at),
                    b.calls,
                    b.failed_calls,
                    b.instances_launched,
                    b.instances_requested
                )
            } else {
                format!("crossed at {}, over {duration}s: {} calls, {} failed", format_utc(at), b.calls, b.failed_calls)
            };
            write!(f, "{}", wrap(&figures, DETAIL, DETAIL))?;
            write!(f, "{}", wrap(&format!("why: {}", why(b, self.counts)), DETAIL, DETAIL + 5))?;
            write!(
                f,
                "{}",
                wrap(&format!("keys: {}; source IPs: {}", list(&b.access_keys, 3), list(&b.source_ips, 3)), DETAIL, DETAIL + 6)
            )?;
            if launches {
                let agents = list(&b.user_agents, 1);
                write!(f, "{}", wrap(&format!("regions: {}; user agents: {agents}", list(&b.regions, 3)), DETAIL, DETAIL + 9))?;
            }
        }
        let quiet: Vec<&Launcher> = self.launchers.iter().filter(|l| l.bursts_flagged == 0).collect();
        if !quiet.is_empty() {
            writeln!(f, "  {} without a flagged burst (whole input):", if launches { "Launchers" } else { "Callers" })?;
            for l in quiet.iter().take(20) {
                write!(f, "{}", wrap(&who(&l.principal, l.account.as_deref(), several_accounts), 4, 6))?;
                let figures = if launches {
                    format!(
                        "{} calls, {} failed, {} launched, {} requested",
                        l.calls, l.failed_calls, l.instances_launched, l.instances_requested
                    )
                } else {
                    format!("{} calls, {} failed", l.calls, l.failed_calls)
                };
                write!(f, "{}", wrap(&format!("{figures}; {} .. {}", format_utc(l.first_seen), format_utc(l.last_seen)), 6, 6))?;
            }
            if quiet.len() > 20 {
                writeln!(f, "    ... and {} more (--format json lists them all)", quiet.len() - 20)?;
            }
        }
        let resizers: Vec<&Launcher> = self.launchers.iter().filter(|l| l.unknown_prior_resize_calls > 0).collect();
        if !resizers.is_empty() {
            writeln!(f, "  Resizes of unknown prior size (counted as 0 instances; not judged):")?;
            for l in resizers {
                write!(f, "{}", wrap(&who(&l.principal, l.account.as_deref(), several_accounts), 4, 6))?;
                let words = launchguard_core::burst::unknown_resizes_words(l.unknown_prior_resize_calls, &l.unknown_prior_resizes);
                write!(f, "{}", wrap(&words, 6, 6))?;
            }
        }
        if let Some(t) = &self.totals {
            writeln!(f, "  Whole-input totals (--totals):")?;
            for (verdict, ps) in [("FLAGGED", &t.flagged), ("excluded", &t.excluded)] {
                for p in ps {
                    write!(f, "{}", wrap_after(&format!("    {verdict:<9} "), &untrusted(&p.principal.label()), 14))?;
                    write!(f, "{}", wrap(&untrusted(&p.reasons.join("; ")), 14, 14))?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        let summary = format!(
            "{} records in {} input(s) ({:.1} MB), {} unreadable; {} rule(s) replayed",
            s.rows,
            self.inputs.listed,
            self.inputs.bytes as f64 / 1e6,
            s.unparseable,
            self.rules.len()
        );
        write!(f, "{}", wrap(&summary, 0, 2))?;
        let accounts: std::collections::BTreeSet<&str> = self.launchers.iter().filter_map(|l| l.account.as_deref()).collect();
        let several = accounts.len() > 1;
        for r in &self.rules {
            writeln!(f)?;
            r.render(f, several)?;
        }
        if !self.incomplete_inputs.is_empty() {
            writeln!(f)?;
            writeln!(f, "NOT READ WHOLE ({} input(s)):", self.incomplete_inputs.len())?;
            for i in &self.incomplete_inputs {
                write!(f, "{}", wrap(&format!("{}: {}", Untrusted(&i.input), Untrusted(&i.problem)), 2, 4))?;
            }
        }
        if !self.skipped_inputs.is_empty() {
            writeln!(f)?;
            writeln!(f, "Skipped, not CloudTrail ({} file(s); --include/--exclude narrow a walk):", self.skipped_inputs.len())?;
            for i in self.skipped_inputs.iter().take(20) {
                write!(f, "{}", wrap(&format!("{}: {}", Untrusted(&i.input), Untrusted(&i.reason)), 2, 4))?;
            }
            if self.skipped_inputs.len() > 20 {
                writeln!(f, "  ... and {} more (--format json lists them all)", self.skipped_inputs.len() - 20)?;
            }
        }
        for w in &self.warnings {
            writeln!(f)?;
            write!(f, "{}", wrap(&format!("warning: {}", Untrusted(w)), 0, 2))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wrapping_breaks_at_spaces_and_indents_what_follows() {
        let text = "word ".repeat(30);
        let out = wrap(&text, 2, 6);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() == 2 && lines[0].starts_with("  word") && lines[1].starts_with("      word"), "{out}");
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH && !l.ends_with(' ')), "{out}");
        assert_eq!(wrap("short", 4, 4), "    short\n");
        assert_eq!(wrap("", 0, 0), "\n");
    }

    proptest! {
        /// Whatever the text (a path with no space, words of any length), no line is wider than
        /// WIDTH and no character is lost.
        #[test]
        fn no_line_is_wider_than_the_width(text in "[a-z/ ]{0,400}|[a-z]{90,300}", first in 0usize..20, rest in 0usize..20) {
            let out = wrap(&text, first, rest);
            for line in out.lines() {
                prop_assert!(line.chars().count() <= WIDTH, "{:?}", line);
            }
            let kept: String = out.chars().filter(|c| !c.is_whitespace()).collect();
            let given: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            prop_assert_eq!(kept, given);
        }
    }
}
