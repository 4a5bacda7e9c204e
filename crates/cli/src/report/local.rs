//! `launchguard report --records FILE [--ledger-dir DIR]`: the incident records and the ledger
//! read from local files instead of CloudWatch Logs and S3, so a report can be made (and tried,
//! on the bundled sample `fixtures/report/`) with no deployment and no AWS call.
//!
//! - [`LocalLog`]: the records, one JSON record a line (what the dispatcher writes to the
//!   incident log group), or the output of `aws logs filter-log-events` (`{"events": [{"message":
//!   ...}]}`). Every message is handed over and re-checked by [`super::records::read`], as those
//!   from CloudWatch Logs are.
//! - [`DirStore`]: the ledger as a directory of its objects (`aws s3 sync
//!   s3://LEDGER_BUCKET/ledger/ DIR` leaves them so), read-only. Without `--ledger-dir` the ledger
//!   is empty, and every record is shown as the ledger not backing it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::store::{ConditionalStore, Put, Stored};
use launchguard_responder_dispatcher::{IncidentLog, IncidentRecord};
use sha2::{Digest, Sha256};

use crate::CliError;

/// The incident records of a local file.
#[derive(Debug, Clone)]
pub struct LocalLog {
    messages: Vec<String>,
}

impl LocalLog {
    /// Read `path`: JSON lines of incident records, or `aws logs filter-log-events` output.
    pub fn read(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::Input {
            source_name: path.display().to_string(),
            reason: format!("{e}; --records takes a file of incident records, one JSON record a line"),
        })?;
        Ok(Self { messages: messages(&text) })
    }
}

/// The messages of a file: `filter-log-events` output's `events[].message`, or each non-blank line.
fn messages(text: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Events {
        events: Vec<Event>,
    }
    #[derive(serde::Deserialize)]
    struct Event {
        message: String,
    }
    match serde_json::from_str::<Events>(text) {
        Ok(e) => e.events.into_iter().map(|e| e.message).collect(),
        Err(_) => text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
    }
}

impl IncidentLog for LocalLog {
    async fn append(&self, _group: &str, _stream: &str, _record: String, _at: DateTime<Utc>) -> Result<(), CallError> {
        Err(CallError::new("the local incident records (--records) are read-only", false))
    }

    /// Every record recorded in `[start, end]`, and every message that is not a record (it is
    /// counted as unreadable by the caller, never trusted).
    async fn search(&self, _group: &str, start: DateTime<Utc>, end: DateTime<Utc>, _pattern: &str) -> Result<Vec<String>, CallError> {
        Ok(self
            .messages
            .iter()
            .filter(|m| match serde_json::from_str::<IncidentRecord>(m) {
                Ok(r) => r.recorded_at >= start && r.recorded_at <= end,
                Err(_) => true,
            })
            .cloned()
            .collect())
    }
}

/// The ledger as a directory of its objects (a key is a path under it), read-only; none when no
/// directory is given.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: Option<PathBuf>,
}

impl DirStore {
    /// The ledger under `root` (`--ledger-dir`), or an empty one.
    pub fn new(root: Option<&Path>) -> Result<Self, CliError> {
        if let Some(r) = root
            && !r.is_dir()
        {
            return Err(CliError::Usage(format!(
                "--ledger-dir {}: not a directory (aws s3 sync s3://LEDGER_BUCKET/ledger/ DIR makes one)",
                r.display()
            )));
        }
        Ok(Self { root: root.map(Path::to_path_buf) })
    }

    /// The file of `key`, when the key is a plain relative path (no `..`, not absolute).
    fn path(&self, key: &str) -> Option<PathBuf> {
        let root = self.root.as_ref()?;
        let plain = !key.is_empty() && key.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
        plain.then(|| root.join(key))
    }
}

fn read_only() -> CallError {
    CallError::new("the local ledger (--ledger-dir) is read-only", false)
}

impl ConditionalStore for DirStore {
    async fn get(&self, key: &str) -> Result<Option<Stored>, CallError> {
        let Some(path) = self.path(key) else { return Ok(None) };
        match std::fs::read(&path) {
            Ok(body) => {
                let etag: String = Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
                Ok(Some(Stored { body, etag }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CallError::new(format!("reading {}: {e}", path.display()), false)),
        }
    }

    async fn put_if_absent(&self, _key: &str, _body: Vec<u8>) -> Result<Put, CallError> {
        Err(read_only())
    }

    async fn put_if_match(&self, _key: &str, _body: Vec<u8>, _etag: &str) -> Result<Put, CallError> {
        Err(read_only())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let Some(root) = &self.root else { return Ok(Vec::new()) };
        let mut keys = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| CallError::new(format!("listing {}: {e}", dir.display()), false))?;
            for entry in entries {
                let entry = entry.map_err(|e| CallError::new(format!("listing {}: {e}", dir.display()), false))?;
                let kind = entry.file_type().map_err(|e| CallError::new(e.to_string(), false))?;
                if kind.is_dir() {
                    dirs.push(entry.path());
                } else if kind.is_file()
                    && let Ok(rel) = entry.path().strip_prefix(root)
                    && let Some(key) = rel.to_str().map(|k| k.replace(std::path::MAIN_SEPARATOR, "/"))
                    && key.starts_with(prefix)
                {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_from_json_lines_or_filter_log_events_output() {
        assert_eq!(messages("{\"a\":1}\n\n  {\"b\":2}\n"), vec!["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(messages(r#"{"events":[{"message":"m1","timestamp":1},{"message":"m2"}]}"#), vec!["m1", "m2"]);
    }

    #[test]
    fn a_key_never_leaves_the_ledger_directory() {
        let s = DirStore { root: Some(PathBuf::from("/ledger")) };
        assert_eq!(s.path("findings/x.json"), Some(PathBuf::from("/ledger/findings/x.json")));
        for bad in ["../etc/passwd", "a/../../b", "/etc/passwd", "", "a//b", "./a"] {
            assert_eq!(s.path(bad), None, "{bad}");
        }
    }
}
