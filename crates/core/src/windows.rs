//! Sliding windows over one principal's calls: the one function ([`judge`]) that says whether
//! a principal crossed a rule's thresholds, which horizon and when. The detector's primary read,
//! its fallback read, its scheduled re-check and `launchguard scan` all call it; nothing else
//! decides who is flagged.
//!
//! A rule has several horizons (`[{window 5 min, 10 instances}, {1 h, 40}, {24 h, 150}]`): any
//! single window can be paced (9 instances every 5.5 minutes never makes 10 in 5 minutes, but
//! makes about 100 an hour), so each horizon is judged on its own.
//!
//! The window is **half-open**: a window of `w` starting at `t` holds the calls at times
//! `t <= time < t + w`. A call exactly `w` after another is not in the same window. Every
//! window that can hold the most calls starts at a call, so judging the windows that start at
//! each call is judging every window.
//!
//! Pure and O(calls) per horizon; no I/O, no clock. Layering: this module imports nothing of
//! the crate; `burst` and `rules` import it.

use std::ops::Range;

use chrono::{DateTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a horizon counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Instances launched or requested (whichever is more over the window), dry runs excluded.
    Instances,
    /// Calls, failed ones included, dry runs excluded.
    Calls,
    /// Failed calls (dry runs excluded).
    FailedCalls,
}

impl Measure {
    /// The word for a count of it: `instances`, `calls`, `failed calls`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Instances => "instances",
            Self::Calls => "calls",
            Self::FailedCalls => "failed calls",
        }
    }
}

/// One horizon of a rule: flag at `threshold` of `measure` within `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Horizon {
    /// What is counted.
    pub measure: Measure,
    /// The sliding window, seconds.
    pub window_seconds: u64,
    /// Flag at this many within one window.
    pub threshold: u64,
}

impl Horizon {
    /// `10 instances within 5 min`.
    pub fn describe(&self) -> String {
        format!("{} {} within {}", self.threshold, self.measure.word(), duration_words(self.window_seconds))
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window_seconds.saturating_mul(1000)).unwrap_or(i64::MAX).max(1)
    }
}

/// `45 s`, `5 min`, `1 h`, `1 h 30 min`, `24 h`.
pub fn duration_words(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s} s"));
    }
    parts.join(" ")
}

/// One call, as the windows see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Point {
    /// `eventTime`, epoch milliseconds.
    pub t_ms: i64,
    /// Instances launched.
    pub launched: u64,
    /// Instances requested (0 for a dry run).
    pub requested: u64,
    /// The call failed (not a dry run).
    pub failed: bool,
    /// A dry run: counts for nothing.
    pub dry_run: bool,
}

impl Point {
    /// A point that counts for nothing (a call left out, e.g. one an AWS service made).
    pub fn nothing(t_ms: i64) -> Self {
        Self { t_ms, dry_run: true, ..Self::default() }
    }
}

/// When a horizon was first crossed: what a finding and a scan report say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crossing {
    /// What the horizon counts.
    pub measure: Measure,
    /// The horizon's window, seconds.
    pub window_seconds: u64,
    /// The horizon's threshold.
    pub threshold: u64,
    /// How many were counted in the window when it was crossed (at least `threshold`).
    pub count: u64,
    /// The first call of that window (the window is `[window_start, window_start + window_seconds)`).
    pub window_start: DateTime<Utc>,
    /// The call that made the count reach the threshold: when the horizon was crossed.
    pub at: DateTime<Utc>,
}

impl Crossing {
    /// The horizon crossed.
    pub fn horizon(&self) -> Horizon {
        Horizon { measure: self.measure, window_seconds: self.window_seconds, threshold: self.threshold }
    }

    /// `12 instances within 5 min (threshold 10), crossed at 2026-03-02T09:01:00Z`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} within {} (threshold {}), crossed at {}",
            self.count,
            self.measure.word(),
            duration_words(self.window_seconds),
            self.threshold,
            crate::time::format_utc(self.at)
        )
    }
}

/// A run of calls whose windows of one horizon reach its threshold (overlapping windows are one
/// span).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The horizon's position in the list judged.
    pub horizon: usize,
    /// The calls (positions in the points judged) of every window of the span that reached it.
    pub calls: Range<usize>,
    /// The most counted in one window of the span.
    pub peak: u64,
    /// When the span first crossed the horizon.
    pub crossing: Crossing,
}

#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    launched: u64,
    requested: u64,
    failed: u64,
    attempts: u64,
}

impl Sums {
    fn add(&mut self, p: &Point) {
        self.launched = self.launched.saturating_add(p.launched);
        self.requested = self.requested.saturating_add(p.requested);
        self.failed += u64::from(p.failed && !p.dry_run);
        self.attempts += u64::from(!p.dry_run);
    }

    fn remove(&mut self, p: &Point) {
        self.launched = self.launched.saturating_sub(p.launched);
        self.requested = self.requested.saturating_sub(p.requested);
        self.failed = self.failed.saturating_sub(u64::from(p.failed && !p.dry_run));
        self.attempts = self.attempts.saturating_sub(u64::from(!p.dry_run));
    }

