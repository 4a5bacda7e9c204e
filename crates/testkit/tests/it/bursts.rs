//! `launchguard-bursts`, run as the end-to-end harness runs it, prints the CloudTrail the harness
//! delivers: the real background shifted in time and exactly the requested bursts.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Output, Stdio};

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use launchguard_core::query::EventRule;
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::Thresholds;
use launchguard_core::window::TimeWindow;
use launchguard_testkit::{invictus_background, messages, shift_to};
use serde_json::{Value, json};

const ACCOUNT: &str = "000000000000";

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_launchguard-bursts"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn records(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn time(r: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().with_timezone(&Utc)
}

/// The spec `Scenario.deliver_cloudtrail` (e2e/harness.py, `Scenario.bursts`) sends for an alarm
/// at `alarm_at`, with example names and keys in place of the scenario's (its seeds are a
/// process-wide counter there; any distinct seeds).
fn e2e_spec(alarm_at: DateTime<Utc>) -> Value {
    let start = iso(alarm_at - Duration::minutes(2));
    let user = |name: &str, key: &str| json!({"type": "iam_user", "account": ACCOUNT, "name": name, "key": key});
    json!({
        "background_start": iso(alarm_at - Duration::minutes(40)),
        "bursts": [
            {"actor": user("ci-deployer-a1b2c3", "AKIAEXAMPLEDEPLOYER1"), "calls": 3, "per_call": 4, "start": start,
             "seed": 1, "source_ip": "203.0.113.7", "instance_type": "c5.4xlarge"},
            {"actor": {"type": "assumed_role", "account": ACCOUNT, "role": "DataScience-a1b2c3", "session": "mallory", "key": "ASIAEXAMPLEDATASCI01"},
             "calls": 5, "per_call": 3, "start": start, "seed": 2, "source_ip": "198.51.100.23", "instance_type": "p3.2xlarge"},
            {"actor": user("BreakGlass-Admin-a1b2c3", "AKIAEXAMPLEADMIN0001"), "calls": 2, "per_call": 10, "start": start,
             "seed": 3, "source_ip": "192.0.2.10", "instance_type": "m5.large"},
            {"actor": {"type": "autoscaling", "account": ACCOUNT}, "calls": 3, "per_call": 10, "start": start, "seed": 4,
             "instance_type": "t3.micro"},
            {"actor": user("benign-a1b2c3", "AKIAEXAMPLEBENIGN001"), "calls": 2, "per_call": 1, "start": start, "seed": 5,
             "source_ip": "192.0.2.55", "instance_type": "t3.micro"},
        ]
    })
}

/// What one principal's injected records add up to.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    calls: u64,
    instances: u64,
    keys: BTreeSet<String>,
    ips: BTreeSet<String>,
    types: BTreeSet<String>,
    times: BTreeSet<DateTime<Utc>>,
}

