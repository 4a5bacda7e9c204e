//! Attack review 2 of issue 22 (`launchguard report` against forged incident records), from the
//! code alone. A test that shows a defect asserts the safe outcome and is ignored with the defect
//! named; a test of an attack the code resists stays on as a regression test.
//!
//! The log group here filters by each event's own timestamp, as CloudWatch Logs'
//! `FilterLogEvents` does (`responder-dispatcher/src/aws.rs`): the `recorded_at` inside a message
//! is whatever its writer put there.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Parser;
use launchguard_aws::CallError;
use launchguard_aws::store::MemoryStore;
use launchguard_cli::report::{self, ReportArgs};
use launchguard_core::contract::ResponseOutcome;
use launchguard_core::text::is_neutralised;
use launchguard_responder_dispatcher::ledger::{ActionEntry, EntryState, FindingEntry, Owner, entry_key, target_of};
use launchguard_responder_dispatcher::{IncidentLog, IncidentRecord, RecordType, Status};
use launchguard_testkit::fixture;

pub(crate) fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 2).unwrap()
}

/// A log group of (event timestamp, message): `search` filters by the event's timestamp, as
/// CloudWatch Logs does; the message's own `recorded_at` is not checked by the service.
pub(crate) struct Group(pub(crate) Vec<(DateTime<Utc>, String)>);

impl IncidentLog for Group {
    async fn append(&self, _g: &str, _s: &str, _r: String, _at: DateTime<Utc>) -> Result<(), CallError> {
        Err(CallError::new("read-only", false))
    }
    async fn search(&self, _g: &str, start: DateTime<Utc>, end: DateTime<Utc>, _p: &str) -> Result<Vec<String>, CallError> {
        Ok(self.0.iter().filter(|(t, _)| *t >= start && *t <= end).map(|(_, m)| m.clone()).collect())
    }
}

pub(crate) fn event(r: &IncidentRecord, t: DateTime<Utc>) -> (DateTime<Utc>, String) {
    (t, serde_json::to_string(r).unwrap())
}

fn applied() -> ResponseOutcome {
    serde_json::from_str(&fixture("contract/response_outcome.applied.json")).unwrap()
}

/// The incident record the dispatcher wrote for the example finding (its key deactivated).
pub(crate) fn incident() -> IncidentRecord {
    let finding: serde_json::Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    IncidentRecord {
        record_type: RecordType::Incident,
        schema_version: 1,
        finding_id: finding["finding_id"].as_str().unwrap().to_owned(),
        recorded_at: at(),
        status: Status::Contained,
        principals: vec!["arn:aws:iam::111122223333:role/DataScience".into(), "arn:aws:iam::111122223333:user/ci-deployer".into()],
        outcomes: vec![applied()],
        human_actions: Vec::new(),
        refusals: Vec::new(),
        notification: "msg-1".into(),
        ledger: None,
        finding: Some(finding),
        release: None,
        detail: None,
        cut: None,
        report: None,
    }
}

pub(crate) fn args(line: &[&str]) -> ReportArgs {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: ReportArgs,
    }
    Cli::try_parse_from([&["report", "--ledger-bucket", "launchguard-ledger"], line].concat()).unwrap().a
}

/// The ledger as the dispatcher leaves it for `inc`: its finding and one entry per outcome, none
/// released (the key is still deactivated).
pub(crate) fn ledger(inc: &IncidentRecord) -> MemoryStore {
    let store = MemoryStore::default();
    let mut keys = Vec::new();
    for o in &inc.outcomes {
        let target = target_of(&o.action);
        let key = entry_key(&target, &inc.finding_id);
        let e = ActionEntry {
            finding_id: inc.finding_id.clone(),
            target,
            action: o.action.clone(),
            created_at: inc.recorded_at,
            claimed_at: inc.recorded_at,
            claimed_by: Some(1),
            state: EntryState::Done,
            outcome: Some(o.clone()),
            owner: Some(Owner::Launchguard),
            reversal: o.reversal.clone(),
            released: None,
            releasing: None,
            principal_id: None,
        };
        store.insert(&key, serde_json::to_vec(&e).unwrap());
        keys.push(key);
    }
    let f = FindingEntry {
        finding_id: inc.finding_id.clone(),
        first_seen: inc.recorded_at,
        deliveries: 1,
        entries: keys,
        notified: None,
        recorded: None,
        reports: Vec::new(),
    };
    store.insert(&format!("findings/{}", inc.finding_id), serde_json::to_vec(&f).unwrap());
    store
}

