//! `--archive`: a CloudTrail archive as a trail delivers it to S3.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// How an archive is laid out.
#[derive(Debug)]
pub(crate) struct Archive {
    pub(crate) dir: PathBuf,
    pub(crate) files: u32,
    pub(crate) records_per_file: u32,
    pub(crate) hours: u32,
}

/// Write the archive: background copies spread over the files' slots, bursts in the file of their time.
pub(crate) fn write_archive(a: &Archive, start: DateTime<Utc>, background: &[Value], bursts: Vec<Value>) -> Result<String, String> {
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
