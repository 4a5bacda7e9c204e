//! Query cost of a large burst: `cargo bench -p launchguard-detector --bench split`.
//!
//! 50,000 RunInstances events from 50 principals inside one alarm window, plus the real
//! invictus-ir background, read through the detector's Insights path (row limit 10,000, so the
//! time range must be split) against an in-memory log group, once filtering like CloudWatch Logs
//! and once not filtering at all like LocalStack. Reports queries issued, rows read, records per
//! window and per flagged principal, and the time spent.

#![allow(clippy::unwrap_used)] // a benchmark whose setup cannot unwrap has failed

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_detector::{Config, Invoker, handle};
use launchguard_testkit::{Actor, Burst, invictus_background, run_instances_template, shift_to, sns_alarm_event};
use serde_json::Value;

struct Sink;

impl Invoker for Sink {
    async fn invoke_async(&self, _f: &str, _p: Vec<u8>) -> Result<(), launchguard_aws::CallError> {
        Ok(())
    }
    async fn invoke_sync(&self, _f: &str, _p: Vec<u8>) -> Result<launchguard_aws::InvokeResponse, launchguard_aws::CallError> {
        unreachable!()
    }
}

fn events(alarm: DateTime<Utc>) -> Vec<(i64, String)> {
    let t = run_instances_template();
    let mut records: Vec<Value> = invictus_background();
    shift_to(&mut records, alarm - Duration::minutes(40));
    for i in 0..50u32 {
        let actor = Actor::IamUser { account: "218007301253".into(), name: format!("user{i}"), key: format!("AKIAEXAMPLEBURST{i:04}") };
        // 1,000 calls of one instance each, spread over the five minutes before the alarm
        let mut b = Burst::new(actor, 1000, 1, alarm - Duration::minutes(5) + Duration::milliseconds(i64::from(i) * 37));
        b.spacing_s = 0;
        let mut recs = b.records(&t, i);
        for (k, r) in recs.iter_mut().enumerate() {
            let ts = alarm - Duration::minutes(5) + Duration::milliseconds((k as i64) * 300 + i64::from(i));
            r["eventTime"] = Value::String(ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        }
        records.extend(recs);
    }
    let mut out: Vec<(i64, String)> = records
        .iter()
        .map(|r| (launchguard_core::time::parse_timestamp(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis(), r.to_string()))
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

fn main() {
    let alarm = Utc.with_ymd_and_hms(2026, 11, 22, 5, 40, 0).unwrap();
    let evs = events(alarm);
    let env = |k: &str| match k {
        "CLOUDTRAIL_LOG_GROUP_NAME" => Some("ct".to_string()),
        "DISPATCHER_LAMBDA_NAME" => Some("d".to_string()),
        "LG_POLL_INITIAL_MS" | "LG_POLL_MAX_MS" => Some("1".to_string()),
        "ALARM_ARNS" => Some("arn:aws:cloudwatch:us-east-1:218007301253:alarm:launchguard-runinstances".to_string()),
        _ => None,
    };
    let cfg = Config::from_env(&env).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    for (label, filters) in [("service filters (CloudWatch Logs)", true), ("no service filter (LocalStack)", false)] {
        let mut logs = MemoryLogs::new(evs.clone());
        logs.service_filters = filters;
        let event = sns_alarm_event("launchguard-runinstances", "218007301253", "us-east-1", "ALARM", alarm, 60, 1);
        let t = Instant::now();
        let report = rt
            .block_on(handle(
                &event,
                "arn:aws:lambda:us-east-1:218007301253:function:d",
                &cfg,
                &logs,
                &MemoryAlarms::as_notified(&event),
                &Sink,
                alarm,
            ))
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let scan = report.scan.unwrap();
        let flagged = report.principals.iter().filter(|p| p.verdict == launchguard_detector::PrincipalVerdict::Flagged).count();
        println!(
            "{label:<34} queries {:>3}  rows read {:>7}  launches {:>6}  flagged {:>3}  records per flagged principal {:>6.0}  {:.2} s",
            report.query_ids.len(),
            scan.rows,
            scan.matched,
            flagged,
            scan.rows as f64 / flagged.max(1) as f64,
            secs
        );
    }
}
