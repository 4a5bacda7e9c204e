//! `launchguard-wakeups [--rules FILE] [--hand-set TEMPLATE] PATH...`: how many times the alarms
//! would invoke the detector on a CloudTrail archive (issue 30, item 3; `bench/wakeups.py` writes
//! the figures into BENCHMARKS.md).
//!
//! The alarms are those `make deploy` renders from the rule file (the bundled rules without
//! `--rules`), and, with `--hand-set`, the metric filters and alarms of a CloudFormation template
//! at its parameters' defaults (`fixtures/alarms/hand-set-797d214.json`: the alarms deployed before
//! they were rendered). Each is evaluated by the CloudWatch model of `launchguard_testkit::cloudwatch`
//! (periods aligned to the clock, every record on time): an invocation when an alarm goes into
//! `ALARM`, and one per scheduled re-check (`--recheck-minutes`, `RECHECK_RATE_MINUTES`) while it
//! stays there. Prints one JSON line per alarm set.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use launchguard_core::rules::RuleSet;
use launchguard_testkit::cloudwatch::{self, Alarm, Filter};
use serde_json::{Value, json};

/// Count the detector invocations the alarms cause on CloudTrail delivery files.
#[derive(Debug, Parser)]
#[command(name = "launchguard-wakeups", version)]
struct Args {
    /// The rule file the alarms are rendered from (default: the bundled rules).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Also evaluate the metric filters and alarms of this CloudFormation template.
    #[arg(long, value_name = "TEMPLATE")]
    hand_set: Option<PathBuf>,
    /// Minutes between scheduled re-checks while an alarm is in ALARM.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=60))]
    recheck_minutes: u32,
    /// Delivery files (`{"Records": [...]}` or a JSON array, `.json` or `.json.gz`), or folders of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            files(&e, out)?;
        }
    } else {
        let name = path.to_string_lossy();
        if name.ends_with(".json") || name.ends_with(".json.gz") {
            out.push(path.to_owned());
        }
    }
    Ok(())
}

fn records(path: &Path) -> Result<Vec<Value>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = if path.to_string_lossy().ends_with(".gz") {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice()).read_to_string(&mut s).map_err(|e| format!("{}: {e}", path.display()))?;
        s
    } else {
        String::from_utf8(bytes).map_err(|e| format!("{}: {e}", path.display()))?
    };
    match serde_json::from_str::<Value>(&text).map_err(|e| format!("{}: {e}", path.display()))? {
        Value::Object(mut o) => match o.remove("Records") {
            Some(Value::Array(rs)) => Ok(rs),
            _ => Err(format!("{}: no \"Records\" array", path.display())),
        },
        Value::Array(rs) => Ok(rs),
        _ => Err(format!("{}: not CloudTrail records", path.display())),
    }
}

struct Set {
    label: String,
    filters: Vec<Filter>,
    alarms: Vec<Alarm>,
    points: BTreeMap<String, Vec<(i64, f64)>>,
}

fn rendered(rules: Option<&Path>) -> Result<Set, String> {
    let (text, origin) = match rules {
        Some(p) => (std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?, p.display().to_string()),
        None => (launchguard_core::rules::BUNDLED.to_owned(), "bundled rules/default.json".to_owned()),
    };
    let set = RuleSet::parse(&text, &origin).map_err(|e| e.to_string())?;
    let plan = launchguard_core::alarm_plan::plan(&set).map_err(|e| e.to_string())?;
    let resources = plan.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    let (filters, alarms) = cloudwatch::from_template(&resources, &BTreeMap::new())?;
    Ok(Set { label: format!("rendered from {origin}"), filters, alarms, points: BTreeMap::new() })
}

fn hand_set(path: &Path) -> Result<Set, String> {
    let t: Value = serde_json::from_str(&std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let params: BTreeMap<String, String> = t["Parameters"]
        .as_object()
        .map(|o| o.iter().filter_map(|(k, v)| v["Default"].as_u64().map(|d| (k.clone(), d.to_string()))).collect())
        .unwrap_or_default();
    let (filters, alarms) = cloudwatch::from_template(&t["Resources"], &params)?;
    Ok(Set { label: format!("hand-set in {}", path.display()), filters, alarms, points: BTreeMap::new() })
}

fn run(args: &Args) -> Result<(), String> {
    let mut sets = vec![rendered(args.rules.as_deref())?];
    if let Some(t) = &args.hand_set {
        sets.push(hand_set(t)?);
    }
    let mut paths = Vec::new();
    for p in &args.paths {
        files(p, &mut paths)?;
    }
    if paths.is_empty() {
        return Err("no .json or .json.gz delivery files in the paths given".into());
    }
    let (mut count, mut days) = (0u64, BTreeSet::new());
    for p in &paths {
        let rs = records(p)?;
        count += rs.len() as u64;
        for r in &rs {
            if let Some(day) = r["eventTime"].as_str().and_then(|t| t.get(..10)) {
                days.insert(day.to_owned());
            }
        }
        for s in &mut sets {
            for (metric, mut points) in cloudwatch::datapoints(&s.filters, &rs)? {
                s.points.entry(metric).or_default().append(&mut points);
            }
        }
    }
    let recheck_ms = i64::from(args.recheck_minutes) * 60_000;
    let day_count = days.len().max(1);
    for s in &sets {
        let mut by_alarm = serde_json::Map::new();
        let (mut notified, mut rechecked) = (0u64, 0u64);
        for a in &s.alarms {
            let intervals = a.alarm_intervals(&a.series(&s.points), 0);
            let (n, r) = cloudwatch::invocations(&intervals, recheck_ms);
            notified += n;
            rechecked += r;
            by_alarm.insert(a.name.clone(), json!({"into_alarm": n, "rechecks": r}));
        }
        let total = notified + rechecked;
        println!(
            "{}",
            json!({"alarms": s.label, "files": paths.len(), "records": count, "days": day_count, "alarm_count": s.alarms.len(),
                   "into_alarm": notified, "rechecks": rechecked, "invocations": total,
                   "per_day": (total as f64 / day_count as f64 * 10.0).round() / 10.0, "by_alarm": by_alarm})
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("launchguard-wakeups: {e}");
            ExitCode::from(2)
        }
    }
}
