//! Issue 24, "Every rule in one pass": `launchguard scan` reads its inputs once and feeds every
//! rule from that one read. The bursts, principals and counters of each rule are those of the
//! rule replayed alone; an input that can be read only once (standard input) gives every rule
//! its bursts; every input is opened once, however many rules are replayed.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Parser;
use launchguard_cli::CliError;
use launchguard_cli::scan::{self, Input, LocalSource, ScanArgs, ScanReport, Silent, Source};
use launchguard_core::rules::RuleSet;
use launchguard_testkit::iam::{IamBurst, IamEvent, find_iam_template};
use launchguard_testkit::{Actor, Burst, fixtures_dir, invictus_background, run_instances_template};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    scan: ScanArgs,
}

fn scan_with(args: &[&str]) -> ScanReport {
    let a = Cli::try_parse_from(std::iter::once("scan").chain(args.iter().copied())).unwrap().scan;
    let local = LocalSource::new(a.inputs.clone());
    let sources: Vec<&dyn Source> = vec![&local];
    scan::run(&sources, &a.settings().unwrap(), Some(2), &Silent).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lg-one-pass-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn user(name: &str, key: &str) -> Actor {
    Actor::IamUser { account: "218007301253".into(), name: name.into(), key: key.into() }
}

/// A burst of every bundled rule, by three users: 12 instances in a minute, 6 users created and
/// 4 access keys created, 20 s apart; each rule's records built from the real ones.
fn bursts_of_every_rule(at: DateTime<Utc>) -> Vec<Value> {
    let bg = invictus_background();
    let mut out = Burst::new(user("mallory", "AKIAEXAMPLEMALLORY01"), 12, 1, at).records(&run_instances_template(), 41);
    let mut users = IamBurst::new(user("eve", "AKIAEXAMPLEEVE000001"), IamEvent::CreateUser, 6, at);
    users.user_prefix = Some("backdoor".into());
    out.extend(users.records(&find_iam_template(&bg, IamEvent::CreateUser).unwrap(), 42));
    let mut keys = IamBurst::new(user("trent", "AKIAEXAMPLETRENT0001"), IamEvent::CreateAccessKey, 4, at + Duration::minutes(3));
    keys.user_prefix = Some("victim".into());
    out.extend(keys.records(&find_iam_template(&bg, IamEvent::CreateAccessKey).unwrap(), 43));
    out
}

/// The real data of fixtures/cloudtrail (copies of /work/shared/datasets: delivery files,
/// stratus-red-team arrays, panther and custodian records, OTRF JSON lines), and a directory
/// with the injected bursts, delivered twice (a duplicate delivery).
fn real_data_with_bursts() -> (PathBuf, PathBuf) {
    let dir = tmp("real");
    let at = Utc.with_ymd_and_hms(2023, 7, 10, 12, 40, 0).unwrap();
    let records = bursts_of_every_rule(at);
    let doc = json!({ "Records": records }).to_string();
    std::fs::write(dir.join("bursts.json"), &doc).unwrap();
    std::fs::write(dir.join("bursts-again.json"), &doc).unwrap();
    (fixtures_dir().join("cloudtrail"), dir)
}

fn json_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

#[test]
fn every_rule_in_one_pass_gives_each_rule_what_it_gives_alone() {
    // GIVEN the real data of every dataset, and a burst of each bundled rule delivered twice
    let (real, injected) = real_data_with_bursts();
    let inputs = [real.to_str().unwrap(), injected.to_str().unwrap()];
    // WHEN scanned with every rule, in one run
    let all = scan_with(&inputs);
    let set = RuleSet::bundled().unwrap();
    let ids: Vec<String> = set.ids().into_iter().map(str::to_owned).collect();
    assert_eq!(all.rules.iter().map(|r| r.rule.clone()).collect::<Vec<_>>(), ids);
    let mut bursts_alone = Vec::new();
    for id in &ids {
        // AND with that rule alone
        let alone = scan_with(&[inputs[0], inputs[1], "--rule", id.as_str()]);
        let (mine, theirs) = (all.rule(id).unwrap(), alone.rule(id).unwrap());
        // THEN the rule's bursts, principals, horizons and counters are the same, record for record
        assert_eq!(json_of(&mine.bursts), json_of(&theirs.bursts), "{id}: bursts");
        assert_eq!(json_of(&mine.launchers), json_of(&theirs.launchers), "{id}: principals");
        assert_eq!(json_of(&mine.stats), json_of(&theirs.stats), "{id}: counters");
        assert_eq!(mine.horizons, theirs.horizons, "{id}");
        // AND each rule flags its injected burst, counted once although delivered twice
        assert!(mine.bursts.iter().all(|b| b.rule == *id), "{id}");
        assert!(all.flagged().any(|b| b.rule == *id), "{id}: no flagged burst");
        assert!(mine.stats.duplicates > 0, "{id}: the second delivery is a duplicate");
        // AND the records read, and what was not read whole, are the same
        assert_eq!(
            (all.stats.rows, all.stats.duplicates, all.inputs.clone()),
            (alone.stats.rows, alone.stats.duplicates, alone.inputs.clone())
        );
        assert_eq!(all.incomplete_inputs, alone.incomplete_inputs, "{id}");
        bursts_alone.extend(json_of(&alone.bursts).as_array().unwrap().clone());
    }
    // AND the report's bursts are every rule's, in rule order, each naming its rule
    assert_eq!(json_of(&all.bursts), Value::Array(bursts_alone));
    // AND a duplicate of any record, whichever rule's, is counted once: the second delivery holds
    // 22 records, every one a duplicate
    assert_eq!(all.stats.duplicates - scan_with(&[inputs[0]]).stats.duplicates, 22);
}

/// A source that can give each of its inputs once, as standard input can: a second open fails.
struct Once {
    inputs: Vec<(String, Vec<u8>)>,
    opened: Mutex<Vec<String>>,
}

impl Source for Once {
    fn list(&self) -> Result<Vec<Input>, CliError> {
        Ok(self.inputs.iter().map(|(name, _)| Input { name: name.clone(), ..Input::default() }).collect())
    }

    fn open(&self, input: &Input) -> Result<Box<dyn Read + Send>, CliError> {
        let mut opened = self.opened.lock().unwrap();
        if opened.contains(&input.name) {
            return Err(CliError::Usage(format!("{} was already read", input.name)));
        }
        opened.push(input.name.clone());
        let bytes = self.inputs.iter().find(|(n, _)| *n == input.name).unwrap().1.clone();
        Ok(Box::new(std::io::Cursor::new(bytes)))
    }
}

#[test]
fn each_input_is_opened_once_whatever_the_number_of_rules() {
    // GIVEN two inputs that can each be read only once, holding a burst of every rule
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let records = bursts_of_every_rule(at);
    let (a, b) = records.split_at(10);
    let doc = |rs: &[Value]| json!({ "Records": rs }).to_string().into_bytes();
    let source = Once { inputs: vec![("a".into(), doc(a)), ("b".into(), doc(b))], opened: Mutex::new(Vec::new()) };
    // WHEN scanned with every rule
    let a = Cli::try_parse_from(["scan"]).unwrap().scan;
    let sources: Vec<&dyn Source> = vec![&source];
    let r = scan::run(&sources, &a.settings().unwrap(), Some(2), &Silent).unwrap();
    // THEN each input was opened once, every input read whole, and every rule flags its burst
    let mut opened = source.opened.lock().unwrap().clone();
    opened.sort();
    assert_eq!(opened, vec!["a", "b"]);
    assert!(r.incomplete_inputs.is_empty(), "{:?}", r.incomplete_inputs);
    for rule in &r.rules {
        assert_eq!(rule.stats.rows, 22, "{}", rule.rule);
        assert_eq!(rule.bursts.len(), 1, "{}: {:?}", rule.rule, rule.bursts);
    }
}

fn run_stdin(input: &[u8], args: &[&str]) -> (Option<i32>, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_launchguard"))
        .arg("scan")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let bytes = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
}

fn write_lines(path: &Path, records: &[Value]) {
    std::fs::write(path, records.iter().map(|r| format!("{r}\n")).collect::<String>()).unwrap();
}

#[test]
fn standard_input_read_once_gives_every_rule_its_bursts() {
    // GIVEN the real background and a burst of every rule, piped in as JSON lines
    let at = Utc.with_ymd_and_hms(2023, 7, 10, 12, 40, 0).unwrap();
    let mut records = invictus_background();
    records.extend(bursts_of_every_rule(at));
    let dir = tmp("stdin");
    let file = dir.join("all.jsonl");
    write_lines(&file, &records);
    let text = std::fs::read(&file).unwrap();
    // WHEN scanned from standard input, every rule
    let (code, v) = run_stdin(&text, &["--json", "-"]);
    // THEN it is read whole, once, and every rule reports its burst from it
    assert_eq!(code, Some(3), "{v}");
    assert_eq!((v["status"].as_str(), v["stats"]["rows"].as_u64()), (Some("complete"), Some(2922)));
    for rule in v["rules"].as_array().unwrap() {
        let id = rule["rule"].as_str().unwrap();
        assert_eq!(rule["stats"]["rows"].as_u64(), Some(2922), "{id}");
        assert!(rule["bursts"].as_array().unwrap().iter().any(|b| b["verdict"] == "flagged" && b["rule"] == id), "{id}: {rule}");
    }
    // AND what each rule finds in standard input is what it finds in the same file
    let (_, from_file) = run_stdin(b"", &["--json", file.to_str().unwrap()]);
    assert_eq!(v["rules"], from_file["rules"]);
    assert_eq!(v["bursts"], from_file["bursts"]);
}
