//! Review 3 (attack review of issue 32's change): the evidence a finding names, and what
//! CloudTrail's confirmation of it can prove, for a launcher that paces itself.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{Duration, TimeZone, Utc};
use launchguard_core::burst::Tracker;
use launchguard_core::evidence::{Answer, Confirmation, MAX_EVIDENCE, confirm};
use launchguard_core::query::EventRule;
use launchguard_core::rules::RuleSet;
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::Thresholds;
use launchguard_core::window::TimeWindow;
use launchguard_testkit::{Actor, Burst, messages, run_instances_template};

/// MEDIUM. A launcher that paces itself under the 5-minute and the 1-hour horizons (one instance
/// a call, one call every 95 s: at most 4 in 5 minutes, 38 in an hour) crosses "150 within 24
/// hours" after about 4 hours: the multi-horizon windows exist for exactly this. CloudTrail holds
/// every one of its calls. THEN what CloudTrail confirms must be enough to contain it. On this
/// branch the evidence is the 150 calls that cross, cut to the 40 ever looked up
/// (`MAX_EVIDENCE`), which cannot cross 150: the paced launcher is notify-only for as long as it
/// keeps its pace.
#[test]
fn review3_a_paced_launcher_crossing_only_the_24_hour_horizon_can_be_confirmed() {
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0).unwrap();
    let actor = Actor::IamUser { account: "111122223333".into(), name: "miner".into(), key: "AKIAEXAMPLEMINER0001".into() };
    let mut burst = Burst::new(actor, 160, 1, start);
    burst.spacing_s = 95;
    let records = burst.records(&run_instances_template(), 77);
    let window = TimeWindow::new(start - Duration::hours(1), start + Duration::hours(24)).unwrap();
    let mut scan = Scanner::with_sink(EventRule::run_instances(), Some(window), Tracker::new());
    for m in messages(&records) {
        scan.push_message(&m);
    }
    let rules = RuleSet::bundled().unwrap();
    let horizons = rules.get("ec2-mass-launch").unwrap().horizons.clone();
    let a = scan.aggregate.assess(&horizons, &Thresholds::default());
    assert_eq!(a.flagged.len(), 1, "the paced launcher crosses 150 within 24 hours");
    let f = &a.flagged[0];
    assert_eq!(f.crossed.as_ref().unwrap().window_seconds, 86_400, "only the 24-hour horizon: {:?}", f.crossed);
    // CloudTrail's event history holds every call
    let answers: Vec<Answer> =
        records.iter().map(|r| Answer { event_id: r["eventID"].as_str().unwrap().to_owned(), record: Some(r.to_string()) }).collect();
    let verdict = confirm(&f.principal, f.evidence.as_ref(), &answers);
    assert_eq!(
        verdict,
        Confirmation::Confirmed,
        "{} evidence record(s) (at most {MAX_EVIDENCE} are looked up) for a horizon of 150",
        f.evidence.as_ref().map_or(0, |e| e.events.len())
    );
}

/// The premise of e2e/test_review3_policies.py's `every_protected_pattern_the_code_accepts_is_denied_in_iam`:
/// each of these PROTECTED_PRINCIPALS patterns is accepted and protects `user/breakglass-1` in
/// launchguard's code (so IAM must deny it too).
#[test]
fn review3_code_valid_protection_patterns_protect_the_user_in_code() {
    use launchguard_core::guard::Guard;
    use launchguard_core::ids::ArnPatterns;
    for pattern in [
        "arn:aws:*::*:user/breakglass-*",
        "arn:aws:iam:*:*:user/breakglass-*",
        "arn:aws:iam::*:*/breakglass-*",
        "arn:aws:iam::*:*breakglass*",
        "arn:aws:iam::*:User/breakglass-*",
    ] {
        let patterns = ArnPatterns::parse_list(pattern).unwrap();
        let guard = Guard::new("111122223333", vec![], patterns, &[]);
        assert!(guard.check_principal("arn:aws:iam::111122223333:user/breakglass-1").is_err(), "{pattern} does not protect in code");
    }
}
