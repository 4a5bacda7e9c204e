//! `launchguard-bursts`: print CloudTrail records as JSON lines, the real invictus-ir background
//! shifted in time and the requested `RunInstances` bursts, built by the test kit
//! ([`launchguard_testkit::Burst`]). The end-to-end harness and the benchmarks take their
//! CloudTrail from here; see `--help` for the spec.

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Parser;
use launchguard_testkit::{Actor, Burst, CallResponse, find_run_instances_template, fixtures_dir, invictus_background_in, shift_to};
use serde::Deserialize;
use serde_json::Value;

const SPEC_HELP: &str = r#"The spec (JSON, from --spec FILE or stdin):

  {
    "background_start": "2026-03-01T11:20:00Z",
    "bursts": [
      {"actor": {"type": "iam_user", "account": "000000000000", "name": "ci-deployer", "key": "AKIAEXAMPLEDEPLOYER1"},
       "calls": 3, "per_call": 4, "start": "2026-03-01T11:58:00Z",
       "source_ip": "203.0.113.7", "instance_type": "c5.4xlarge"},
      {"actor": {"type": "assumed_role", "account": "000000000000", "role": "DataScience",
                 "session": "mallory", "key": "ASIAEXAMPLEDATASCI01"},
       "calls": 5, "per_call": 3, "start": "2026-03-01T11:58:00Z", "spacing_seconds": 7, "seed": 9},
      {"actor": {"type": "autoscaling", "account": "000000000000"},
       "calls": 3, "per_call": 10, "start": "2026-03-01T11:58:00Z"}
    ]
  }

background_start  optional: print the invictus-ir records first, shifted so the earliest is at
                  this time (their spacing kept); omit it for bursts only.
