//! Sending the page (SNS) and writing the incident record (CloudWatch Logs), once per outcome.
//!
//! Each is marked *being sent* on the finding entry before it is sent and *sent* after
//! ([`crate::ledger::marks`]). A send that fails gives its mark back; a give-back that fails is a
//! failed part of its own (retryable), and the mark, once stale, is taken over by a retry that
//! sends again: a duplicate page is better than none.

use chrono::{DateTime, Utc};
use launchguard_aws::store::ConditionalStore;
use serde_json::Value;
use tracing::error;

use crate::error::{Failure, Part};
use crate::finding::{Io, ledger_failure, stream_name};
use crate::ledger::{Ledger, MarkClaim};
use crate::record::{DispatchReport, IncidentRecord, MAX_RECORD_BYTES};
use crate::{IncidentLog, Notifier, notify};

/// A notification ready to send.
pub(crate) struct Page {
    pub(crate) subject: String,
    pub(crate) body: String,
    pub(crate) full: Value,
    pub(crate) compact: Value,
    /// `None`: always send (a release); otherwise once per fingerprint.
    pub(crate) fingerprint: Option<String>,
    /// Why no one is paged (the incident record is still written): a later detection of an
    /// incident launchguard already contained under another finding. `None`: page.
    pub(crate) quiet: Option<String>,
}

/// Publish and record once per outcome fingerprint: the ledger says which delivery sends them.
pub(crate) async fn deliver<N: Notifier, L: IncidentLog, I, S: ConditionalStore, K>(
    io: &Io<'_, I, N, L, S, K>,
    ledger: &Ledger<'_, S>,
    mut record: IncidentRecord,
    page: Page,
    report: &mut DispatchReport,
    failures: &mut Vec<Failure>,
    now: DateTime<Utc>,
) {
    let cfg = io.cfg;
    let fid = record.finding_id.clone();
    let (fid_c, page_fp) = (&fid, &page.fingerprint);
    let reference = format!(
        "full detail: the incident record for {fid} in the log group {} (a record too large for a log event is kept whole under s3://{}/ledger/details/{fid}/ and the log names it); what launchguard did: s3://{}/ledger/findings/{fid}",
        cfg.incident_log_group, cfg.ledger_bucket, cfg.ledger_bucket
    );
    let marks = Marks { ledger, finding_id: fid_c, fingerprint: page_fp.as_deref(), now };
    match marks.claim(false).await {
        Err(f) => failures.push(f),
        Ok(false) => record.notification = "sent before for the same outcome".into(),
        Ok(true) if page.quiet.is_some() => {
            record.notification = page.quiet.clone().unwrap_or_default();
            marks.finish(false, true, failures).await;
        }
        Ok(true) => {
            let message = notify::fit_message(page.body, &page.full, &page.compact, &reference);
            let attrs = [("finding_id", fid.clone()), ("status", record.status.as_str().to_owned())];
            match io.sns.publish(&cfg.topic_arn, &page.subject, &message, &attrs).await {
                Ok(id) => {
                    record.notification = id.clone();
                    report.notification_message_id = Some(id);
                    marks.finish(false, true, failures).await;
                }
                Err(e) => {
                    error!(error = %e, "notification not published");
                    record.notification = format!("not published: {e}");
                    marks.finish(false, false, failures).await;
                    failures.push(Failure {
                        part: Part::Notify,
                        what: format!("publishing to {}: {}", cfg.topic_arn, e.message),
                        retryable: e.retryable,
                    });
                }
            }
        }
    }
    match marks.claim(true).await {
        Err(f) => failures.push(f),
        Ok(false) => {}
        Ok(true) => {
            let stream = stream_name(now);
            let text = event_text(io, ledger, &mut record, page_fp.as_deref(), failures, now).await;
            match io.logs.append(&cfg.incident_log_group, &stream, text, now).await {
                Ok(()) => {
                    report.incident_record = Some(format!("{}/{stream}", cfg.incident_log_group));
                    marks.finish(true, true, failures).await;
                }
                Err(e) => {
                    error!(error = %e, "incident record not written");
                    marks.finish(true, false, failures).await;
                    failures.push(Failure {
                        part: Part::Record,
                        what: format!("writing to {}: {}", cfg.incident_log_group, e.message),
                        retryable: e.retryable,
                    });
                }
            }
        }
    }
}

