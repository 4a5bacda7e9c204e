//! Issue 14: the incident report of a real-data finding shows every principal, action and
//! outcome; the chart's data is the finding's per-minute counts; attacker text is inert.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::common;

use std::collections::BTreeMap;

use common::{HOSTILE_AGENT, input};
use launchguard_report::escape;
use launchguard_report::model::ReportDocument;
use launchguard_report::{Format, Timeline, render};

/// Every `data-minute`/`data-count` of a series in the SVG, summed per minute.
fn chart_counts(html: &str, series: usize) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for rect in html.split("<rect ").skip(1) {
        let attr = |name: &str| rect.split(&format!("{name}=\"")).nth(1).and_then(|s| s.split('"').next()).unwrap_or_default().to_owned();
        if attr("data-series") == series.to_string() {
            *out.entry(attr("data-minute")).or_default() += attr("data-count").parse::<u64>().unwrap();
        }
    }
    out
}

#[test]
fn the_report_names_every_principal_key_ip_agent_action_and_outcome() {
    // GIVEN a finding made from injected bursts over real CloudTrail, and its outcomes
    let input = input();
    assert_eq!(input.finding.principals.len(), 2, "ci-deployer and DataScience are over the threshold");
    // WHEN it is rendered in both formats
    let md = render(&input, Format::Markdown).unwrap();
    let html = render(&input, Format::Html).unwrap();
    // THEN every principal and what it used appear, escaped for the format
    for doc in [(&md, escape::markdown as fn(&str) -> String), (&html, escape::html)] {
        let (text, esc) = doc;
        for p in &input.finding.principals {
            let a = &p.activity;
            assert!(text.contains(&esc(&p.principal.label())), "{}", p.principal.label());
            let values = a
                .access_keys
                .iter()
                .map(|k| k.access_key_id.clone())
                .chain(a.source_ips.iter().cloned())
                .chain(a.user_agents.iter().cloned());
            for v in values.chain(a.regions.iter().cloned()).chain(a.instance_types.iter().cloned()).chain(a.instance_ids.iter().cloned()) {
                assert!(text.contains(&esc(&v)), "{v} missing");
            }
        }
        for e in &input.finding.excluded {
            assert!(text.contains(&esc(&e.principal.label())), "excluded {}", e.principal.label());
        }
        // every action, its target, outcome and reversal
        for o in &input.outcomes {
            assert!(text.contains(&esc(o.action.name())) && text.contains(&esc(&o.action.target())), "{}", o.action.name());
            if let Some(r) = &o.reversal {
                assert!(text.contains(&esc(r.name())), "{}", r.name());
            }
        }
        for word in
            ["APPLIED", "REFUSED", "protected (PROTECTED", "breakglass-admin", "rotate its credentials", "false positive: load test"]
        {
            assert!(text.contains(&esc(word)), "{word}");
        }
    }
    assert!(html.contains("RELEASED") && md.contains("RELEASED"), "the headline says the finding was released since");
}

#[test]
fn the_chart_is_the_findings_per_minute_counts() {
    // GIVEN the real-data finding, whose bursts span several minutes
    let input = input();
    let html = render(&input, Format::Html).unwrap();
    for (i, p) in input.finding.principals.iter().enumerate() {
        let per_minute = &p.activity.launches_per_minute;
        assert!(per_minute.len() >= 2, "{} spans several minutes", p.principal.label());
        // WHEN the SVG's bars of its series are read back
        let drawn = chart_counts(&html, i);
        // THEN they are its per-minute launches, minute by minute, and nothing else
        let expected: BTreeMap<String, u64> =
            per_minute.iter().filter(|(_, m)| m.launched > 0).map(|(t, m)| (t.format("%Y-%m-%dT%H:%MZ").to_string(), m.launched)).collect();
        assert_eq!(drawn, expected, "{}", p.principal.label());
        assert_eq!(drawn.values().sum::<u64>(), p.activity.instances_launched);
    }
    // and the JSON form carries the same series
    let json: serde_json::Value = serde_json::from_str(&render(&input, Format::Json).unwrap()).unwrap();
    let t = Timeline::of(&input.finding);
    assert_eq!(json["timeline"], serde_json::to_value(&t).unwrap());
    assert_eq!(json["headline"], "released");
    assert_eq!(ReportDocument::of(&input).finding_id, input.finding.finding_id);
}

#[test]
fn hostile_text_is_inert_and_the_page_requests_nothing() {
    // GIVEN a user agent, a refusal and a release reason holding markup
    let input = input();
    assert!(input.finding.principals.iter().any(|p| p.activity.user_agents.contains(HOSTILE_AGENT)));
    // WHEN the page is rendered
    let html = render(&input, Format::Html).unwrap();
    let lower = html.to_lowercase();
    // THEN no tag of it is live, and the page has no script, link, source or URL to fetch
    assert!(!lower.contains("<script") && !lower.contains("<img") && !lower.contains("<b>"), "markup from input must be escaped");
    assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
    // (attribute values are quoted: an escaped `src=` from input has no `"` after it)
    for needle in ["src=\"", "href=\"", "url(", "@import", "<link", "<iframe", "<object", "<embed"] {
        assert!(!lower.contains(needle), "{needle} in the page");
    }
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
    // the Markdown has no raw markup and no line started by input
    let md = render(&input, Format::Markdown).unwrap();
    assert!(!md.contains("<script") && !md.contains("\n| launchguard release"));
}

#[test]
fn a_finding_without_per_minute_data_says_so_instead_of_drawing() {
    // GIVEN the finding as a payload cut to fit would carry it (timelines dropped first)
    let mut input = input();
    for p in &mut input.finding.principals {
        p.activity.launches_per_minute.clear();
    }
    // WHEN rendered
    let html = render(&input, Format::Html).unwrap();
    // THEN there is no chart, and the page says why
    assert!(!html.contains("<svg"));
    assert!(html.contains("No per-minute data in the finding"));
}

#[test]
fn what_a_principal_created_is_in_every_format() {
    // GIVEN a key burst: the first principal created a user and a key for another user (issue 13)
    use launchguard_core::created::Created;
    let mut input = input();
    let at = input.finding.window.start;
    input.finding.principals[0].activity.created = vec![
        Created::User { user_name: "backdoor-1".into(), created_at: at },
        Created::AccessKey { access_key_id: "AKIAEXAMPLEBACKDOOR1".into(), user_name: "backdoor-1".into(), created_at: at },
    ];
    for format in [Format::Markdown, Format::Html, Format::Json] {
        let text = render(&input, format).unwrap();
        // THEN each created thing is named with whom it is for
        assert!(text.contains("AKIAEXAMPLEBACKDOOR1"), "{format:?}");
        assert!(text.contains("backdoor-1"), "{format:?}");
    }
    let md = render(&input, Format::Markdown).unwrap();
    assert!(md.contains("key AKIAEXAMPLEBACKDOOR1 of backdoor-1"), "{md}");
}
