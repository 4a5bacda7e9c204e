//! The chart's data: instances launched per principal per minute across the incident.

use chrono::{DateTime, Duration, DurationRound, Utc};
use launchguard_core::contract::Finding;
use serde::Serialize;

use crate::model::{principal_arn, shown_principals};

/// Most columns a chart has: a longer span is drawn in wider bins (each a whole number of
/// minutes).
pub const MAX_BINS: usize = 360;

/// What the bars count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Instances launched (the usual case).
    Launched,
    /// Instances requested: nothing was launched (every call failed, e.g. a vCPU limit), so the
    /// chart shows what was asked for.
    Requested,
}

impl Measure {
    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Launched => "instances launched",
            Self::Requested => "instances requested (none launched)",
        }
    }
}

/// One principal's bars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Series {
    /// For people (`IAM user alice`).
    pub label: String,
    /// Its ARN.
    pub arn: String,
    /// One count per bin.
    pub counts: Vec<u64>,
}

/// Instances per principal per bin, from the finding's `launches_per_minute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// The first bin's start (a whole minute); none when no principal has per-minute data.
    pub start: Option<DateTime<Utc>>,
    /// Minutes per bin (1 unless the span is longer than [`MAX_BINS`] minutes).
    pub bin_minutes: i64,
    /// What the bars count.
    pub measure: Measure,
    /// One series per principal with per-minute data, in the finding's order.
    pub series: Vec<Series>,
    /// Principals without per-minute data (cut to fit a payload, or from an older detector).
    pub missing: Vec<String>,
}

impl Timeline {
    /// The timeline of a finding's principals (its top launchers when nobody was over).
    pub fn of(f: &Finding) -> Self {
        let shown = shown_principals(f);
        let measure = if shown.iter().flat_map(|p| p.activity.launches_per_minute.values()).any(|m| m.launched > 0) {
            Measure::Launched
        } else {
            Measure::Requested
        };
        let minutes = shown.iter().flat_map(|p| p.activity.launches_per_minute.keys());
        let (Some(first), Some(last)) = (minutes.clone().min().copied(), minutes.max().copied()) else {
            return Self {
                start: None,
                bin_minutes: 1,
                measure,
                series: Vec::new(),
                missing: shown.iter().map(|p| p.principal.label()).collect(),
            };
        };
        // the finding's whole window when it fits the chart: a burst is seen in its context
        let minute = |t: DateTime<Utc>| t.duration_trunc(Duration::minutes(1)).unwrap_or(t);
        let (w_first, w_last) = (minute(f.window.start), minute(f.window.end));
        let (first, last) = if (w_last - w_first).num_minutes() < i64::try_from(MAX_BINS).unwrap_or(360) {
            (first.min(w_first), last.max(w_last))
        } else {
            (first, last)
        };
        let span = (last - first).num_minutes().max(0) + 1;
        let max_bins = i64::try_from(MAX_BINS).unwrap_or(360);
        let bin_minutes = (span + max_bins - 1) / max_bins;
        let bins = usize::try_from((span + bin_minutes - 1) / bin_minutes).unwrap_or(MAX_BINS).clamp(1, MAX_BINS);
        let mut series = Vec::new();
        let mut missing = Vec::new();
        for p in shown {
            if p.activity.launches_per_minute.is_empty() {
                missing.push(p.principal.label());
                continue;
            }
            let mut counts = vec![0u64; bins];
            for (t, m) in &p.activity.launches_per_minute {
                let i = usize::try_from((*t - first).num_minutes() / bin_minutes).unwrap_or(0).min(bins - 1);
                counts[i] += match measure {
                    Measure::Launched => m.launched,
                    Measure::Requested => m.requested,
                };
            }
            series.push(Series { label: p.principal.label(), arn: principal_arn(&p.principal), counts });
        }
        Self { start: Some(first), bin_minutes, measure, series, missing }
    }

    /// Number of bins.
    pub fn bins(&self) -> usize {
        self.series.first().map_or(0, |s| s.counts.len())
    }

    /// The start of bin `i`.
    pub fn bin_start(&self, i: usize) -> Option<DateTime<Utc>> {
        let i = i64::try_from(i).ok()?;
        self.start.and_then(|s| s.checked_add_signed(Duration::minutes(i.checked_mul(self.bin_minutes)?)))
    }

    /// The sum of all principals in bin `i`.
    pub fn total(&self, i: usize) -> u64 {
        self.series.iter().map(|s| s.counts.get(i).copied().unwrap_or(0)).sum()
    }

    /// The tallest stacked bar.
    pub fn peak(&self) -> u64 {
        (0..self.bins()).map(|i| self.total(i)).max().unwrap_or(0)
    }
}
