//! A model of what CloudWatch does with launchguard's metric filters and alarms, for the tests
//! that prove the alarms sound (issue 30): a metric filter's JSON pattern evaluated on a
//! CloudTrail record, its metric value, and an alarm's evaluation (the Sum statistic over fixed
//! periods aligned to the clock, `M` of `N` datapoints at or above the threshold, missing data
//! not breaching).
//!
//! Only the pattern forms launchguard renders are understood: `{ ... }` around comparisons
//! joined by `&&` and `||` (`&&` binds tighter) and grouped by parentheses; a comparison is
//! `$.a.b[0].c = "text"`, `= *` (the field is there), `!= "text"`, `NOT EXISTS`, or a numeric
//! `>= n` / `< n` (true only for a field that is a JSON number). Anything
//! else is an error, so a pattern the model does not know fails the test instead of passing it.
//! Where CloudWatch's behaviour is not documented, the model takes the side that fires less:
//! `!=` on a field that is not there does not match.

use std::collections::BTreeMap;

use serde_json::Value;

/// A CloudWatch Logs JSON selector (`$.a.b[0].c`) on a record: the value it picks, if any.
pub fn select<'a>(record: &'a Value, selector: &str) -> Option<&'a Value> {
    let mut v = record;
    for part in selector.strip_prefix("$.")?.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, Some(rest.strip_suffix(']')?.parse::<usize>().ok()?)),
            None => (part, None),
        };
        v = v.get(key)?;
        if let Some(i) = index {
            v = v.get(i)?;
        }
    }
    Some(v).filter(|v| !v.is_null())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Eq,
    Ne,
    Star,
    NotExists,
    Ge,
    Lt,
    Num(f64),
    Str(String),
    Sel(String),
}

fn tokens(pattern: &str) -> Result<Vec<Tok>, String> {
    let body =
        pattern.trim().strip_prefix('{').and_then(|p| p.strip_suffix('}')).ok_or_else(|| format!("not a JSON pattern: {pattern}"))?;
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &body[i..];
        let fixed = [
            ("&&", Tok::And),
            ("||", Tok::Or),
            ("!=", Tok::Ne),
            (">=", Tok::Ge),
            ("<", Tok::Lt),
            ("NOT EXISTS", Tok::NotExists),
            ("(", Tok::Open),
            (")", Tok::Close),
            ("*", Tok::Star),
            ("=", Tok::Eq),
        ];
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        if let Some((text, tok)) = fixed.iter().find(|(text, _)| rest.starts_with(text)) {
            out.push(tok.clone());
            i += text.len();
            continue;
        }
        match b[i] {
            b'"' => {
                let end = rest[1..].find('"').ok_or_else(|| format!("unterminated string in {pattern}"))?;
                let s = &rest[1..=end];
                if s.contains('\\') || s.contains('*') {
                    return Err(format!("escapes and wildcards in strings are not modelled: {pattern}"));
                }
                out.push(Tok::Str(s.to_owned()));
                i += end + 2;
            }
            b'$' => {
                let len = rest.find([' ', ')']).unwrap_or(rest.len());
                out.push(Tok::Sel(rest[..len].to_owned()));
                i += len;
            }
            b'-' | b'0'..=b'9' => {
                let len = rest.find([' ', ')']).unwrap_or(rest.len());
                let n = rest[..len].parse::<f64>().map_err(|_| format!("not a number: {:?} in {pattern}", &rest[..len]))?;
                out.push(Tok::Num(n));
                i += len;
            }
            _ => return Err(format!("unexpected {:?} in {pattern}", &rest[..rest.len().min(12)])),
        }
    }
    Ok(out)
}

