//! An in-memory CloudWatch Logs for tests and benchmarks: a log group as `(timestamp, message)`
//! pairs. Like LocalStack it applies the time range and, unless `service_filters`, no filter;
//! Insights can be made to fail, time out or stay running; every call is recorded.

use std::sync::Mutex;

mod alarms;
pub use alarms::MemoryAlarms;

use crate::{CallError, FilterPage, LogReader, QueryPage, QueryStatus};

/// How Insights behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Insights {
    /// Complete after `polls` Running answers.
    Works {
        /// Running answers before Complete.
        polls: u32,
    },
    /// StartQuery is throttled.
    StartFails,
    /// The query ends with this status after one Running answer.
    EndsWith(QueryStatus),
    /// The query stays Running.
    NeverCompletes,
}

/// An in-memory log group.
#[derive(Debug)]
pub struct MemoryLogs {
    /// The log events, `(timestamp ms, message)`.
    pub events: Vec<(i64, String)>,
    /// How Insights behaves.
    pub insights: Insights,
    /// FilterLogEvents answers 503.
    pub filter_fails: bool,
    /// Apply the launch rule's filter (its events: every launch route) like CloudWatch Logs
    /// (LocalStack does not).
    pub service_filters: bool,
    /// Events per FilterLogEvents page.
    pub page_size: usize,
    calls: Mutex<Vec<String>>,
    polls: Mutex<u32>,
    queries: Mutex<Vec<(i64, i64, u32)>>,
}

impl MemoryLogs {
    /// A log group holding `events`; Insights completes after two polls.
    pub fn new(events: Vec<(i64, String)>) -> Self {
        Self {
            events,
            insights: Insights::Works { polls: 2 },
            filter_fails: false,
            service_filters: false,
            page_size: 1000,
            calls: Mutex::new(Vec::new()),
            polls: Mutex::new(0),
            queries: Mutex::new(Vec::new()),
        }
    }

    fn log(&self, s: String) {
        self.calls.lock().expect("not poisoned").push(s);
    }

    /// Every call made, in order (`StartQuery 1700000000 1700000660`, ...).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("not poisoned").clone()
    }

    fn in_range(&self, start_ms: i64, end_ms: i64) -> Vec<String> {
        self.events
            .iter()
            .filter(|(t, m)| {
                (start_ms..=end_ms).contains(t)
                    && (!self.service_filters
                        || launchguard_core::capacity::Route::ALL.iter().any(|r| m.contains(&format!("\"{}\"", r.event_name()))))
            })
            .map(|(_, m)| m.clone())
            .collect()
    }
}

impl LogReader for MemoryLogs {
    async fn start_query(&self, _g: &str, start_s: i64, end_s: i64, _q: &str, limit: u32) -> Result<String, CallError> {
        self.log(format!("StartQuery {start_s} {end_s}"));
        if self.insights == Insights::StartFails {
            return Err(CallError::new("logs:StartQuery: Rate exceeded (ThrottlingException; HTTP 400)", true));
        }
        let mut q = self.queries.lock().expect("not poisoned");
        q.push((start_s, end_s, limit));
        *self.polls.lock().expect("not poisoned") = 0;
        Ok(format!("q-{}", q.len()))
    }

    async fn query_results(&self, id: &str) -> Result<QueryPage, CallError> {
        self.log(format!("GetQueryResults {id}"));
        let n: usize = id[2..].parse().map_err(|_| CallError::new(format!("unknown query {id}"), false))?;
        let (start_s, end_s, limit) = self.queries.lock().expect("not poisoned")[n - 1];
        let mut polls = self.polls.lock().expect("not poisoned");
        *polls += 1;
        let running = QueryPage { status: QueryStatus::Running, messages: vec![], rows_without_message: 0 };
        match self.insights {
            Insights::Works { polls: p } if *polls > p => {
                let mut rows = self.in_range(start_s * 1000, end_s * 1000 + 999);
                rows.truncate(limit as usize);
                Ok(QueryPage { status: QueryStatus::Complete, messages: rows, rows_without_message: 0 })
            }
            Insights::EndsWith(s) if *polls > 1 => Ok(QueryPage { status: s, messages: vec![], rows_without_message: 0 }),
            _ => Ok(running),
        }
    }

    async fn stop_query(&self, id: &str) -> Result<(), CallError> {
        self.log(format!("StopQuery {id}"));
        Ok(())
    }

    async fn filter_page(&self, _g: &str, start_ms: i64, end_ms: i64, _p: &str, token: Option<String>) -> Result<FilterPage, CallError> {
        self.log(format!("FilterLogEvents {}", token.clone().unwrap_or_default()));
        if self.filter_fails {
            return Err(CallError::new("logs:FilterLogEvents: service unavailable (HTTP 503)", true));
        }
        let all = self.in_range(start_ms, end_ms);
        let from: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let to = (from + self.page_size).min(all.len());
        Ok(FilterPage { messages: all[from..to].to_vec(), next_token: (to < all.len()).then(|| to.to_string()) })
    }
}