    fn counted(&self, m: Measure) -> u64 {
        match m {
            Measure::Instances => self.launched.max(self.requested),
            Measure::Calls => self.attempts,
            Measure::FailedCalls => self.failed,
        }
    }
}

/// What one point counts for, alone (a dry run counts for nothing).
pub fn counted(p: &Point, m: Measure) -> u64 {
    let mut s = Sums::default();
    s.add(p);
    s.counted(m)
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Judge one principal's calls against every horizon: the spans of each horizon crossed, in
/// horizon order, then by time. `points` must be sorted by time ([`sort`]); an empty list of
/// horizons flags nothing. A horizon whose threshold is 0 is treated as 1.
pub fn judge(points: &[Point], horizons: &[Horizon]) -> Vec<Span> {
    let mut out = Vec::new();
    for (hi, h) in horizons.iter().enumerate() {
        let (w, min) = (h.window_ms(), h.threshold.max(1));
        let mut sums = Sums::default();
        let mut j = 0;
        let mut current: Option<Span> = None;
        for i in 0..points.len() {
            while j < points.len() && points[j].t_ms.saturating_sub(points[i].t_ms) < w {
                sums.add(&points[j]);
                j += 1;
            }
            let n = sums.counted(h.measure);
            if n >= min {
                match current.as_mut() {
                    Some(s) if i < s.calls.end => {
                        s.calls.end = s.calls.end.max(j);
                        s.peak = s.peak.max(n);
                    }
                    _ => {
                        out.extend(current.take());
                        current = Some(Span { horizon: hi, calls: i..j, peak: n, crossing: crossing(points, i, j, h, min) });
                    }
                }
            }
            sums.remove(&points[i]);
        }
        out.extend(current);
    }
    out
}

/// The crossing of the window `points[i..j]`: the call at which its count reached `min`.
fn crossing(points: &[Point], i: usize, j: usize, h: &Horizon, min: u64) -> Crossing {
    let mut s = Sums::default();
    let mut at = j.saturating_sub(1);
    for (k, p) in points.iter().enumerate().take(j).skip(i) {
        s.add(p);
        if s.counted(h.measure) >= min {
            at = k;
            break;
        }
    }
    Crossing {
        measure: h.measure,
        window_seconds: h.window_seconds,
        threshold: h.threshold,
        count: s.counted(h.measure),
        window_start: utc(points[i].t_ms),
        at: utc(points[at].t_ms),
    }
}

/// The fewest calls of `span`'s first window (the one that crossed `h`) whose count alone
/// reaches `h`'s threshold: the largest first (by what each counts for alone), then by time;
/// positions in `points`, in time order. This is what a finding asks CloudTrail to confirm
/// before anyone is contained: enough to cross the threshold, not every call.
pub fn evidence(points: &[Point], span: &Span, h: &Horizon) -> Vec<usize> {
    let min = h.threshold.max(1);
    let mut window = window_calls(points, span, h);
    window.sort_by_key(|&k| (std::cmp::Reverse(counted(&points[k], h.measure)), points[k].t_ms, k));
    let mut sums = Sums::default();
    let mut out = Vec::new();
    for k in window {
        if sums.counted(h.measure) >= min {
            break;
        }
        sums.add(&points[k]);
        out.push(k);
    }
    out.sort_unstable();
    out
}

/// Every call of `span`'s first window (the one that crossed `h`) that counts for `h`: positions
/// in `points`, in time order. [`evidence`] picks the fewest of them; the rest are the
/// alternatives a finding names beside it.
pub fn window_calls(points: &[Point], span: &Span, h: &Horizon) -> Vec<usize> {
    let w = h.window_ms();
    let start = span.calls.start;
    let Some(t0) = points.get(start).map(|p| p.t_ms) else { return Vec::new() };
    (start..points.len()).take_while(|&k| points[k].t_ms.saturating_sub(t0) < w).filter(|&k| counted(&points[k], h.measure) > 0).collect()
}

/// Sort points by time, as [`judge`] needs them (stable: equal times keep their order).
pub fn sort(points: &mut [Point]) {
    points.sort_by_key(|p| p.t_ms);
}

/// The earliest crossing of a judgement (the first horizon listed on a tie): what a finding
/// names as *the* horizon crossed.
pub fn first_crossing(spans: &[Span]) -> Option<Crossing> {
    spans.iter().min_by_key(|s| (s.crossing.at, s.horizon)).map(|s| s.crossing)
}

/// Each horizon crossed once, at its earliest crossing, earliest first.
pub fn crossings(spans: &[Span]) -> Vec<Crossing> {
    let mut firsts: Vec<&Span> = Vec::new();
    for s in spans {
        match firsts.iter_mut().find(|f| f.horizon == s.horizon) {
            Some(f) if (s.crossing.at, s.horizon) < (f.crossing.at, f.horizon) => *f = s,
            Some(_) => {}
            None => firsts.push(s),
        }
    }
    firsts.sort_by_key(|s| (s.crossing.at, s.horizon));
    firsts.into_iter().map(|s| s.crossing).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    const MIN: i64 = 60_000;

    fn launch(t_ms: i64, n: u64) -> Point {
        Point { t_ms, launched: n, requested: n, ..Point::default() }
    }

    fn h(window_seconds: u64, threshold: u64) -> Horizon {
        Horizon { measure: Measure::Instances, window_seconds, threshold }
    }

    #[test]
    fn the_window_is_half_open() {
        // GIVEN 5 instances at t and 5 at exactly t + 5 min
        let at_edge = [launch(0, 5), launch(5 * MIN, 5)];
        // THEN no 5-minute window holds both; one millisecond less, and one does
        assert!(judge(&at_edge, &[h(300, 10)]).is_empty());
        let inside = [launch(0, 5), launch(5 * MIN - 1, 5)];
        let s = judge(&inside, &[h(300, 10)]);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].crossing.count, s[0].crossing.at.timestamp_millis()), (10, 5 * MIN - 1));
    }

    #[test]
    fn dry_runs_count_for_nothing_and_failed_calls_count_as_calls() {
        let dry = Point { t_ms: 0, requested: 0, dry_run: true, ..Point::default() };
        let failed = Point { t_ms: 1, requested: 4, failed: true, ..Point::default() };
        assert_eq!(counted(&dry, Measure::Calls), 0);
        assert_eq!(
            (counted(&failed, Measure::Calls), counted(&failed, Measure::FailedCalls), counted(&failed, Measure::Instances)),
            (1, 1, 4)
        );
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration_words(300), "5 min");
        assert_eq!(duration_words(5400), "1 h 30 min");
        assert_eq!(duration_words(86_400), "24 h");
        assert_eq!(duration_words(45), "45 s");
    }

    /// The oracle: every half-open window starting at any call, counted from scratch.
    fn brute(points: &[Point], hz: &Horizon) -> Option<(i64, u64)> {
        let w = hz.window_ms();
        let mut best: Option<(i64, u64)> = None;
        for a in points {
            let mut s = Sums::default();
            for b in points.iter().filter(|b| b.t_ms >= a.t_ms && b.t_ms - a.t_ms < w) {
                s.add(b);
            }
            let n = s.counted(hz.measure);
            if n >= hz.threshold.max(1) {
                best = Some(best.map_or((a.t_ms, n), |(t, m)| (t.min(a.t_ms), m.max(n))));
            }
        }
        best
    }

    fn point() -> impl Strategy<Value = Point> {
        (0i64..(26 * 3_600_000), 0u64..12, 0u64..12, any::<bool>(), 0u8..8).prop_map(|(t_ms, launched, requested, failed, dry)| {
            if dry == 0 {
                Point { t_ms, requested: 0, launched: 0, dry_run: true, failed: false }
            } else {
                Point { t_ms, launched: launched.min(requested), requested, failed, dry_run: false }
            }
        })
    }

    fn horizon() -> impl Strategy<Value = Horizon> {
        let measure = prop_oneof![Just(Measure::Instances), Just(Measure::Calls), Just(Measure::FailedCalls)];
        (measure, prop_oneof![Just(60u64), Just(300), Just(3600), Just(86_400), 1u64..7200], 1u64..200)
            .prop_map(|(measure, window_seconds, threshold)| Horizon { measure, window_seconds, threshold })
    }

    proptest! {
        /// Issue 23: for any arrangement of one principal's calls, flagged exactly when the
        /// calls inside some horizon's window reach its threshold; and the crossing is real.
        #[test]
        fn flagged_exactly_when_some_window_reaches_a_horizon(
            mut points in proptest::collection::vec(point(), 0..120),
            horizons in proptest::collection::vec(horizon(), 1..4),
        ) {
            sort(&mut points);
            let spans = judge(&points, &horizons);
            for (hi, hz) in horizons.iter().enumerate() {
                let mine: Vec<&Span> = spans.iter().filter(|s| s.horizon == hi).collect();
                let oracle = brute(&points, hz);
                prop_assert_eq!(!mine.is_empty(), oracle.is_some(), "horizon {:?}", hz);
                if let Some((first_start, peak)) = oracle {
                    prop_assert_eq!(mine[0].crossing.window_start.timestamp_millis(), first_start);
                    prop_assert_eq!(mine.iter().map(|s| s.peak).max().unwrap(), peak);
                    for s in &mine {
                        // the crossing's window, counted from scratch, reaches the threshold by `at`
                        let c = s.crossing;
                        let (from, at) = (c.window_start.timestamp_millis(), c.at.timestamp_millis());
                        prop_assert!(at - from < hz.window_ms());
                        let mut sum = Sums::default();
                        for p in points.iter().filter(|p| p.t_ms >= from && p.t_ms <= at) { sum.add(p); }
                        prop_assert!(sum.counted(hz.measure) >= hz.threshold && c.count >= hz.threshold);
                    }
                }
            }
            let flagged = first_crossing(&spans).is_some();
            prop_assert_eq!(flagged, horizons.iter().any(|hz| brute(&points, hz).is_some()));
        }
    }
}
