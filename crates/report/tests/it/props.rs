//! Property tests: no input makes a renderer panic, and no `<` from input reaches the HTML raw.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::common;

use launchguard_report::{Format, IncidentFacts, PeriodSummary, render, render_summary};
use proptest::prelude::*;

fn hostile(s: &str) -> launchguard_report::ReportInput {
    let mut input = common::input();
    for p in &mut input.finding.principals {
        p.activity.user_agents.insert(s.to_owned());
        p.activity.session_names.insert(s.to_owned());
        p.activity.source_ips.insert(s.to_owned());
        p.reasons.push(s.to_owned());
    }
    input.finding.finding_id = format!("lg-{s}");
    input.refusals.push(s.to_owned());
    input.outcomes[0].detail = s.to_owned();
    input.outcomes[0].warnings.push(s.to_owned());
    input.releases[0].reason = Some(s.to_owned());
    input.releases[0].requested_by = Some(s.to_owned());
    input
}

fn raw_lt(s: &str) -> usize {
    s.matches('<').count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn input_never_adds_a_tag(s in "\\PC{0,40}[<>&\"']\\PC{0,40}") {
        // the same report with the input's `<` replaced: any difference in raw `<` is a tag from input
        let html = render(&hostile(&s), Format::Html).unwrap();
        let plain = render(&hostile(&s.replace('<', "x")), Format::Html).unwrap();
        prop_assert_eq!(raw_lt(&html), raw_lt(&plain));
        let md = render(&hostile(&s), Format::Markdown).unwrap();
        let md_plain = render(&hostile(&s.replace('<', "x")), Format::Markdown).unwrap();
        prop_assert_eq!(raw_lt(&md), raw_lt(&md_plain));
        prop_assert!(render(&hostile(&s), Format::Json).is_ok());
    }

    #[test]
    fn any_period_and_any_text_render(s in "\\PC{0,60}", since in 0i64..4_000_000_000, len in -100_000i64..100_000_000, age in 0i64..1_000_000) {
        let input = hostile(&s);
        let since = chrono::DateTime::from_timestamp(since, 0).unwrap();
        let until = since + chrono::Duration::seconds(len);
        let now = until + chrono::Duration::seconds(age);
        let facts = IncidentFacts {
            finding_id: input.finding.finding_id.clone(),
            recorded_at: since,
            principals: vec![s.clone()],
            nobody: false,
            dry_run: false,
            person: true,
            outcomes: input.outcomes.clone(),
            releases: input.releases.clone(),
            verified: false,
            open: input.outcomes.iter().map(|o| launchguard_report::Holding { action: o.action.clone(), since: o.completed_at }).collect(),
        };
        let summary = PeriodSummary::build(&[facts], since, until, now);
        for f in [Format::Html, Format::Markdown, Format::Json] {
            prop_assert!(render_summary(&summary, f).is_ok());
        }
        let html = render_summary(&summary, Format::Html).unwrap();
        let facts_plain = PeriodSummary::build(&[IncidentFacts { principals: vec![s.replace('<', "x")], ..serde_json::from_value(serde_json::to_value(IncidentFacts {
            finding_id: input.finding.finding_id.replace('<', "x"), recorded_at: since, principals: vec![], nobody: false, dry_run: false, person: true,
            outcomes: hostile(&s.replace('<', "x")).outcomes, releases: hostile(&s.replace('<', "x")).releases, verified: false,
            open: hostile(&s.replace('<', "x")).outcomes.iter().map(|o| launchguard_report::Holding { action: o.action.clone(), since: o.completed_at }).collect() }).unwrap()).unwrap() }], since, until, now);
        prop_assert_eq!(raw_lt(&html), raw_lt(&render_summary(&facts_plain, Format::Html).unwrap()));
    }
}