bursts            required, may be empty. Each burst:
  actor           {"type": "iam_user", "account", "name", "key"} (key: its access key id, AKIA...),
                  {"type": "assumed_role", "account", "role", "session", "key"} (key: the
                  session's access key id, ASIA...),
                  {"type": "autoscaling", "account"} (Auto Scaling's service-linked role).
                  account: 12 digits; key: 16 to 128 letters and digits.
  calls           RunInstances calls, 1 to 100000.
  per_call        instances per call (minCount = maxCount = launched), 1 to 10000.
  start           the first call, RFC 3339 in whole seconds ("2026-03-01T11:58:00Z").
  spacing_seconds seconds between calls, 0 or more (default 7).
  source_ip       sourceIPAddress (default 198.51.100.23); not for autoscaling, whose calls
                  come from autoscaling.amazonaws.com.
  instance_type   instance type of every call and instance (default: the template's t3.micro).
  error_code      if set, every call failed with it (errorCode, no responseElements).
  seed            makes the eventIDs, requestIDs, reservation and instance ids, 0 to 65535
                  (default: the burst's position + 1); distinct within a spec. Bursts delivered
                  to the same log group need distinct seeds: the detector de-duplicates records
                  by eventID.
  responses       optional: what EC2 answered to each call, when the instances are real (an
                  emulator's): one per call, each {"reservation_id": "r-...", "launch_time":
                  RFC 3339, "instance_ids": [per_call ids "i-..."]}. Without it, reservation
                  and instance ids are made from the seed and launchTime is the call's time.

Output: one compact JSON CloudTrail record per line, the background (file order) then each
burst's calls in order. Exit code 2 on a bad spec, 1 when the fixtures cannot be read.

With --archive DIR, writes a CloudTrail archive instead, as a trail delivers it to S3:
DIR/AWSLogs/<account>/CloudTrail/us-east-1/YYYY/MM/DD/<account>_CloudTrail_us-east-1_<time>_<n>.json.gz,
--files gzip delivery files ({"Records":[...]}) evenly over --hours from background_start (required),
each of --records-per-file background records (the invictus-ir records cycled, each copy with its
own eventID, spread in time over the file's slot), and every burst record in the file whose slot
holds its time. Prints a JSON summary (files, records, bytes)."#;

/// Print CloudTrail records (real background and injected RunInstances bursts) as JSON lines.
#[derive(Debug, Parser)]
#[command(name = "launchguard-bursts", version, after_long_help = SPEC_HELP)]
struct Args {
    /// The spec file (JSON); without it, the spec is read from stdin. `--help` describes it.
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// The repository's `fixtures/` folder (default: the one this binary was built from).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// Write a gzip delivery-file archive under DIR instead of JSON lines (see below).
    #[arg(long, value_name = "DIR")]
    archive: Option<PathBuf>,
    /// Archive: delivery files.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    files: u32,
    /// Archive: background records per file.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    records_per_file: u32,
    /// Archive: hours covered, from background_start.
    #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u32).range(1..=24 * 366))]
    hours: u32,
}

/// How an archive is laid out.
#[derive(Debug)]
struct Archive {
    dir: PathBuf,
    files: u32,
    records_per_file: u32,
    hours: u32,
}

/// Write the archive: background copies spread over the files' slots, bursts in the file of their time.
fn write_archive(a: &Archive, start: DateTime<Utc>, background: &[Value], bursts: Vec<Value>) -> Result<String, String> {
    let slot_ms = i64::from(a.hours) * 3_600_000 / i64::from(a.files);
    let account = bursts.first().and_then(|r| r["recipientAccountId"].as_str()).unwrap_or("111122223333").to_owned();
    let mut by_file: Vec<Vec<Value>> = vec![Vec::new(); a.files as usize];
    for r in bursts {
        let t = r["eventTime"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.with_timezone(&Utc));
        let i = t.map_or(0, |t| ((t - start).num_milliseconds() / slot_ms.max(1)).clamp(0, i64::from(a.files) - 1)) as usize;
        by_file[i].push(r);
    }
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut next = 0usize;
    for (f, injected) in by_file.into_iter().enumerate() {
        let slot_start = start + chrono::Duration::milliseconds(slot_ms * f as i64);
        let mut rs: Vec<Value> = Vec::with_capacity(a.records_per_file as usize + injected.len());
        for k in 0..a.records_per_file {
            let mut r = background.get(next % background.len().max(1)).cloned().unwrap_or(Value::Null);
            next += 1;
            let t = slot_start + chrono::Duration::milliseconds(slot_ms * i64::from(k) / i64::from(a.records_per_file.max(1)));
            r["eventTime"] = Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            r["eventID"] = Value::String(format!("{}-{f}-{k}", r["eventID"].as_str().unwrap_or("bg")));
            rs.push(r);
        }
        rs.extend(injected);
        records += rs.len() as u64;
        let dir = a.dir.join(format!("AWSLogs/{account}/CloudTrail/us-east-1/{}", slot_start.format("%Y/%m/%d")));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{account}_CloudTrail_us-east-1_{}_{f:05}.json.gz", slot_start.format("%Y%m%dT%H%MZ")));
        let text = serde_json::json!({ "Records": rs }).to_string();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        let gz = gz.finish().map_err(|e| e.to_string())?;
        bytes += gz.len() as u64;
        std::fs::write(&path, &gz).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(serde_json::json!({"files": a.files, "records": records, "gzip_bytes": bytes, "dir": a.dir.display().to_string()}).to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    background_start: Option<String>,
    bursts: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstSpec {
    actor: ActorSpec,
    calls: u32,
    per_call: u32,
    start: String,
    #[serde(default)]
    spacing_seconds: Option<i64>,
    #[serde(default)]
    source_ip: Option<String>,
    #[serde(default)]
    instance_type: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    seed: Option<u32>,
    #[serde(default)]
    responses: Option<Vec<ResponseSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseSpec {
    reservation_id: String,
    launch_time: String,
    instance_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ActorSpec {
    IamUser { account: String, name: String, key: String },
    AssumedRole { account: String, role: String, session: String, key: String },
    Autoscaling { account: String },
}

/// A spec, checked.
#[derive(Debug)]
struct Plan {
    background_start: Option<DateTime<Utc>>,
    bursts: Vec<(Burst, u32)>,
}

const MAX_CALLS: u32 = 100_000;
const MAX_PER_CALL: u32 = 10_000;
const MAX_SEED: u32 = 0xFFFF;

fn time(field: &str, s: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{field}: {s:?} is not an RFC 3339 time like \"2026-03-01T11:58:00Z\" ({e})"))?
        .with_timezone(&Utc);
    if t.timestamp_subsec_nanos() != 0 {
        return Err(format!("{field}: {s:?} has a fraction of a second; CloudTrail's eventTime is in whole seconds"));
    }
    Ok(t)
}

fn account(field: &str, a: &str) -> Result<String, String> {
    if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) {
        Ok(a.to_owned())
    } else {
        Err(format!("{field}: {a:?} is not an account id (12 digits)"))
    }
}

fn nonempty(field: &str, s: &str) -> Result<String, String> {
    if s.trim().is_empty() { Err(format!("{field}: must not be empty")) } else { Ok(s.to_owned()) }
}

/// An access key id (AWS: 16 to 128 word characters): the identity's principal id is built from
/// what follows its 4-letter prefix. The prefix is not checked (LocalStack issues `LKIA` keys,
/// and a test may want an odd one).
fn key(field: &str, k: &str) -> Result<String, String> {
    if (16..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(k.to_owned())
    } else {
        Err(format!("{field}: {k:?} is not an access key id (16 to 128 letters and digits, such as AKIAEXAMPLEDEPLOYER1)"))
    }
}

fn actor(at: &str, a: ActorSpec) -> Result<Actor, String> {
    Ok(match a {
        ActorSpec::IamUser { account: acct, name, key: k } => Actor::IamUser {
            account: account(&format!("{at}.account"), &acct)?,
            name: nonempty(&format!("{at}.name"), &name)?,
            key: key(&format!("{at}.key"), &k)?,
        },
        ActorSpec::AssumedRole { account: acct, role, session, key: k } => Actor::AssumedRole {
            account: account(&format!("{at}.account"), &acct)?,
            role: nonempty(&format!("{at}.role"), &role)?,
            session: nonempty(&format!("{at}.session"), &session)?,
            key: key(&format!("{at}.key"), &k)?,
        },
        ActorSpec::Autoscaling { account: acct } => Actor::AutoScaling { account: account(&format!("{at}.account"), &acct)? },
    })
}

fn burst(index: usize, v: Value) -> Result<(Burst, u32), String> {
    let at = format!("bursts[{index}]");
    let b: BurstSpec = serde_json::from_value(v).map_err(|e| format!("{at}: {e}"))?;
    let start = time(&format!("{at}.start"), &b.start)?;
    let actor = actor(&format!("{at}.actor"), b.actor)?;
    if !(1..=MAX_CALLS).contains(&b.calls) {
        return Err(format!("{at}.calls: {} is not between 1 and {MAX_CALLS}", b.calls));
    }
    if !(1..=MAX_PER_CALL).contains(&b.per_call) {
        return Err(format!("{at}.per_call: {} is not between 1 and {MAX_PER_CALL}", b.per_call));
    }
    let mut out = Burst::new(actor, b.calls, b.per_call, start);
    if let Some(s) = b.spacing_seconds {
        if !(0..=86_400).contains(&s) {
            return Err(format!("{at}.spacing_seconds: {s} is not between 0 and 86400"));
        }
        out.spacing_s = s;
    }
    match (b.source_ip, &out.actor) {
        (Some(_), Actor::AutoScaling { .. }) => {
            return Err(format!("{at}.source_ip: Auto Scaling's calls come from autoscaling.amazonaws.com; remove source_ip"));
        }
        (Some(ip), _) => out.source_ip = nonempty(&format!("{at}.source_ip"), &ip)?,
        (None, _) => {}
    }
    if let Some(t) = b.instance_type {
        out.instance_type = Some(nonempty(&format!("{at}.instance_type"), &t)?);
    }
    if let Some(c) = b.error_code {
        out.error_code = Some(nonempty(&format!("{at}.error_code"), &c)?);
    }
    if let Some(rs) = b.responses {
        if out.error_code.is_some() {
            return Err(format!("{at}.responses: failed calls (error_code) have no response; remove one of them"));
        }
        if rs.len() != b.calls as usize {
            return Err(format!("{at}.responses: {} given for {} calls (one per call)", rs.len(), b.calls));
        }
        let mut given = Vec::with_capacity(rs.len());
        for (j, r) in rs.into_iter().enumerate() {
            let here = format!("{at}.responses[{j}]");
            if r.instance_ids.len() != b.per_call as usize {
                return Err(format!("{here}.instance_ids: {} ids for per_call {}", r.instance_ids.len(), b.per_call));
            }
            if let Some(bad) = r.instance_ids.iter().find(|id| launchguard_core::contract::validate_instance_id(id).is_err()) {
                return Err(format!("{here}.instance_ids: {bad:?} is not an instance id (i- and 8 to 17 hex digits)"));
            }
            if !r.reservation_id.starts_with("r-") {
                return Err(format!("{here}.reservation_id: {:?} is not a reservation id (r-...)", r.reservation_id));
            }
            given.push(CallResponse {
                reservation_id: r.reservation_id,
                launch_time: DateTime::parse_from_rfc3339(&r.launch_time)
                    .map_err(|e| format!("{here}.launch_time: {:?} is not an RFC 3339 time ({e})", r.launch_time))?
                    .with_timezone(&Utc),
                instance_ids: r.instance_ids,
            });
        }
        out.responses = Some(given);
    }
    let default_seed = u32::try_from(index + 1).unwrap_or(u32::MAX);
    let seed = b.seed.unwrap_or(default_seed);
    if seed > MAX_SEED {
        return Err(format!("{at}.seed: {seed} is not between 0 and {MAX_SEED}"));
    }
    Ok((out, seed))
}

/// Parse and check a spec: every error names the field to fix.
fn plan(text: &str) -> Result<Plan, String> {
    if text.trim().is_empty() {
        return Err("spec: empty; give a JSON spec on stdin or with --spec FILE (--help describes it)".into());
    }
    let spec: Spec = serde_json::from_str(text).map_err(|e| format!("spec: {e}"))?;
    let background_start = spec.background_start.as_deref().map(|s| time("background_start", s)).transpose()?;
    let mut bursts = Vec::with_capacity(spec.bursts.len());
    for (i, v) in spec.bursts.into_iter().enumerate() {
        let (b, seed) = burst(i, v)?;
        if let Some(j) = bursts.iter().position(|(_, s)| *s == seed) {
            return Err(format!(
                "bursts[{i}].seed: {seed} is also the seed of bursts[{j}]; their eventIDs would repeat (give each burst its own seed)"
            ));
        }
        bursts.push((b, seed));
    }
    Ok(Plan { background_start, bursts })
}

fn run(args: Args) -> Result<(), (ExitCode, String)> {
    let bad = |e: String| (ExitCode::from(2), e);
    let io = |e: String| (ExitCode::from(1), e);
    let text = match &args.spec {
        Some(p) => std::fs::read_to_string(p).map_err(|e| bad(format!("--spec {}: {e}", p.display())))?,
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| bad(format!("spec on stdin: {e}")))?;
            s
        }
    };
    let plan = plan(&text).map_err(bad)?;
    let fixtures = args.fixtures.unwrap_or_else(fixtures_dir);
    let mut background = invictus_background_in(&fixtures).map_err(io)?;
    let template = find_run_instances_template(&background)
        .ok_or_else(|| io(format!("{}: no successful RunInstances record to build bursts from", fixtures.display())))?;
    if let Some(dir) = args.archive {
        let start =
            plan.background_start.ok_or_else(|| bad("--archive needs background_start in the spec: where the archive begins".into()))?;
        let bursts: Vec<Value> = plan.bursts.iter().flat_map(|(b, seed)| b.records(&template, *seed)).collect();
        let a = Archive { dir, files: args.files, records_per_file: args.records_per_file, hours: args.hours };
        let summary = write_archive(&a, start, &background, bursts).map_err(io)?;
        println!("{summary}");
        return Ok(());
    }
    let mut lines: Vec<Value> = Vec::new();
    if let Some(start) = plan.background_start {
        shift_to(&mut background, start);
        lines = background;
    }
    for (b, seed) in &plan.bursts {
        lines.extend(b.records(&template, *seed));
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    lines.iter().try_for_each(|r| writeln!(out, "{r}")).and_then(|()| out.flush()).map_err(|e| io(format!("stdout: {e}")))
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("launchguard-bursts: {msg}");
            code
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn err(spec: &str) -> String {
        plan(spec).unwrap_err()
    }

    const USER: &str = r#"{"type": "iam_user", "account": "000000000000", "name": "u", "key": "AKIAEXAMPLE0000001"}"#;

    #[test]
    fn bad_specs_name_what_to_fix() {
        assert!(err("{}").contains("missing field `bursts`"), "{}", err("{}"));
        assert!(err(r#"{"bursts": [], "extra": 1}"#).contains("unknown field `extra`"));
        let b = |fields: &str| {
            format!(r#"{{"bursts": [{{"actor": {USER}, "calls": 3, "per_call": 4, "start": "2026-03-01T11:58:00Z"{fields}}}]}}"#)
        };
        assert!(plan(&b("")).is_ok());
        assert!(err(&b(r#", "per_cal": 1"#)).starts_with("bursts[0]: unknown field `per_cal`"));
        assert!(err(&b(r#", "seed": 70000"#)).starts_with("bursts[0].seed"));
        let e = err(&format!(r#"{{"bursts": [{{"actor": {USER}, "calls": 0, "per_call": 4, "start": "2026-03-01T11:58:00Z"}}]}}"#));
        assert!(e.starts_with("bursts[0].calls: 0"), "{e}");
        let e = err(&format!(r#"{{"bursts": [{{"actor": {USER}, "calls": 1, "per_call": 4, "start": "2026-03-01 11:58"}}]}}"#));
        assert!(e.starts_with("bursts[0].start") && e.contains("RFC 3339"), "{e}");
        let e = err(&format!(r#"{{"bursts": [{{"actor": {USER}, "calls": 1, "per_call": 4, "start": "2026-03-01T11:58:00.5Z"}}]}}"#));
        assert!(e.contains("whole seconds"), "{e}");
        let e = err(
            r#"{"bursts": [{"actor": {"type": "iam_user", "account": "0", "name": "u", "key": "AKIAX1234"}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z"}]}"#,
        );
        assert!(e.starts_with("bursts[0].actor.account"), "{e}");
        let e = err(
            r#"{"bursts": [{"actor": {"type": "assumed_role", "account": "000000000000", "role": "R", "session": "s", "key": "ASIA-1"}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z"}]}"#,
        );
        assert!(e.starts_with("bursts[0].actor.key") && e.contains("16 to 128"), "{e}");
        let e = err(
            r#"{"bursts": [{"actor": {"type": "robot", "account": "000000000000"}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z"}]}"#,
        );
        assert!(e.starts_with("bursts[0]: unknown variant `robot`"), "{e}");
        let e = err(
            r#"{"bursts": [{"actor": {"type": "autoscaling", "account": "000000000000"}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z", "source_ip": "192.0.2.1"}]}"#,
        );
        assert!(e.starts_with("bursts[0].source_ip"), "{e}");
        let two = format!(
            r#"{{"bursts": [{{"actor": {USER}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z", "seed": 2}}, {{"actor": {USER}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z"}}]}}"#
        );
        assert!(err(&two).starts_with("bursts[1].seed: 2 is also the seed of bursts[0]"), "{}", err(&two));
    }

    #[test]
    fn real_responses_must_match_the_calls_and_end_up_in_the_records() {
        let spec = |responses: &str| {
            format!(
                r#"{{"bursts": [{{"actor": {USER}, "calls": 2, "per_call": 2, "start": "2026-03-01T11:58:00Z", "responses": {responses}}}]}}"#
            )
        };
        let one = |r: &str, ids: &str| {
            format!(r#"{{"reservation_id": "{r}", "launch_time": "2026-03-01T11:58:01.250Z", "instance_ids": {ids}}}"#)
        };
        // GIVEN responses that do not fit the calls THEN the error names the field
        let e = err(&spec(&format!("[{}]", one("r-0aa", r#"["i-0123456789abcdef0", "i-0123456789abcdef1"]"#))));
        assert!(e.starts_with("bursts[0].responses: 1 given for 2 calls"), "{e}");
        let e = err(&spec(&format!("[{}, {}]", one("r-0aa", r#"["i-0123456789abcdef0"]"#), one("r-0bb", r#"["i-1", "i-2"]"#))));
        assert!(e.starts_with("bursts[0].responses[0].instance_ids: 1 ids for per_call 2"), "{e}");
        let e = err(&spec(&format!(
            "[{}, {}]",
            one("r-0aa", r#"["i-0123456789abcdef0", "i-0123456789abcdef1"]"#),
            one("x", r#"["i-0123456789abcdef2", "i-0123456789abcdef3"]"#)
        )));
        assert!(e.starts_with("bursts[0].responses[1].reservation_id"), "{e}");
        // GIVEN real responses THEN each call's record carries its reservation, launch time and ids
        let p = plan(&spec(&format!(
            "[{}, {}]",
            one("r-0aa", r#"["i-0123456789abcdef0", "i-0123456789abcdef1"]"#),
            one("r-0bb", r#"["i-0123456789abcdef2", "i-0123456789abcdef3"]"#)
        )))
        .unwrap();
        let (b, seed) = &p.bursts[0];
        let records = b.records(&launchguard_testkit::run_instances_template(), *seed);
        let facts: Vec<(String, Vec<String>, Vec<i64>)> = records
            .iter()
            .map(|r| {
                let items = r["responseElements"]["instancesSet"]["items"].as_array().unwrap();
                (
                    r["responseElements"]["reservationId"].as_str().unwrap().to_owned(),
                    items.iter().map(|i| i["instanceId"].as_str().unwrap().to_owned()).collect(),
                    items.iter().map(|i| i["launchTime"].as_i64().unwrap()).collect(),
                )
            })
            .collect();
        let at = DateTime::parse_from_rfc3339("2026-03-01T11:58:01.250Z").unwrap().timestamp_millis();
        assert_eq!(
            facts,
            vec![
                ("r-0aa".into(), vec!["i-0123456789abcdef0".into(), "i-0123456789abcdef1".into()], vec![at, at]),
                ("r-0bb".into(), vec!["i-0123456789abcdef2".into(), "i-0123456789abcdef3".into()], vec![at, at]),
            ]
        );
    }
}