/// The page's and the record's marks for one outcome fingerprint (none: always send, a release).
struct Marks<'a, 'l, S> {
    ledger: &'a Ledger<'l, S>,
    finding_id: &'a str,
    fingerprint: Option<&'a str>,
    now: DateTime<Utc>,
}

impl<S: ConditionalStore> Marks<'_, '_, S> {
    fn part(record: bool) -> (Part, &'static str) {
        if record { (Part::Record, "incident record") } else { (Part::Notify, "page") }
    }

    /// True: send it now. False: sent before for this outcome. A mark another delivery took
    /// less than the stale bound ago is a retryable failure: it may have died before sending.
    async fn claim(&self, record: bool) -> Result<bool, Failure> {
        let Some(fp) = self.fingerprint else { return Ok(true) };
        match self.ledger.claim_mark(self.finding_id, record, fp, self.now).await {
            Err(e) => Err(ledger_failure(&e)),
            Ok(MarkClaim::Send) => Ok(true),
            Ok(MarkClaim::Sent) => Ok(false),
            Ok(MarkClaim::BeingSent { since }) => {
                let (part, what) = Self::part(record);
                Err(Failure {
                    part,
                    what: format!(
                        "the {what} for this outcome is being sent by another delivery since {}: retry to make sure it was (a mark older than {} s is sent again)",
                        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        crate::ledger::STALE_CLAIM.num_seconds()
                    ),
                    retryable: true,
                })
            }
        }
    }

    /// Mark it sent, or give it back when it could not be sent. A mark not given back is a
    /// failed part (retryable): a retry sends it once the mark is stale.
    async fn finish(&self, record: bool, sent: bool, failures: &mut Vec<Failure>) {
        let Some(fp) = self.fingerprint else { return };
        if let Err(e) = self.ledger.finish_mark(self.finding_id, record, fp, sent).await {
            let (part, what) = Self::part(record);
            if sent {
                // sent: at worst a retry after the stale bound sends it again
                error!(error = %e, "the {what} was sent but could not be marked sent");
            } else {
                error!(error = %e, "the {what} could not be sent, and its mark could not be given back");
                failures.push(Failure {
                    part,
                    what: format!(
                        "the {what} was not sent and its mark could not be given back ({}): a retry sends it once the mark is {} s old",
                        e.message,
                        crate::ledger::STALE_CLAIM.num_seconds()
                    ),
                    retryable: true,
                });
            }
        }
    }
}

/// The incident record as one log event. A record too large for one is kept whole in the ledger
/// (`details/`) and written cut, naming where the whole one is; a ledger that cannot keep it is a
/// failure of its own, and the cut record says so.
async fn event_text<I, N, L, S: ConditionalStore, K>(
    io: &Io<'_, I, N, L, S, K>,
    ledger: &Ledger<'_, S>,
    record: &mut IncidentRecord,
    fingerprint: Option<&str>,
    failures: &mut Vec<Failure>,
    now: DateTime<Utc>,
) -> String {
    let whole = launchguard_core::text::json_text(&serde_json::to_string(&*record).unwrap_or_default());
    if whole.len() <= MAX_RECORD_BYTES {
        return whole;
    }
    let name = format!("{}-{}", record.record_type.as_str(), fingerprint.map_or_else(|| now.timestamp_millis().to_string(), str::to_owned));
    match ledger.keep_detail(&record.finding_id, &name, whole.into_bytes()).await {
        Ok(key) => record.detail = Some(format!("s3://{}/ledger/{key}", io.cfg.ledger_bucket)),
        Err(e) => {
            error!(error = %e, "the whole incident record could not be kept in the ledger; writing it cut");
            record.detail = Some(format!("the whole record could not be kept: {}", e.message));
            failures.push(Failure {
                part: Part::Record,
                what: format!("keeping the whole incident record in the ledger: {}", e.message),
                retryable: e.retryable,
            });
        }
    }
    launchguard_core::text::json_text(&record.to_event(MAX_RECORD_BYTES))
}
