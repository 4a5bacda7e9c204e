//! Issue 14: `launchguard report` from incident records (an in-memory log group holding what the
//! dispatcher writes): one incident's report, and the period summary with its open containments.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Parser;
use launchguard_aws::CallError;
use launchguard_aws::store::MemoryStore;
use launchguard_cli::report::{self, ReportArgs};
use launchguard_core::contract::{ReleaseRequest, ResponseOutcome};
use launchguard_responder_dispatcher::ledger::{
    ActionEntry, EntryState, FindingEntry, Owner, Released, ReversalState, entry_key, target_of,
};
use launchguard_responder_dispatcher::{IncidentLog, IncidentRecord, RecordType, Status};
use launchguard_testkit::fixture;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 2).unwrap()
}

/// A log group of messages, returned whatever the pattern (as LocalStack does).
struct Group(Vec<String>);

impl IncidentLog for Group {
    async fn append(&self, _g: &str, _s: &str, _r: String, _at: DateTime<Utc>) -> Result<(), CallError> {
        Err(CallError::new("read-only", false))
    }
    async fn search(&self, _g: &str, start: DateTime<Utc>, end: DateTime<Utc>, _p: &str) -> Result<Vec<String>, CallError> {
        Ok(self
            .0
            .iter()
            .filter(|m| serde_json::from_str::<IncidentRecord>(m).is_ok_and(|r| r.recorded_at >= start && r.recorded_at <= end))
            .cloned()
            .collect())
    }
}

fn applied() -> ResponseOutcome {
    serde_json::from_str(&fixture("contract/response_outcome.applied.json")).unwrap()
}

fn incident() -> IncidentRecord {
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

fn release(of: &IncidentRecord, when: DateTime<Utc>) -> IncidentRecord {
    let req: ReleaseRequest = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    let mut r = of.clone();
    r.record_type = RecordType::Release;
    r.status = Status::Released;
    r.recorded_at = when;
    r.finding = None;
    r.release = Some(ReleaseRequest { finding_id: Some(of.finding_id.clone()), ..req });
    let mut o = applied();
    o.action = o.reversal.clone().unwrap();
    o.reversal = None;
    r.outcomes = vec![o];
    r
}

fn args(line: &[&str]) -> ReportArgs {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: ReportArgs,
    }
    Cli::try_parse_from([&["report", "--ledger-bucket", "launchguard-ledger"], line].concat()).unwrap().a
}

/// The ledger as the dispatcher leaves it for `inc`: its finding and one entry per outcome,
/// released by `release` when given (as `launchguard release` marks it).
fn ledger(inc: &IncidentRecord, release: Option<&IncidentRecord>) -> MemoryStore {
    let store = MemoryStore::default();
    let mut keys = Vec::new();
    for o in &inc.outcomes {
        let target = target_of(&o.action);
        let key = entry_key(&target, &inc.finding_id);
        let released = release.map(|r| Released {
            at: r.recorded_at,
            by: r.release.as_ref().and_then(|q| q.requested_by.clone()),
            reason: r.release.as_ref().and_then(|q| q.reason.clone()),
            reversal: ReversalState::Done,
        });
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
            released,
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

#[tokio::test]
async fn the_summary_lists_the_incident_and_its_open_containment_until_released() {
    // GIVEN the incident record the dispatcher wrote, and noise in the log group
    let inc = incident();
    let mut group = Group(vec![serde_json::to_string(&inc).unwrap(), "not a record <script>".into()]);
    let now = at() + Duration::days(2);
    // WHEN the month is summarised
    let out = report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &ledger(&inc, None), now).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // THEN it lists the incident, its principals, and the key still deactivated for 2 days
    assert_eq!(v["incidents"][0]["finding_id"], inc.finding_id.as_str());
    assert_eq!(v["principals"].as_object().unwrap().len(), 2);
    assert_eq!(v["actions_by_outcome"]["applied"], 1);
    assert_eq!(v["open"][0]["action"], "deactivate_access_key");
    assert_eq!(v["open"][0]["open_seconds"], 2 * 86_400);
    // AND once released, nothing is open and the release is listed
    let rel = release(&inc, at() + Duration::days(1));
    group.0.push(serde_json::to_string(&rel).unwrap());
    let l = ledger(&inc, Some(&rel));
    let md = report::run(&args(&["--since", "2026-11-01", "--until", "2026-12-01"]), &group, &l, now).await.unwrap();
    assert!(md.contains("## Still contained (not released)\n\nNone."), "{md}");
    assert!(md.contains("Released (false positives)") && md.contains("false positive"), "{md}");
}

#[tokio::test]
async fn one_incident_renders_from_its_record_with_its_release_history() {
    let inc = incident();
    let rel = release(&inc, at() + Duration::hours(3));
    let group = Group(vec![serde_json::to_string(&inc).unwrap(), serde_json::to_string(&rel).unwrap()]);
    let l = ledger(&inc, Some(&rel));
    let html = report::run(&args(&["--finding", &inc.finding_id, "--format", "html"]), &group, &l, at() + Duration::days(1)).await.unwrap();
    for needle in ["role DataScience", "IAM user ci-deployer", "deactivate_access_key", "reactivate_access_key", "RELEASED", "<svg"] {
        assert!(html.contains(needle), "{needle}");
    }
    // an unknown finding is an error that says what to check
    let e = report::run(&args(&["--finding", "lg-unknown"]), &group, &l, at()).await.unwrap_err();
    assert!(e.to_string().contains("no incident record of this finding"), "{e}");
    // neither --finding nor --since: usage
    assert!(report::run(&args(&[]), &group, &l, at()).await.unwrap_err().to_string().contains("--since"));
}

/// Issue 22, defect 6: anyone with `logs:PutLogEvents` on the incident group appends one forged
/// "release" record. The ledger (written only by launchguard's roles) has the key still
/// contained: the summary must say so, and show the forged record as unverified.
#[tokio::test]
async fn defect6_a_forged_release_record_never_closes_a_containment() {
    let inc = incident();
    let forged = release(&inc, at() + Duration::hours(1));
    let group = Group(vec![serde_json::to_string(&inc).unwrap(), serde_json::to_string(&forged).unwrap()]);
    let now = at() + Duration::days(2);
    let l = ledger(&inc, None);
    let out = report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &l, now).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["open"][0]["action"], "deactivate_access_key", "{v}");
    assert_eq!(v["releases"][0]["verified"], false, "{v}");
    let md = report::run(&args(&["--since", "2026-11-01"]), &group, &l, now).await.unwrap();
    assert!(!md.contains("## Still contained (not released)\n\nNone."), "{md}");
    assert!(md.contains("UNVERIFIED"), "{md}");
    let one = report::run(&args(&["--finding", &inc.finding_id]), &group, &l, now).await.unwrap();
    assert!(one.contains("UNVERIFIED") && !one.contains("RELEASED"), "{one}");
}

