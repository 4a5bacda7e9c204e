//! `launchguard-bursts`: print CloudTrail records as JSON lines, the real invictus-ir background
//! shifted in time and the requested `RunInstances` bursts, built by the test kit
//! ([`launchguard_testkit::Burst`]). The end-to-end harness and the benchmarks take their
//! CloudTrail from here; see `--help` for the spec.

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use launchguard_testkit::iam::find_iam_template;
use launchguard_testkit::{find_run_instances_template, fixtures_dir, invictus_background_in, shift_to};
use serde_json::Value;

mod archive;
mod spec;

use archive::{Archive, write_archive};
use spec::plan;

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

iam_bursts        optional: IAM bursts, from the real invictus-ir CreateUser / CreateAccessKey
                  records. Each: actor (iam_user or assumed_role, as above), event ("CreateUser"
                  or "CreateAccessKey"), calls (1 to 10000), start, spacing_seconds (default 20),
                  user_prefix (the users created, or the keys created for: <prefix>-<n>; default
                  the caller itself), key_ids (CreateAccessKey: the ids IAM really returned, one
                  per call), error_code (failed calls: nothing created), seed (distinct among
                  iam_bursts).
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

/// Print CloudTrail records (real background and injected RunInstances and IAM bursts) as JSON lines.
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
    let mut iam_records: Vec<Value> = Vec::new();
    for (b, seed) in &plan.iam_bursts {
        let t = find_iam_template(&background, b.event)
            .ok_or_else(|| io(format!("{}: no successful {} record to build IAM bursts from", fixtures.display(), b.event.name())))?;
        iam_records.extend(b.records(&t, *seed));
    }
    if let Some(dir) = args.archive {
        let start =
            plan.background_start.ok_or_else(|| bad("--archive needs background_start in the spec: where the archive begins".into()))?;
        let mut bursts: Vec<Value> = plan.bursts.iter().flat_map(|(b, seed)| b.records(&template, *seed)).collect();
        bursts.extend(iam_records);
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
    lines.extend(iam_records);
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