fn open_of(v: &serde_json::Value, fid: &str) -> usize {
    v["open"].as_array().unwrap().iter().filter(|o| o["finding_id"] == fid).count()
}

/// Baseline: the real record alone, the containment is open (the attacks below differ only by
/// one forged event).
#[tokio::test]
async fn review2_baseline_the_ledgers_containment_is_open() {
    let inc = incident();
    let group = Group(vec![event(&inc, at())]);
    let out =
        report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &ledger(&inc), at() + Duration::days(2)).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(open_of(&v, &inc.finding_id), 1, "{v}");
}

/// Attack: anyone with `logs:PutLogEvents` on the incident group appends, with an event time in
/// the period, a copy of the finding's incident record whose `recorded_at` says 2020. Records
/// are sorted by that field, the finding's "first" record is the forged one, its incident is
/// dated before `--since`, and the summary drops it, with the open containment the ledger holds:
/// "Still contained: None" while the key is deactivated.
#[tokio::test]
async fn review2_a_forged_early_recorded_at_never_hides_an_open_containment() {
    let inc = incident();
    let mut forged = inc.clone();
    forged.recorded_at = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    let group = Group(vec![event(&inc, at()), event(&forged, at() + Duration::hours(1))]);
    let l = ledger(&inc); // the ledger: still contained, nothing released
    let now = at() + Duration::days(2);
    let out = report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &l, now).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(open_of(&v, &inc.finding_id), 1, "a forged record hid the ledger's open containment: {v}");
    let md = report::run(&args(&["--since", "2026-11-01"]), &group, &l, now).await.unwrap();
    assert!(!md.contains("## Still contained (not released)\n\nNone."), "{md}");
}

/// Attack: the same forger appends a later "incident" record of the finding saying it was a dry
/// run (the finding's `dry_run`, status `dry_run`, no outcomes). `report --finding` renders the
/// latest incident record whatever wrote it: the one incident's report says "DRY RUN" (nothing
/// was changed) while the ledger holds the key deactivated.
#[tokio::test]
async fn review2_report_finding_never_takes_a_forged_later_incident_record() {
    let inc = incident();
    let mut forged = inc.clone();
    forged.recorded_at = at() + Duration::hours(1);
    forged.status = Status::DryRun;
    forged.outcomes = Vec::new();
    forged.finding.as_mut().unwrap()["dry_run"] = serde_json::json!(true);
    let group = Group(vec![event(&inc, at()), event(&forged, at() + Duration::hours(1))]);
    let l = ledger(&inc);
    let now = at() + Duration::days(1);
    let out = report::run(&args(&["--finding", &inc.finding_id, "--format", "json"]), &group, &l, now).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["headline"], "contained", "the report believed a forged record: {}", v["headline"]);
    assert_eq!(v["input"]["outcomes"].as_array().unwrap().len(), 1, "{}", v["input"]["outcomes"]);
}

/// Attack (no forgery needed): the finding's incident record is not in the group (its
/// `PutLogEvents` failed for good, the stream was deleted, or it aged out of the retention) while
/// the ledger holds its containment. The summary's findings come from the log group only, so
/// "Still contained" omits what the ledger holds.
#[tokio::test]
async fn review2_a_ledger_containment_without_a_record_is_still_listed_open() {
    let inc = incident();
    let group = Group(Vec::new());
    let out =
        report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &ledger(&inc), at() + Duration::days(2)).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(open_of(&v, &inc.finding_id), 1, "{v}");
}

/// Attack: a principal ARN, a reason and a requested_by carrying U+202E and U+2028 in a record.
/// The Markdown and HTML summaries escape them; the JSON output (`--format json`, also a report
/// a person reads, in a terminal or a viewer) writes them raw: serde_json escapes only Cc.
#[tokio::test]
async fn review2_the_json_report_holds_no_raw_format_or_separator_character() {
    let mut inc = incident();
    inc.principals = vec!["arn:aws:iam::111122223333:user/eve\u{202E}nimda\u{2028}- still contained: none".into()];
    let group = Group(vec![event(&inc, at())]);
    let out =
        report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &ledger(&inc), at() + Duration::days(2)).await.unwrap();
    let raw: Vec<char> = out.chars().filter(|c| *c != '\n' && is_neutralised(*c)).collect();
    assert!(raw.is_empty(), "raw {raw:?} in the JSON summary: {out}");
}