struct Parser<'r> {
    toks: Vec<Tok>,
    at: usize,
    record: &'r Value,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Result<Tok, String> {
        let t = self.toks.get(self.at).cloned().ok_or("pattern ends early")?;
        self.at += 1;
        Ok(t)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            v |= self.and()?;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.term()?;
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            v &= self.term()?;
        }
        Ok(v)
    }

    fn term(&mut self) -> Result<bool, String> {
        match self.next()? {
            Tok::Open => {
                let v = self.or()?;
                match self.next()? {
                    Tok::Close => Ok(v),
                    t => Err(format!("expected ), found {t:?}")),
                }
            }
            Tok::Sel(sel) => {
                let field = select(self.record, &sel);
                match self.next()? {
                    Tok::NotExists => Ok(field.is_none()),
                    Tok::Eq => match self.next()? {
                        Tok::Star => Ok(field.is_some()),
                        Tok::Str(s) => Ok(field.and_then(Value::as_str) == Some(s.as_str())),
                        t => Err(format!("expected a string or * after =, found {t:?}")),
                    },
                    op @ (Tok::Ge | Tok::Lt) => match self.next()? {
                        Tok::Num(n) => Ok(field.and_then(Value::as_f64).is_some_and(|f| if op == Tok::Ge { f >= n } else { f < n })),
                        t => Err(format!("expected a number after {op:?}, found {t:?}")),
                    },
                    Tok::Ne => match self.next()? {
                        Tok::Str(s) => Ok(field.is_some_and(|f| f.as_str() != Some(s.as_str()))),
                        t => Err(format!("expected a string after !=, found {t:?}")),
                    },
                    t => Err(format!("expected a comparison after {sel}, found {t:?}")),
                }
            }
            t => Err(format!("expected ( or a selector, found {t:?}")),
        }
    }
}

/// True when the JSON filter `pattern` matches `record`; an error for a form the model does
/// not know.
pub fn matches(pattern: &str, record: &Value) -> Result<bool, String> {
    let mut p = Parser { toks: tokens(pattern)?, at: 0, record };
    let v = p.or()?;
    if p.at != p.toks.len() {
        return Err(format!("trailing tokens in {pattern}"));
    }
    Ok(v)
}

/// One metric filter: its pattern, and the metric it publishes to with what value.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// `FilterPattern`.
    pub pattern: String,
    /// `MetricTransformations[0].MetricName` (the namespace is launchguard's).
    pub metric: String,
    /// `MetricValue`: a number, or a selector whose field must be a number.
    pub value: String,
}

impl Filter {
    /// What the filter adds to its metric for this record (`None`: nothing).
    pub fn value_of(&self, record: &Value) -> Result<Option<f64>, String> {
        if !matches(&self.pattern, record)? {
            return Ok(None);
        }
        if self.value.starts_with("$.") {
            // a value field that is not a number publishes nothing
            return Ok(select(record, &self.value).and_then(Value::as_f64));
        }
        self.value.parse::<f64>().map(Some).map_err(|e| format!("MetricValue {:?}: {e}", self.value))
    }
}

/// One alarm on the Sum of a metric, `GreaterThanOrEqualToThreshold`, missing data not breaching.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// `AlarmName`.
    pub name: String,
    /// `MetricName`.
    pub metric: String,
    /// `Period`, seconds.
    pub period_seconds: i64,
    /// `EvaluationPeriods` (N).
    pub evaluation_periods: u32,
    /// `DatapointsToAlarm` (M; N when absent).
    pub datapoints_to_alarm: u32,
    /// `Threshold`.
    pub threshold: f64,
    /// A metric-math alarm on `metric - FILL(minus, 0)`, the one expression launchguard renders
    /// (a period without `metric` has no datapoint: not breaching).
    pub minus: Option<String>,
}

impl Alarm {
    /// The datapoints the alarm sums per period, from every metric's: its metric's, less its
    /// `minus` metric's.
    pub fn series(&self, by_metric: &BTreeMap<String, Vec<(i64, f64)>>) -> Vec<(i64, f64)> {
        let mut out = by_metric.get(self.metric.as_str()).cloned().unwrap_or_default();
        if let Some(m) = &self.minus {
            out.extend(by_metric.get(m.as_str()).into_iter().flatten().map(|&(t, v)| (t, -v)));
        }
        out
    }
}

