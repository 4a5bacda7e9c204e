//! Reading the CloudTrail records of a window: Logs Insights with polling, a deadline,
//! `StopQuery` and range splitting at the row limit; FilterLogEvents with paging, as the
//! fallback or on its own.

use std::future::Future;

use launchguard_core::burst::Tracker;
use launchguard_core::query::EventRule;
use launchguard_core::scan::Scanner;
use launchguard_core::window::TimeWindow;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::{CallError, Config, DetectorError, ReadMethod};

/// Status of a Logs Insights query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    /// Still queued or running.
    Running,
    /// Done: the rows are complete.
    Complete,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
    /// Timed out on the service side.
    Timeout,
}

/// One poll of `GetQueryResults`.
#[derive(Debug, Clone)]
pub struct QueryPage {
    /// Status.
    pub status: QueryStatus,
    /// The `@message` of each row (rows without one are counted apart).
    pub messages: Vec<String>,
    /// Rows that had no `@message` field.
    pub rows_without_message: u64,
}

/// One page of `FilterLogEvents`.
#[derive(Debug, Clone)]
pub struct FilterPage {
    /// The messages.
    pub messages: Vec<String>,
    /// The token for the next page.
    pub next_token: Option<String>,
}

/// Reading CloudWatch Logs.
pub trait LogReader: Send + Sync {
    /// `StartQuery` over `[start_s, end_s]` (epoch seconds, both included); the query id.
    fn start_query(
        &self,
        log_group: &str,
        start_s: i64,
        end_s: i64,
        query: &str,
        limit: u32,
    ) -> impl Future<Output = Result<String, CallError>> + Send;
    /// `GetQueryResults`.
    fn query_results(&self, query_id: &str) -> impl Future<Output = Result<QueryPage, CallError>> + Send;
    /// `StopQuery` (best effort).
    fn stop_query(&self, query_id: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// One `FilterLogEvents` page over `[start_ms, end_ms]`.
    fn filter_page(
        &self,
        log_group: &str,
        start_ms: i64,
        end_ms: i64,
        pattern: &str,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<FilterPage, CallError>> + Send;
}

/// What reading one window produced.
#[derive(Debug)]
pub struct WindowRead {
    /// The scanner with its per-principal calls (judged by the rule's horizons) and counters.
    pub scanner: Scanner<Tracker>,
    /// `insights`, `filter_log_events`, or `insights→filter_log_events`.
    pub method: String,
    /// Insights query ids used.
    pub query_ids: Vec<String>,
    /// `None` when read completely; otherwise why not.
    pub incomplete: Option<String>,
}

/// Poll a query until it ends, with exponential backoff under `deadline`.
async fn run_query<R: LogReader>(
    reader: &R,
    cfg: &Config,
    rule: &EventRule,
    w: &TimeWindow,
    deadline: Instant,
    ids: &mut Vec<String>,
) -> Result<QueryPage, String> {
    let query = rule.insights_query(cfg.insights_limit);
    // Insights takes whole seconds; round outwards (the client-side check trims back to the window).
    let start_s = w.start_ms().div_euclid(1000);
    let end_s = (w.end_ms() + 999).div_euclid(1000);
    let id = reader
        .start_query(&cfg.log_group, start_s, end_s, &query, cfg.insights_limit)
        .await
        .map_err(|e| format!("StartQuery failed: {e}"))?;
    ids.push(id.clone());
    let mut delay = cfg.poll_initial;
    loop {
        if Instant::now() + delay > deadline {
            let _ = reader.stop_query(&id).await;
            return Err(format!("query {id} still running at the {}s deadline (stopped)", cfg.deadline.as_secs()));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(cfg.poll_max);
        let page = match reader.query_results(&id).await {
            Ok(p) => p,
            Err(e) if e.retryable => continue,
            Err(e) => {
                let _ = reader.stop_query(&id).await;
                return Err(format!("GetQueryResults for {id} failed: {e}"));
            }
        };
        match page.status {
            QueryStatus::Running => continue,
            QueryStatus::Complete => return Ok(page),
            QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::Timeout => {
                return Err(format!("query {id} ended with status {:?}", page.status));
            }
        }
    }
}

/// Read a window with Logs Insights, splitting any range whose result hits the row limit.
pub async fn read_with_insights<R: LogReader>(
    reader: &R,
    cfg: &Config,
    rule: &EventRule,
    window: TimeWindow,
    deadline: Instant,
) -> (Result<Scanner<Tracker>, String>, Vec<String>) {
    let mut scanner = Scanner::with_sink(rule.clone(), Some(window), Tracker::new());
    let mut ids = Vec::new();
    let mut pending = vec![window];
    while let Some(w) = pending.pop() {
        let page = match run_query(reader, cfg, rule, &w, deadline, &mut ids).await {
            Ok(p) => p,
            Err(e) => return (Err(e), ids),
        };
        let rows = page.messages.len() as u64 + page.rows_without_message;
        if rows >= u64::from(cfg.insights_limit) {
            // The limit was reached: rows may be missing. Query both halves instead; the halves
            // overlap by at most a second and records are de-duplicated by eventID.
            match w.split().filter(|_| w.len_ms() >= 2000) {
                Some((a, b)) => {
                    info!(start = %a.start, mid = %a.end, end = %b.end, rows, "insights limit reached; splitting the range");
                    pending.push(b);
                    pending.push(a);
                    continue;
                }
                None => {
                    return (Err(format!("more than {rows} records within one second at {}: Insights cannot list them all", w.start)), ids);
                }
            }
        }
        for m in &page.messages {
            scanner.push_message(m);
        }
        for _ in 0..page.rows_without_message {
            scanner.note_error("Insights row without @message".into());
        }
    }
    (Ok(scanner), ids)
}

/// Read a window with FilterLogEvents, following every `nextToken`.
pub async fn read_with_filter<R: LogReader>(
    reader: &R,
    cfg: &Config,
    rule: &EventRule,
    window: TimeWindow,
    deadline: Instant,
) -> (Scanner<Tracker>, Option<String>) {
    let mut scanner = Scanner::with_sink(rule.clone(), Some(window), Tracker::new());
    let pattern = rule.filter_pattern();
    let mut token = None;
    let mut pages = 0u64;
    loop {
        if Instant::now() > deadline {
            return (scanner, Some(format!("FilterLogEvents stopped at the deadline after {pages} pages")));
        }
        match reader.filter_page(&cfg.log_group, window.start_ms(), window.end_ms(), &pattern, token.take()).await {
            Ok(page) => {
                pages += 1;
                for m in &page.messages {
                    scanner.push_message(m);
                }
                match page.next_token {
                    Some(t) => token = Some(t),
                    None => return (scanner, None),
                }
            }
            Err(e) => return (scanner, Some(format!("FilterLogEvents failed after {pages} pages: {e}"))),
        }
    }
}

/// Read one window for one rule's events with the configured method and fallback.
pub async fn read_window<R: LogReader>(
    reader: &R,
    cfg: &Config,
    rule: &EventRule,
    window: TimeWindow,
    deadline: Instant,
) -> Result<WindowRead, DetectorError> {
    let mut insights_error = "not used (LG_READ_METHOD=filter_log_events)".to_owned();
    let mut query_ids = Vec::new();
    if cfg.method == ReadMethod::Insights {
        let (result, ids) = read_with_insights(reader, cfg, rule, window, deadline).await;
        query_ids = ids;
        match result {
            Ok(mut scanner) => {
                scanner.aggregate.finish();
                return Ok(WindowRead { scanner, method: "insights".into(), query_ids, incomplete: None });
            }
            Err(e) => {
                warn!(error = %e, "Logs Insights failed; falling back to FilterLogEvents");
                insights_error = e;
            }
        }
    }
    let method = if cfg.method == ReadMethod::Insights { "insights→filter_log_events" } else { "filter_log_events" };
    let (mut scanner, incomplete) = read_with_filter(reader, cfg, rule, window, deadline).await;
    // the read is over: records held for an access key are counted now, before anything is judged
    scanner.aggregate.finish();
    if let Some(why) = &incomplete {
        if scanner.stats.rows == 0 {
            return Err(DetectorError::Read { log_group: cfg.log_group.clone(), insights: insights_error, filter: why.clone() });
        }
        warn!(error = %why, rows = scanner.stats.rows, "window read only in part");
    }
    Ok(WindowRead { scanner, method: method.into(), query_ids, incomplete })
}