/// Regression (resisted): the same hostile principal in the Markdown and HTML summaries is escaped.
#[tokio::test]
async fn review2_the_markdown_and_html_summaries_escape_a_hostile_principal() {
    let mut inc = incident();
    inc.principals = vec!["arn:aws:iam::111122223333:user/eve\u{202E}nimda\u{2028}\n## Still contained (not released)\n\nNone.".into()];
    let group = Group(vec![event(&inc, at())]);
    for format in ["md", "html"] {
        let out = report::run(&args(&["--since", "2026-11-01", "--format", format]), &group, &ledger(&inc), at() + Duration::days(2))
            .await
            .unwrap();
        let raw: Vec<char> = out.chars().filter(|c| *c != '\n' && is_neutralised(*c)).collect();
        assert!(raw.is_empty(), "{format}: raw {raw:?}");
        let headings = out.lines().filter(|l| l.starts_with("## Still contained")).count() + out.matches("<h2>Still contained").count();
        assert_eq!(headings, 1, "{format}: the principal forged a heading: {out}");
    }
}

/// Attack (no forgery needed): one finding contained two principals (ci-deployer's key and
/// other-user's key). A responder releases ci-deployer only (`--finding F --principal
/// user/ci-deployer`); the ledger has other-user's key still deactivated. The one incident's
/// report and the summary's incident line take any verified release as the whole incident's
/// (`Headline::from_parts`, `released`: `releases.any(closes)`): both say RELEASED.
#[tokio::test]
async fn review2_a_release_of_one_principal_never_makes_the_whole_incident_released() {
    use launchguard_core::contract::ReleaseRequest;
    use launchguard_responder_dispatcher::ledger::{Released, ReversalState};
    let mut inc = incident();
    let mut other = applied();
    other.action = serde_json::from_value(serde_json::json!({"type": "deactivate_access_key", "account_id": "111122223333",
        "access_key_id": "AKIAEXAMPLEOTHER0001", "user_name": "other-user"}))
    .unwrap();
    other.reversal = Some(
        serde_json::from_value(serde_json::json!({"type": "reactivate_access_key", "account_id": "111122223333",
            "access_key_id": "AKIAEXAMPLEOTHER0001", "user_name": "other-user"}))
        .unwrap(),
    );
    inc.outcomes.push(other);
    let l = ledger(&inc);
    let when = at() + Duration::hours(1);
    let mut req: ReleaseRequest = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    req.finding_id = Some(inc.finding_id.clone());
    req.principal_arn = Some("arn:aws:iam::111122223333:user/ci-deployer".into());
    // the ledger as the dispatcher leaves it: ci-deployer's entry released, other-user's holding
    let k0 = entry_key(&target_of(&inc.outcomes[0].action), &inc.finding_id);
    let mut e: ActionEntry = serde_json::from_slice(&l.object(&k0).unwrap().body).unwrap();
    e.released = Some(Released { at: when, by: req.requested_by.clone(), reason: req.reason.clone(), reversal: ReversalState::Done });
    l.insert(&k0, serde_json::to_vec(&e).unwrap());
    // the real release record
    let mut rel = inc.clone();
    rel.record_type = RecordType::Release;
    rel.status = Status::Released;
    rel.recorded_at = when;
    rel.finding = None;
    rel.principals = vec!["arn:aws:iam::111122223333:user/ci-deployer".into()];
    rel.release = Some(req);
    let mut o = inc.outcomes[0].clone();
    o.action = o.reversal.clone().unwrap();
    o.reversal = None;
    rel.outcomes = vec![o];
    let group = Group(vec![event(&inc, at()), event(&rel, when)]);
    let now = at() + Duration::days(1);
    let sum = report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &l, now).await.unwrap();
    let s: serde_json::Value = serde_json::from_str(&sum).unwrap();
    assert_eq!(open_of(&s, &inc.finding_id), 1, "baseline: other-user's key is still contained: {s}");
    let one = report::run(&args(&["--finding", &inc.finding_id, "--format", "json"]), &group, &l, now).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_ne!(v["headline"], "released", "report --finding: RELEASED while other-user's key is still deactivated");
    assert_ne!(s["incidents"][0]["headline"], "released", "summary: RELEASED while other-user's key is still deactivated");
}