/// Review of issue 22: the incident record itself is never checked against the ledger (only
/// release records are). Anyone with `logs:PutLogEvents` on the incident group appends a later
/// "incident" record of the same finding with no outcomes: the summary takes the latest record's
/// outcomes, so the key still deactivated in the ledger is no longer "still contained".
#[tokio::test]
async fn review_a_forged_later_incident_record_closes_a_containment() {
    let inc = incident();
    let mut forged = inc.clone();
    forged.recorded_at = at() + Duration::hours(1);
    forged.outcomes = Vec::new();
    let group = Group(vec![serde_json::to_string(&inc).unwrap(), serde_json::to_string(&forged).unwrap()]);
    let now = at() + Duration::days(2);
    let l = ledger(&inc, None); // the ledger: the key is still deactivated, nothing released
    let out = report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &l, now).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["open"][0]["action"], "deactivate_access_key", "the forged record hid an open containment: {v}");
}

/// Review of issue 22: a forged release record is "verified" when any ledger entry it names was
/// released by whom it names. The forger names, in its outcomes, an entry of ANOTHER finding that
/// alice really released, and puts the finding still contained in `release.finding_id` with no
/// principal: the whole still-contained finding is shown as released.
#[tokio::test]
async fn review_a_forged_release_borrowing_another_findings_release_closes_a_containment() {
    let inc = incident(); // F2: still contained
    let mut other = incident(); // F1: really released by alice
    other.finding_id = "lg-other-finding-0001".into();
    for o in &mut other.outcomes {
        o.finding_id = other.finding_id.clone();
    }
    let mut real_release = release(&other, at() + Duration::minutes(30));
    for o in &mut real_release.outcomes {
        o.finding_id = other.finding_id.clone();
    }
    // the ledger: F1's entry released by alice; F2's entry still holding
    let l = ledger(&other, Some(&real_release));
    let l2 = ledger(&inc, None);
    for k in l2.keys() {
        l.insert(&k, l2.object(&k).unwrap().body);
    }
    let mut forged = real_release.clone(); // F1's real outcomes, F1's requested_by
    forged.recorded_at = at() + Duration::hours(1);
    forged.finding_id = inc.finding_id.clone();
    forged.release.as_mut().unwrap().finding_id = Some(inc.finding_id.clone());
    forged.release.as_mut().unwrap().principal_arn = None;
    let group = Group(vec![
        serde_json::to_string(&other).unwrap(),
        serde_json::to_string(&real_release).unwrap(),
        serde_json::to_string(&inc).unwrap(),
        serde_json::to_string(&forged).unwrap(),
    ]);
    let now = at() + Duration::days(2);
    let out = report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &l, now).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let open: Vec<&serde_json::Value> =
        v["open"].as_array().unwrap().iter().filter(|o| o["finding_id"] == inc.finding_id.as_str()).collect();
    assert_eq!(open.len(), 1, "the forged release closed {}'s containment: {v}", inc.finding_id);
}