#[test]
fn the_e2e_scenario_is_the_background_and_exactly_the_requested_bursts() {
    // 30 s past the minute, so that the 7-second spacing crosses into the next minute
    let alarm_at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 30).unwrap() + Duration::seconds(5);
    let spec = e2e_spec(alarm_at);
    let out = records(&run(&[], &spec.to_string()));

    // the real background first, shifted so that it starts 40 minutes before the alarm
    let mut bg = invictus_background();
    shift_to(&mut bg, alarm_at - Duration::minutes(40));
    assert_eq!(out.len(), bg.len() + 15);
    assert_eq!(out[..bg.len()], bg[..], "the background, record for record");
    assert_eq!(out[..bg.len()].iter().map(time).min(), Some(alarm_at - Duration::minutes(40)));

    // the bursts: counts, keys, instances, IPs and types per principal
    let injected = &out[bg.len()..];
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for r in injected {
        assert_eq!(r["eventName"], "RunInstances");
        assert_eq!(r["recipientAccountId"], ACCOUNT);
        let s = seen.entry(r["userIdentity"]["arn"].as_str().unwrap().to_owned()).or_default();
        let items = r["responseElements"]["instancesSet"]["items"].as_array().unwrap();
        let asked = &r["requestParameters"]["instancesSet"]["items"][0];
        assert_eq!((asked["minCount"].as_u64(), asked["maxCount"].as_u64()), (Some(items.len() as u64), Some(items.len() as u64)));
        s.calls += 1;
        s.instances += items.len() as u64;
        s.keys.extend(r["userIdentity"]["accessKeyId"].as_str().map(str::to_owned));
        s.ips.insert(r["sourceIPAddress"].as_str().unwrap().to_owned());
        s.types.insert(r["requestParameters"]["instanceType"].as_str().unwrap().to_owned());
        s.types.extend(items.iter().map(|i| i["instanceType"].as_str().unwrap().to_owned()));
        s.times.insert(time(r));
    }
    let start = alarm_at - Duration::minutes(2);
    let expect = |calls: i64, instances: u64, key: Option<&str>, ip: &str, ty: &str| Seen {
        calls: calls as u64,
        instances,
        keys: key.into_iter().map(str::to_owned).collect(),
        ips: [ip.to_owned()].into(),
        types: [ty.to_owned()].into(),
        times: (0..calls).map(|i| start + Duration::seconds(7 * i)).collect(),
    };
    let want: BTreeMap<String, Seen> = [
        ("arn:aws:iam::000000000000:user/ci-deployer-a1b2c3", expect(3, 12, Some("AKIAEXAMPLEDEPLOYER1"), "203.0.113.7", "c5.4xlarge")),
        (
            "arn:aws:sts::000000000000:assumed-role/DataScience-a1b2c3/mallory",
            expect(5, 15, Some("ASIAEXAMPLEDATASCI01"), "198.51.100.23", "p3.2xlarge"),
        ),
        ("arn:aws:iam::000000000000:user/BreakGlass-Admin-a1b2c3", expect(2, 20, Some("AKIAEXAMPLEADMIN0001"), "192.0.2.10", "m5.large")),
        (
            "arn:aws:sts::000000000000:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
            expect(3, 30, None, "autoscaling.amazonaws.com", "t3.micro"),
        ),
        ("arn:aws:iam::000000000000:user/benign-a1b2c3", expect(2, 2, Some("AKIAEXAMPLEBENIGN001"), "192.0.2.55", "t3.micro")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(seen, want);

    // every injected call is in the two minutes before the alarm's, never at or after the alarm
    let minutes: BTreeSet<DateTime<Utc>> = injected.iter().map(|r| time(r).with_second(0).unwrap()).collect();
    let first = start.with_second(0).unwrap();
    assert_eq!(minutes, [first, first + Duration::minutes(1)].into(), "this alarm time makes the bursts cross a minute");
    assert!(injected.iter().all(|r| time(r) < alarm_at));

    // distinct eventIDs over everything printed, distinct request and instance ids
    let ids: BTreeSet<&str> = out.iter().map(|r| r["eventID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), out.len());
    let requests: BTreeSet<&str> = injected.iter().map(|r| r["requestID"].as_str().unwrap()).collect();
    assert_eq!(requests.len(), injected.len());
    let instances: BTreeSet<&str> = injected
        .iter()
        .flat_map(|r| r["responseElements"]["instancesSet"]["items"].as_array().unwrap())
        .map(|i| i["instanceId"].as_str().unwrap())
        .collect();
    assert_eq!(instances.len(), 79);

    // and the detector's own reading of the alarm's window says the same
    let window = TimeWindow::new(alarm_at - Duration::minutes(6), alarm_at + Duration::minutes(5)).unwrap();
    let mut scan = Scanner::new(EventRule::run_instances(), Some(window));
    for m in messages(&out) {
        scan.push_message(&m);
    }
    assert_eq!(scan.stats.unparseable, 0);
    assert_eq!(scan.stats.matched, 15);
    let a = Thresholds::default().assess(scan.aggregate.into_sorted());
    let flagged: Vec<(String, u64)> = a.flagged.iter().map(|f| (f.principal.label(), f.activity.instances_launched)).collect();
    assert_eq!(
        flagged,
        vec![
            ("IAM user BreakGlass-Admin-a1b2c3".to_owned(), 20),
            ("role DataScience-a1b2c3".to_owned(), 15),
            ("IAM user ci-deployer-a1b2c3".to_owned(), 12)
        ]
    );
    assert_eq!(a.excluded.len(), 1);
    assert!(a.excluded[0].principal.is_aws_service());
    assert_eq!(a.below.iter().map(|p| p.principal.label()).collect::<Vec<_>>(), ["IAM user benign-a1b2c3"]);
}

#[test]
fn the_spec_can_be_a_file_and_the_background_is_optional() {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let spec = json!({"bursts": [{"actor": {"type": "iam_user", "account": ACCOUNT, "name": "late", "key": "AKIAEXAMPLELATE00001"},
        "calls": 3, "per_call": 5, "start": iso(at), "spacing_seconds": 2, "error_code": "Client.VcpuLimitExceeded"}]});
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("launchguard-bursts-spec.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let out = records(&run(&["--spec", path.to_str().unwrap()], ""));
    assert_eq!(out.len(), 3);
    assert_eq!(out.iter().map(time).collect::<Vec<_>>(), [at, at + Duration::seconds(2), at + Duration::seconds(4)]);
    assert!(out.iter().all(|r| r["errorCode"] == "Client.VcpuLimitExceeded" && r["responseElements"].is_null()));
    assert!(out.iter().all(|r| r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] == 5));
}

#[test]
fn a_bad_spec_is_refused_with_what_to_fix_and_a_non_zero_exit() {
    for (spec, says) in [
        ("", "spec: empty; give a JSON spec on stdin or with --spec FILE"),
        ("not json", "spec: expected ident at line 1 column 2"),
        (
            r#"{"bursts": [{"actor": {"type": "iam_user", "account": "000000000000", "name": "u", "key": "AKIAEXAMPLE0000001"}, "calls": 3, "per_call": 4, "start": "2026-03-01T11:58:00Z", "instances": 3}]}"#,
            "bursts[0]: unknown field `instances`",
        ),
        (
            r#"{"bursts": [{"actor": {"type": "iam_user", "account": "000000000000", "name": "u", "key": "AKIA1"}, "calls": 3, "per_call": 4, "start": "2026-03-01T11:58:00Z"}]}"#,
            "bursts[0].actor.key: \"AKIA1\" is not an access key id",
        ),
        (r#"{"background_start": "yesterday", "bursts": []}"#, "background_start: \"yesterday\" is not an RFC 3339 time"),
    ] {
        let out = run(&[], spec);
        assert_eq!(out.status.code(), Some(2), "{spec}");
        assert!(out.stdout.is_empty(), "{spec}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with(&format!("launchguard-bursts: {says}")), "{spec}: {err}");
    }
    let out = run(&["--spec", "/nonexistent/spec.json"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--spec /nonexistent/spec.json"));
}
