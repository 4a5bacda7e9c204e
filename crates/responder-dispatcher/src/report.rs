//! The incident report: rendered by `launchguard-report`, written to `REPORT_BUCKET`, linked from
//! the notification with a pre-signed URL of bounded lifetime, and named in the incident record
//! and the ledger.
//!
//! Best effort by design: a report that cannot be rendered, written or linked never stops
//! containment or the notification; the notification then says the report is missing and why.

use chrono::{DateTime, Utc};
use launchguard_aws::store::{ObjectPut, PresignGet};
use launchguard_report::{Format, ReportInput};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::Config;

/// Where the report of one outcome is, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReportState {
    /// `REPORT_BUCKET` is not set: no report is written.
    NotConfigured,
    /// Written, and linked.
    Written {
        /// `s3://bucket/reports/<finding>/<fingerprint>.html` (the Markdown beside it, `.md`).
        object: String,
        /// The pre-signed URL (not kept in records: it is a bearer credential).
        #[serde(skip)]
        url: String,
        /// When the URL stops working.
        url_expires_at: DateTime<Utc>,
    },
    /// Not written, or written but not linked: why.
    Missing {
        /// The object, when it was written.
        object: Option<String>,
        /// What failed.
        reason: String,
    },
}

impl ReportState {
    /// The lines the notification shows.
    pub fn notification_lines(&self) -> Option<String> {
        match self {
            Self::NotConfigured => None,
            Self::Written { object, url, url_expires_at } => Some(format!(
                "incident report (HTML; the link works until {}): {url}\n  (kept at {object}; `launchguard report --finding ID` renders it again)",
                launchguard_core::time::format_utc(*url_expires_at)
            )),
            Self::Missing { object, reason } => Some(format!(
                "incident report MISSING: {reason}{}; `launchguard report --finding ID` renders it from the incident record",
                object.as_deref().map(|o| format!(" (object {o})")).unwrap_or_default()
            )),
        }
    }

    /// The object, when written.
    pub fn object(&self) -> Option<&str> {
        match self {
            Self::Written { object, .. } => Some(object),
            Self::Missing { object, .. } => object.as_deref(),
            Self::NotConfigured => None,
        }
    }
}

/// The key of a report under the report store's `reports/` prefix: one per finding and outcome
/// fingerprint (a duplicate delivery with the same outcome writes the same object again).
pub fn report_key(finding_id: &str, fingerprint: &str, ext: &str) -> String {
    format!("{}/{}.{ext}", crate::ledger::entry::seg(finding_id), crate::ledger::entry::seg(fingerprint))
}

/// Render and write the report of `input`, and link it.
pub async fn publish<R: ObjectPut + PresignGet>(
    reports: &R,
    cfg: &Config,
    input: &ReportInput,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> ReportState {
    let Some(bucket) = &cfg.report_bucket else { return ReportState::NotConfigured };
    let fid = &input.finding.finding_id;
    let html_key = report_key(fid, fingerprint, "html");
    let object = format!("s3://{bucket}/reports/{html_key}");
    let missing = |object: Option<String>, reason: String| {
        warn!(finding_id = %fid, reason = %reason, "incident report missing");
        ReportState::Missing { object, reason }
    };
    let (html, md) = match (launchguard_report::render(input, Format::Html), launchguard_report::render(input, Format::Markdown)) {
        (Ok(h), Ok(m)) => (h, m),
        (Err(e), _) | (_, Err(e)) => return missing(None, e.to_string()),
    };
    if let Err(e) = reports.put_object(&report_key(fid, fingerprint, "md"), md.into_bytes(), "text/markdown; charset=utf-8").await {
        return missing(None, format!("writing to {bucket}: {}", e.message));
    }
    if let Err(e) = reports.put_object(&html_key, html.into_bytes(), "text/html; charset=utf-8").await {
        return missing(None, format!("writing to {bucket}: {}", e.message));
    }
    match reports.presign_get(&html_key, cfg.report_url_ttl).await {
        Ok(url) => ReportState::Written {
            object,
            url,
            url_expires_at: now + chrono::Duration::from_std(cfg.report_url_ttl).unwrap_or_else(|_| chrono::Duration::days(1)),
        },
        Err(e) => missing(Some(object), format!("written, but no link could be made: {}", e.message)),
    }
}