impl Alarm {
    /// True when some N consecutive periods (boundaries at `offset_ms` + k * period) hold at
    /// least M whose Sum of `datapoints` (time ms, value) reaches the threshold.
    pub fn fires(&self, datapoints: &[(i64, f64)], offset_ms: i64) -> bool {
        let p = self.period_seconds.max(1) * 1000;
        let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
        for &(t, v) in datapoints {
            *sums.entry((t - offset_ms).div_euclid(p)).or_default() += v;
        }
        let breaching: Vec<i64> = sums.into_iter().filter(|(_, s)| *s >= self.threshold).map(|(k, _)| k).collect();
        let (n, m) = (i64::from(self.evaluation_periods.max(1)), self.datapoints_to_alarm.max(1) as usize);
        let mut i = 0;
        for j in 0..breaching.len() {
            while breaching[j] - breaching[i] >= n {
                i += 1;
            }
            if j + 1 - i >= m {
                return true;
            }
        }
        false
    }
}

/// Every metric's datapoints `(time ms, value)` that the filters publish for `records` (each
/// with an `eventTime`): a metric filter publishes at the record's time.
pub fn datapoints(filters: &[Filter], records: &[Value]) -> Result<BTreeMap<String, Vec<(i64, f64)>>, String> {
    let mut by_metric: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for r in records {
        let t = r["eventTime"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .ok_or_else(|| format!("record without an eventTime: {r}"))?
            .timestamp_millis();
        for f in filters {
            if let Some(v) = f.value_of(r)? {
                by_metric.entry(f.metric.clone()).or_default().push((t, v));
            }
        }
    }
    Ok(by_metric)
}

/// The names of the alarms that fire on `records` (each with an `eventTime`), periods aligned at
/// `offset_ms`.
pub fn firing(filters: &[Filter], alarms: &[Alarm], records: &[Value], offset_ms: i64) -> Result<Vec<String>, String> {
    let by_metric = datapoints(filters, records)?;
    Ok(alarms.iter().filter(|a| a.fires(&a.series(&by_metric), offset_ms)).map(|a| a.name.clone()).collect())
}

impl Alarm {
    /// When the alarm is in `ALARM`, as `[from, to)` ms intervals, periods aligned at `offset_ms`,
    /// every datapoint on time: evaluated at each period's end over the `N` periods just ended, in
    /// `ALARM` while `M` of them reach the threshold.
    pub fn alarm_intervals(&self, datapoints: &[(i64, f64)], offset_ms: i64) -> Vec<(i64, i64)> {
        let p = self.period_seconds.max(1) * 1000;
        let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
        for &(t, v) in datapoints {
            *sums.entry((t - offset_ms).div_euclid(p)).or_default() += v;
        }
        let breaching: Vec<i64> = sums.into_iter().filter(|(_, s)| *s >= self.threshold).map(|(k, _)| k).collect();
        let (n, m) = (i64::from(self.evaluation_periods.max(1)), self.datapoints_to_alarm.max(1) as usize);
        // the evaluations that can be in ALARM: the ends of periods k+1 ..= k+N of a breaching k
        let mut ends: Vec<i64> = breaching.iter().flat_map(|k| (k + 1)..=(k + n)).collect();
        ends.sort_unstable();
        ends.dedup();
        let mut out: Vec<(i64, i64)> = Vec::new();
        for e in ends {
            // the periods evaluated at the end of period e - 1: e - N ..= e - 1
            let lo = breaching.partition_point(|k| *k < e - n);
            let hi = breaching.partition_point(|k| *k < e);
            if hi - lo < m {
                continue;
            }
            let (from, to) = (e * p + offset_ms, (e + 1) * p + offset_ms);
            match out.last_mut() {
                Some(last) if last.1 == from => last.1 = to,
                _ => out.push((from, to)),
            }
        }
        out
    }
}

/// What alarm intervals cost the detector: one invocation when an alarm goes into `ALARM` (its
/// notification), and one for each scheduled re-check (every `recheck_ms`, aligned to the clock)
/// that finds it still there. Returns (notifications, re-checks).
pub fn invocations(intervals: &[(i64, i64)], recheck_ms: i64) -> (u64, u64) {
    let r = recheck_ms.max(1);
    let rechecks = intervals.iter().map(|(from, to)| u64::try_from((to - 1).div_euclid(r) - from.div_euclid(r)).unwrap_or(0)).sum();
    (intervals.len() as u64, rechecks)
}

fn number(v: &Value, params: &BTreeMap<String, String>) -> Result<f64, String> {
    if let Some(n) = v.as_f64() {
        return Ok(n);
    }
    let name = v["Ref"].as_str().ok_or_else(|| format!("not a number or a Ref: {v}"))?;
    params.get(name).ok_or_else(|| format!("no value for parameter {name}"))?.parse::<f64>().map_err(|e| format!("{name}: {e}"))
}

/// The metric filters and alarms of a CloudFormation template's resources; a `Ref` to a
/// parameter takes its value from `params`.
pub fn from_template(resources: &Value, params: &BTreeMap<String, String>) -> Result<(Vec<Filter>, Vec<Alarm>), String> {
    let (mut filters, mut alarms) = (Vec::new(), Vec::new());
    for (id, r) in resources.as_object().ok_or("Resources is not an object")? {
        let p = &r["Properties"];
        match r["Type"].as_str() {
            Some("AWS::Logs::MetricFilter") => {
                let m = &p["MetricTransformations"][0];
                filters.push(Filter {
                    pattern: p["FilterPattern"].as_str().ok_or_else(|| format!("{id}: no pattern"))?.to_owned(),
                    metric: m["MetricName"].as_str().ok_or_else(|| format!("{id}: no metric"))?.to_owned(),
                    value: m["MetricValue"].as_str().ok_or_else(|| format!("{id}: no value"))?.to_owned(),
                });
            }
            Some("AWS::CloudWatch::Alarm") if p["Metrics"].is_array() => {
                // the one metric-math form launchguard renders: a - FILL(b, 0), both Sums of
                // LaunchGuard metrics over one period
                let m = p["Metrics"].as_array().cloned().unwrap_or_default();
                let stat = |id: &str| -> Result<(String, f64), String> {
                    let s = m.iter().find(|x| x["Id"] == id).map(|x| &x["MetricStat"]).ok_or_else(|| format!("{id}: no metric {id}"))?;
                    if s["Stat"] != "Sum" || s["Metric"]["Namespace"] != "LaunchGuard" {
                        return Err(format!("{id}: only Sums of LaunchGuard metrics are modelled"));
                    }
                    Ok((s["Metric"]["MetricName"].as_str().ok_or("no metric name")?.to_owned(), number(&s["Period"], params)?))
                };
                let expr = m.iter().find(|x| x["ReturnData"] == true).and_then(|x| x["Expression"].as_str()).unwrap_or_default();
                let (a, b) = expr
                    .split_once(" - FILL(")
                    .and_then(|(a, rest)| rest.strip_suffix(", 0)").map(|b| (a, b)))
                    .ok_or_else(|| format!("{id}: only `a - FILL(b, 0)` is modelled, not {expr:?}"))?;
                let ((metric, period), (minus, other)) = (stat(a)?, stat(b)?);
                if period != other || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["TreatMissingData"] != "notBreaching"
                {
                    return Err(format!("{id}: only one period, >= and notBreaching are modelled"));
                }
                let n = number(&p["EvaluationPeriods"], params)? as u32;
                alarms.push(Alarm {
                    name: p["AlarmName"].as_str().ok_or_else(|| format!("{id}: no name"))?.to_owned(),
                    metric,
                    period_seconds: period as i64,
                    evaluation_periods: n,
                    datapoints_to_alarm: if p["DatapointsToAlarm"].is_null() { n } else { number(&p["DatapointsToAlarm"], params)? as u32 },
                    threshold: number(&p["Threshold"], params)?,
                    minus: Some(minus),
                });
            }
            Some("AWS::CloudWatch::Alarm") if p["Namespace"] == "LaunchGuard" => {
                if p["Statistic"] != "Sum"
                    || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold"
                    || p["TreatMissingData"] != "notBreaching"
                {
                    return Err(format!("{id}: only Sum, >= and notBreaching are modelled"));
                }
                let n = number(&p["EvaluationPeriods"], params)? as u32;
                alarms.push(Alarm {
                    name: p["AlarmName"].as_str().ok_or_else(|| format!("{id}: no name"))?.to_owned(),
                    metric: p["MetricName"].as_str().ok_or_else(|| format!("{id}: no metric"))?.to_owned(),
                    period_seconds: number(&p["Period"], params)? as i64,
                    evaluation_periods: n,
                    datapoints_to_alarm: if p["DatapointsToAlarm"].is_null() { n } else { number(&p["DatapointsToAlarm"], params)? as u32 },
                    threshold: number(&p["Threshold"], params)?,
                    minus: None,
                });
            }
            _ => {}
        }
    }
    Ok((filters, alarms))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn patterns_match_as_cloudwatch_documents_them() {
        let r = json!({"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
                       "requestParameters": {"instancesSet": {"items": [{"maxCount": 3}]}}});
        let m = |p: &str| matches(p, &r).unwrap();
        assert!(m(r#"{ ($.eventSource = "ec2.amazonaws.com") && ($.eventName = "RunInstances") }"#));
        assert!(!m(r#"{ ($.eventSource = "ec2.amazonaws.com") && ($.eventName = "CreateUser") }"#));
        assert!(m(r#"{ ($.errorCode NOT EXISTS) && ($.requestParameters.instancesSet.items[0].maxCount = *) }"#));
        assert!(!m(r#"{ ($.errorCode != "Client.DryRunOperation") }"#), "!= on a missing field: the side that fires less");
        assert!(m(
            r#"{ (($.errorCode NOT EXISTS) || ($.errorCode != "Client.DryRunOperation")) && ($.eventName = "X") || ($.eventName = "RunInstances") }"#
        ));
        assert!(m(r#"{ ($.requestParameters.instancesSet.items[0].maxCount >= 1) }"#));
        assert!(!m(r#"{ ($.requestParameters.instancesSet.items[0].maxCount >= 4) }"#));
        assert!(m(r#"{ ($.requestParameters.instancesSet.items[0].maxCount < 4) }"#));
        assert!(!m(r#"{ ($.eventName < 4) }"#), "a numeric comparison on a string: no match");
        assert!(!m(r#"{ ($.missing >= -1) }"#), "nor on a missing field");
        assert!(matches("{ ($.a = 1) }", &r).is_err(), "unknown forms are errors");
    }

    #[test]
    fn an_alarm_stays_in_alarm_while_a_breaching_period_is_evaluated() {
        let a = Alarm {
            name: "a".into(),
            metric: "m".into(),
            period_seconds: 300,
            evaluation_periods: 4,
            datapoints_to_alarm: 1,
            threshold: 5.0,
            minus: None,
        };
        // one breaching period [0, 300 s): in ALARM from its end for 4 periods
        assert_eq!(a.alarm_intervals(&[(10_000, 5.0)], 0), vec![(300_000, 1_500_000)]);
        // two breaching periods 2 apart: one interval; far apart: two
        assert_eq!(a.alarm_intervals(&[(10_000, 5.0), (610_000, 9.0)], 0), vec![(300_000, 2_100_000)]);
        assert_eq!(a.alarm_intervals(&[(10_000, 5.0), (3_000_000, 9.0)], 0).len(), 2);
        assert!(a.alarm_intervals(&[(10_000, 4.0)], 0).is_empty());
        // 1 notification; re-checks at 600, 900, 1200 s (every 5 min after it went into ALARM)
        assert_eq!(invocations(&[(300_000, 1_500_000)], 300_000), (1, 3));
        let two_of_three = Alarm { evaluation_periods: 3, datapoints_to_alarm: 2, ..a };
        assert_eq!(two_of_three.alarm_intervals(&[(10_000, 5.0), (610_000, 5.0)], 0), vec![(900_000, 1_200_000)]);
    }

    #[test]
    fn an_alarm_sums_fixed_periods_and_needs_m_of_n() {
        let a = Alarm {
            name: "a".into(),
            metric: "m".into(),
            period_seconds: 60,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            threshold: 10.0,
            minus: None,
        };
        // 5 + 5 across a minute boundary: two periods of 5
        assert!(!a.fires(&[(55_000, 5.0), (65_000, 5.0)], 0));
        assert!(a.fires(&[(55_000, 5.0), (65_000, 5.0)], 30_000), "aligned elsewhere, one period holds both");
        let two_of_three = Alarm { evaluation_periods: 3, datapoints_to_alarm: 2, threshold: 5.0, ..a };
        assert!(two_of_three.fires(&[(0, 5.0), (150_000, 5.0)], 0));
        assert!(!two_of_three.fires(&[(0, 5.0), (180_000, 5.0)], 0));
    }
}