/// The bundled sample of `launchguard report --records ... --ledger-dir ...` (fixtures/report/):
/// the incident record and release record the dispatcher writes for the contract's example
/// finding, and the ledger it leaves, built here from the same types. `LG_WRITE_FIXTURES=1`
/// rewrites the files; otherwise a difference fails.
fn report_sample() -> (String, Vec<(String, Vec<u8>)>) {
    let inc = incident();
    let rel = release(&inc, at() + Duration::hours(3));
    let records = format!("{}\n{}\n", serde_json::to_string(&inc).unwrap(), serde_json::to_string(&rel).unwrap());
    let store = ledger(&inc, Some(&rel));
    let objects = store.keys().into_iter().map(|k| (k.clone(), store.object(&k).unwrap().body)).collect();
    (records, objects)
}

#[test]
fn the_bundled_report_sample_is_what_the_dispatcher_writes() {
    let dir = launchguard_testkit::fixtures_dir().join("report");
    let (records, objects) = report_sample();
    if std::env::var_os("LG_WRITE_FIXTURES").is_some() {
        let _ = std::fs::remove_dir_all(dir.join("ledger"));
        for (key, body) in &objects {
            let path = dir.join("ledger").join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        std::fs::write(dir.join("incident-records.jsonl"), &records).unwrap();
    }
    // compared as JSON values: the order of an object's keys depends on serde_json's
    // `preserve_order`, which feature unification turns on in a workspace build and not in
    // `cargo test -p launchguard-cli`
    let bundled = std::fs::read_to_string(dir.join("incident-records.jsonl")).unwrap();
    assert_eq!(json_lines(&bundled), json_lines(&records), "LG_WRITE_FIXTURES=1 rewrites it");
    for (key, body) in &objects {
        let bundled = std::fs::read(dir.join("ledger").join(key)).unwrap();
        assert_eq!(
            json_lines(&String::from_utf8(bundled).unwrap()),
            json_lines(&String::from_utf8(body.clone()).unwrap()),
            "{key}: LG_WRITE_FIXTURES=1 rewrites it"
        );
    }
}

/// Each line of `text` as a JSON value (a body that is one document is one line's worth).
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>().map(Result::unwrap).collect()
}

fn lg(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_launchguard"))
        .args(args)
        .current_dir(launchguard_testkit::fixtures_dir().parent().unwrap())
        .env_remove("LEDGER_BUCKET")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn said(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Issue 31: a newcomer sees a report with no deployment. From the bundled records and ledger,
/// with no region and no credentials: the incident, its principals, what was done and its
/// release, backed by the ledger.
#[test]
fn report_reads_a_finding_and_its_records_from_local_files_with_no_aws() {
    let fid = incident().finding_id;
    let base = ["report", "--records", "fixtures/report/incident-records.jsonl", "--ledger-dir", "fixtures/report/ledger"];
    let o = lg(&[&base[..], &["--finding", &fid]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    // (Markdown: the report's one escaping path writes `_` as `\_`)
    for needle in ["role DataScience", "IAM user ci-deployer", "deactivate\\_access\\_key", "reactivate\\_access\\_key", "RELEASED"] {
        assert!(md.contains(needle), "{needle}:\n{md}");
    }
    assert!(!md.contains("UNVERIFIED"), "the ledger backs the release:\n{md}");
    // AND the period summary, as HTML into a file
    let dir = std::env::temp_dir().join(format!("lg-report-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("summary.html");
    let o =
        lg(&[&base[..], &["--since", "2026-11-01", "--until", "2026-12-01", "--format", "html", "--out", out.to_str().unwrap()]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    assert!(o.stdout.is_empty(), "{}", said(&o));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains(&fid), "{html}");
}

/// Without the ledger, nothing the records say is backed: the release shows as unverified and
/// the containment as still open (the ledger is the truth, also offline).
#[test]
fn local_records_without_their_ledger_are_never_trusted_to_release() {
    let o = lg(&["report", "--records", "fixtures/report/incident-records.jsonl", "--since", "2026-11-01", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", said(&o)));
    assert_eq!(v["releases"][0]["verified"], false, "{v}");
    // AND a missing file, or a ledger that is not a directory, says so: usage 2 or input 2
    let o = lg(&["report", "--records", "no/such/file.jsonl", "--since", "2026-11-01"]);
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/file.jsonl"), "{}", said(&o));
    let o = lg(&["report", "--records", "fixtures/report/incident-records.jsonl", "--ledger-dir", "README.md", "--since", "2026-11-01"]);
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a directory"), "{}", said(&o));
    // AND --records with --ledger-bucket is refused (one source of truth)
    let o = lg(&["report", "--records", "fixtures/report/incident-records.jsonl", "--ledger-bucket", "b", "--since", "2026-11-01"]);
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
}
