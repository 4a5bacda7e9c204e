//! The metric filters and alarms a rule set needs, rendered from it (issue 30): deploy puts
//! exactly these in the stack, so no alarm threshold is set by hand, a rule added to the file
//! gets its alarms and a threshold changed there changes them.
//!
//! For every horizon of every rule (instances, calls, and the failed calls of
//! `min_failed_calls`), one alarm on the Sum of the metric that counts what the horizon counts,
//! whose period is the horizon's window and whose threshold is half the horizon's, rounded up.
//! Why that fires whenever the rule flags: a sliding window of length W that holds T lies
//! across at most two fixed periods of length W, wherever CloudWatch aligns them, so one of the
//! two holds at least T/2. Over-firing is allowed (the metric counts the whole account, and
//! half a threshold wakes the detector): the detector then judges the sliding windows exactly
//! ([`crate::windows::judge`]). The property test in `crates/testkit/tests/it/alarms.rs` checks
//! it against a model of CloudWatch's evaluation.
//!
//! The metric filters count what the rule counts: calls and instances leave out dry runs
//! (`errorCode` `Client.DryRunOperation`) and count failed calls, as [`crate::launch`] does;
//! instances are, for `RunInstances`, the first launch specification's `maxCount`, and for a
//! call asking for capacity, the field [`crate::capacity`] reads (a fleet's target capacity, a
//! spot request's count, an Auto Scaling group's desired capacity or minimum). A call whose
//! count is not there (CloudTrail omitted its `requestParameters`, over its size limit) counts
//! as [`crate::rules::MAX_THRESHOLD`] instances, which fires every instances alarm, and the
//! detector counts what the record says. A resize's filter counts the new size (it only wakes
//! the detector, which counts the increase: [`crate::capacity`]). Not seen by a metric: a second
//! launch specification in one call (CloudTrail writes one for RunInstances).
//!
//! A `RunInstances` count CloudWatch cannot read as a number (`"maxCount": "12"`, which core
//! reads as 12; issue 23, rvd finding 7) matches none of the instances filters: CloudWatch's
//! numeric comparisons match JSON numbers only, and its `=`, `!=` and wildcards compare a
//! number's text as a string's, so no one pattern tells a string from a number. Two more metrics
//! tell them apart, on every launch route (rv finding 5): [`COUNTS_WRITTEN_METRIC`] adds 1 for
//! every count field a launch writes (`= *`: any type), [`COUNTS_NUMERIC_METRIC`] 1 for every one
//! that is a number at or above 0 (`>= 0`); a metric-math alarm per rule counting instances fires when
//! `written - FILL(numeric, 0) >= 1` (a launch whose count no instances filter read), which
//! wakes the detector, which counts what the record says. Every value published is positive:
//! nothing can take a launch off a Sum.

use serde_json::{Value, json};

use crate::CoreError;
use crate::alarm::INSTANCES_METRIC;
use crate::capacity::Route;
use crate::rules::{Rule, RuleSet};
use crate::windows::{Horizon, Measure, duration_words};

/// The metrics' namespace.
pub const NAMESPACE: &str = "LaunchGuard";
/// Every rendered alarm's name starts with it (the detector's role may describe these alarms;
/// `launchguard-health-` is launchguard's own health and is refused).
pub const ALARM_PREFIX: &str = "launchguard-";
/// CloudWatch Logs allows 100 metric filters per log group; launchguard takes at most this many.
pub const MAX_FILTERS: usize = 40;
/// Most alarms rendered: each is about 700 bytes of the wiring template, which CloudFormation
/// takes up to 51,200 bytes (`e2e/test_documents.py`).
pub const MAX_ALARMS: usize = 40;
/// How late a record may reach the log group and still fire its alarm: each alarm evaluates
/// `1 + ceil(LATE_DELIVERY_SECONDS / period)` periods (at most a day of them, CloudWatch's limit)
/// and fires on any one of them, so a datapoint published into a period up to this long after
/// the period ended is still evaluated. `python bench/delivery_delay.py` measured CloudTrail's
/// delivery at most 594 s late on the real invictus-ir files (SECURITY.md).
pub const LATE_DELIVERY_SECONDS: u64 = 900;
/// CloudWatch evaluates at most a day (`Period × EvaluationPeriods`), as the detector's gate.
pub const MAX_EVALUATED_SECONDS: u64 = 86_400;
/// The metric value of the instances filter.
pub const MAX_COUNT: &str = "$.requestParameters.instancesSet.items[0].maxCount";
/// Launches (dry runs left out) whose count field is there, whatever its type.
pub const COUNTS_WRITTEN_METRIC: &str = "RunInstancesCountsWritten";
/// Launches (dry runs left out) whose count is a JSON number.
pub const COUNTS_NUMERIC_METRIC: &str = "RunInstancesCountsNumeric";
/// The end of the name of a rule's alarm on counts that are not numbers.
pub const UNREAD_COUNTS_SUFFIX: &str = "count-not-a-number";

/// One metric filter on the CloudTrail log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricFilter {
    /// CloudFormation logical id.
    pub logical_id: String,
    /// The metric it adds to (several filters may add to one).
    pub metric: String,
    /// The JSON filter pattern.
    pub pattern: String,
    /// `MetricValue`: `1`, or the field whose number is added.
    pub value: String,
}

/// One alarm on the Sum of a metric, at or above the threshold, missing data not breaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedAlarm {
    /// CloudFormation logical id.
    pub logical_id: String,
    /// `AlarmName`: the rule's `alarms` pattern fires the rule for it.
    pub name: String,
    /// The rule's id.
    pub rule: String,
    /// The horizon it watches.
    pub horizon: Horizon,
    /// The metric.
    pub metric: String,
    /// Seconds.
    pub period_seconds: u64,
    /// N: the periods evaluated ([`LATE_DELIVERY_SECONDS`]).
    pub evaluation_periods: u32,
    /// M: 1, any one period at or above the threshold fires.
    pub datapoints_to_alarm: u32,
    /// At or above this Sum in one period.
    pub threshold: u64,
    /// A metric-math alarm on `metric - FILL(minus, 0)` (the launches whose count is not a
    /// number: [`COUNTS_WRITTEN_METRIC`] minus [`COUNTS_NUMERIC_METRIC`]); `None` for a horizon's
    /// alarm on `metric` alone. Its `horizon` is the rule's shortest instances horizon, whose
    /// window is its period.
    pub minus: Option<String>,
}

impl PlannedAlarm {
    /// What the alarm watches, in words (its `AlarmDescription`).
    pub fn describe(&self) -> String {
        match &self.minus {
            None => format!(
                "launchguard rule {}: {} (rendered from the rule file; fires at half the threshold in one period, the detector judges the sliding window)",
                self.rule,
                self.horizon.describe()
            ),
            Some(_) => format!(
                "launchguard rule {}: a launch whose instance count is not a number, which no instances metric filter reads (rendered from the rule file; wakes the detector, which counts what the record says)",
                self.rule
            ),
        }
    }
}

/// What deploy renders for a rule set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlarmPlan {
    /// The metric filters, each metric once.
    pub filters: Vec<MetricFilter>,
    /// The alarms, rule by rule, horizon by horizon.
    pub alarms: Vec<PlannedAlarm>,
}

/// CloudWatch Logs' longest metric filter pattern.
pub const MAX_FILTER_PATTERN: usize = 1024;
/// CloudWatch's longest alarm name.
pub const MAX_ALARM_NAME: usize = 255;

fn camel(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// `5m`, `1h`, `90m`, `24h`: a window in an alarm's name.
fn short(seconds: u64) -> String {
    if seconds.is_multiple_of(3600) { format!("{}h", seconds / 3600) } else { format!("{}m", seconds / 60) }
}

const NOT_A_DRY_RUN: &str = "(($.errorCode NOT EXISTS) || ($.errorCode != \"Client.DryRunOperation\"))";
const FAILED: &str = "($.errorCode = *) && ($.errorCode != \"Client.DryRunOperation\")";

fn pattern(rule: &Rule, more: &str) -> String {
    let terms = rule.event.filter_terms();
    if rule.event.groups().count() > 1 { format!("{{ ({terms}) && {more} }}") } else { format!("{{ {terms} && {more} }}") }
}

fn route_pattern(route: Route, more: &str) -> String {
    format!(
        "{{ ($.eventSource = \"{}\") && ($.eventName = \"{}\") && {NOT_A_DRY_RUN} && {more} }}",
        route.event_source(),
        route.event_name()
    )
}

/// `$.requestParameters.<path>`.
fn request_field(path: &[&str]) -> String {
    format!("$.requestParameters.{}", path.join("."))
}

/// One filter of one route before [`merged`]: its logical id's suffix, the condition on the
/// call besides its event and not being a dry run, and the value it adds.
#[derive(Debug, Clone)]
struct Part {
    route: Route,
    suffix: String,
    more: String,
    value: String,
}

/// The filters of `parts` adding to `metric`: the parts of one event source that add the same
/// value share a filter, `{ source && not a dry run && ((name && more) || ...) }` (a call has
/// one event name: it adds the value once, as its own route's filter would), cut where a
/// pattern would be longer than [`MAX_FILTER_PATTERN`]. A filter of one route keeps the logical
/// id of the stacks deployed so far. Fewer filters keep the wiring template under
/// CloudFormation's 51,200 bytes (`e2e/test_documents.py`).
fn merged(parts: Vec<Part>, metric: &str) -> Vec<MetricFilter> {
    let mut groups: Vec<Vec<Part>> = Vec::new();
    let pattern = |g: &[Part]| -> String {
        if let [one] = g {
            return route_pattern(one.route, &one.more);
        }
        let terms: Vec<String> = g.iter().map(|p| format!("(($.eventName = \"{}\") && {})", p.route.event_name(), p.more)).collect();
        format!("{{ ($.eventSource = \"{}\") && {NOT_A_DRY_RUN} && ({}) }}", g[0].route.event_source(), terms.join(" || "))
    };
    for part in parts {
        let fits = |g: &Vec<Part>| {
            g[0].route.event_source() == part.route.event_source()
                && g[0].value == part.value
                && !g.iter().any(|p| p.route == part.route)
                && pattern(&[g.clone(), vec![part.clone()]].concat()).len() <= MAX_FILTER_PATTERN
        };
        match groups.iter_mut().rev().find(|g| g[0].route.event_source() == part.route.event_source() && g[0].value == part.value) {
            Some(g) if fits(g) => g.push(part),
            _ => groups.push(vec![part]),
        }
    }
    let mut ids: Vec<String> = Vec::new();
    groups
        .into_iter()
        .map(|g| {
            let base = match g.as_slice() {
                [one] => format!(
                    "MetricFilterInstances{}{}",
                    if one.route == Route::RunInstances { "" } else { one.route.event_name() },
                    one.suffix
                ),
                _ => format!("MetricFilterInstances{}{}", camel(g[0].route.event_source().trim_end_matches(".amazonaws.com")), g[0].suffix),
            };
            let mut id = base.clone();
            let mut k = 1;
            while ids.contains(&id) {
                k += 1;
                id = format!("{base}{k}");
            }
            ids.push(id.clone());
            MetricFilter { logical_id: id, metric: metric.to_owned(), pattern: pattern(&g), value: g[0].value.clone() }
        })
        .collect()
}

/// The filters that add what a call of `route` asks for to the instances metric `metric`, dry
/// runs left out, as [`crate::launch::launch_facts`] counts it: the count when the call gives
/// one, else [`crate::rules::MAX_THRESHOLD`] where core cannot read one (so the detector
/// reads the records and counts what they say).
fn route_filters(route: Route) -> Vec<Part> {
    let max = crate::rules::MAX_THRESHOLD.to_string();
    let filter = |suffix: &str, more: String, value: String| Part { route, suffix: suffix.to_owned(), more, value };
    match route {
        Route::RunInstances => vec![
            // a count of at least one, published as written; never a negative one, which
            // would take a real launch's instances off the period's Sum
            filter("Requested", format!("({MAX_COUNT} >= 1)"), MAX_COUNT.into()),
            // a refused call asking for 0 or fewer instances: core reads what it asked for
            // elsewhere (minCount, else 1); the metric cannot, so it wakes the detector (as an
            // omitted count does), which counts what the record says
            filter("NotACount", format!("({MAX_COUNT} < 1)"), max.clone()),
            // the count is not known (CloudTrail omitted the request, or the response alone
            // says it): count it as every threshold at once, so the detector reads the records
            // and counts what they say
            filter("Omitted", format!("({MAX_COUNT} NOT EXISTS)"), max),
        ],
        Route::CreateFleet | Route::RequestSpotFleet | Route::SetDesiredCapacity | Route::ModifyFleet => {
            let f = request_field(route.count_fields()[0]);
            vec![filter("", format!("({f} >= 1)"), f.clone()), filter("Unread", format!("(({f} NOT EXISTS) || ({f} < 0))"), max)]
        }
        Route::ModifySpotFleetRequest => {
            let (w, t) = (request_field(route.count_fields()[0]), request_field(route.count_fields()[1]));
            vec![
                filter("", format!("({w} >= 1)"), w.clone()),
                filter("Flat", format!("({w} NOT EXISTS) && ({t} >= 1)"), t.clone()),
                filter("Unread", format!("((({w} NOT EXISTS) && ({t} NOT EXISTS)) || ({w} < 0) || ({t} < 0))"), max),
            ]
        }
        Route::CreateNodegroup | Route::UpdateNodegroupConfig => {
            let (d, m) = (request_field(route.count_fields()[0]), request_field(route.count_fields()[1]));
            let name = request_field(&["nodegroupName"]);
            let mut v = vec![
                filter("Desired", format!("({d} >= 1)"), d.clone()),
                filter("MinSize", format!("({d} NOT EXISTS) && ({m} >= 1)"), m.clone()),
                filter("Unread", format!("(({name} NOT EXISTS) || ({d} < 0) || ({m} < 0))"), max),
            ];
            if route == Route::CreateNodegroup {
                // the API's default scaling configuration
                v.push(filter("Default", format!("({d} NOT EXISTS) && ({m} NOT EXISTS) && ({name} = *)"), "2".into()));
            }
            v
        }
        Route::RequestSpotInstances => {
            let f = request_field(route.count_fields()[0]);
            let spec = request_field(&["launchSpecification"]);
            vec![
                filter("", format!("({f} >= 1)"), f.clone()),
                // the API's default count
                filter("Default", format!("({f} NOT EXISTS)"), "1".into()),
                filter("Unread", format!("(({spec} NOT EXISTS) || ({f} < 0))"), max),
            ]
        }
        Route::CreateAutoScalingGroup | Route::UpdateAutoScalingGroup | Route::PutScheduledUpdateGroupAction => {
            let (d, m) = (request_field(&["desiredCapacity"]), request_field(&["minSize"]));
            let unread = if route == Route::CreateAutoScalingGroup {
                format!("((({d} NOT EXISTS) && ({m} NOT EXISTS)) || ({d} < 0) || ({m} < 0))")
            } else {
                let name = request_field(&["autoScalingGroupName"]);
                format!("(({name} NOT EXISTS) || ({d} < 0) || ({m} < 0))")
            };
            vec![
                filter("Desired", format!("({d} >= 1)"), d.clone()),
                filter("MinSize", format!("({d} NOT EXISTS) && ({m} >= 1)"), m.clone()),
                filter("Unread", unread, max),
            ]
        }
    }
}

/// The filters of the alarm on counts that are not numbers: for every count field of every
/// launch route (`maxCount`, and each field [`crate::capacity`] reads), 1 for every call with
/// the field (`= *`: any type) to [`COUNTS_WRITTEN_METRIC`], and 1 for every call whose field is
/// a number at or above 0 to [`COUNTS_NUMERIC_METRIC`] (a negative count fires it too, as its
/// own `Unread` filter does). The routes of one event source share a filter per field position
/// (a route's first count field; its second): `(one of their names) && (one of their fields)`,
/// and a call writes the field of its own route only. A pattern longer than
/// [`MAX_FILTER_PATTERN`] is cut in two. The first pair keeps the logical ids of the stacks
/// deployed so far.
fn unread_count_filters(routes: &[Route]) -> Vec<MetricFilter> {
    let field = |route: Route, slot: usize| -> Option<String> {
        match route {
            Route::RunInstances => (slot == 0).then(|| MAX_COUNT.to_owned()),
            _ => route.count_fields().get(slot).map(|p| request_field(p)),
        }
    };
    let pattern = |source: &str, group: &[(Route, String)], written: bool| -> String {
        let names: Vec<String> = group.iter().map(|(r, _)| format!("($.eventName = \"{}\")", r.event_name())).collect();
        let mut fields: Vec<String> =
            group.iter().map(|(_, f)| if written { format!("({f} = *)") } else { format!("({f} >= 0)") }).collect();
        fields.sort();
        fields.dedup();
        format!("{{ ($.eventSource = \"{source}\") && {NOT_A_DRY_RUN} && ({}) && ({}) }}", names.join(" || "), fields.join(" || "))
    };
    let mut sources: Vec<&str> = Vec::new();
    for r in routes {
        if !sources.contains(&r.event_source()) {
            sources.push(r.event_source());
        }
    }
    let mut out = Vec::new();
    for (written, metric, id) in [(true, COUNTS_WRITTEN_METRIC, "Written"), (false, COUNTS_NUMERIC_METRIC, "Numeric")] {
        let mut n = 0;
        for source in &sources {
            for slot in 0..2 {
                let all: Vec<(Route, String)> =
                    routes.iter().filter(|r| r.event_source() == *source).filter_map(|r| Some((*r, field(*r, slot)?))).collect();
                let mut groups: Vec<Vec<(Route, String)>> = Vec::new();
                for item in all {
                    match groups.last_mut() {
                        Some(g) if pattern(source, &[g.clone(), vec![item.clone()]].concat(), false).len() <= MAX_FILTER_PATTERN => {
                            g.push(item)
                        }
                        _ => groups.push(vec![item]),
                    }
                }
                for g in groups {
                    n += 1;
                    let suffix = if n == 1 { String::new() } else { n.to_string() };
                    out.push(MetricFilter {
                        logical_id: format!("MetricFilterInstancesCount{id}{suffix}"),
                        metric: metric.into(),
                        pattern: pattern(source, &g, written),
                        value: "1".into(),
                    });
                }
            }
        }
    }
    out
}

fn add_filter(out: &mut AlarmPlan, set: &RuleSet, rule: &Rule, metric: &str, f: MetricFilter) -> Result<(), CoreError> {
    match out.filters.iter().find(|g| g.logical_id == f.logical_id) {
        None => out.filters.push(f),
        Some(g) if *g == f => {}
        Some(_) => {
            return Err(err(
                set,
                rule,
                "event_names",
                format!(
                    "counts instances of other events than another instances rule, and both would feed the one metric {metric}: give every rule counting instances the same events"
                ),
            ));
        }
    }
    Ok(())
}

/// The metric a horizon of `rule` is watched on, and the filters that feed it.
fn metric(rule: &Rule, key: &str, m: Measure) -> (String, Vec<MetricFilter>) {
    match m {
        Measure::Instances => {
            let name = INSTANCES_METRIC.to_owned();
            let parts = rule
                .event
                .groups()
                .flat_map(|(s, names)| names.iter().filter_map(move |n| Route::named(s, n)))
                .flat_map(route_filters)
                .collect();
            let filters = merged(parts, &name);
            (name, filters)
        }
        Measure::Calls | Measure::FailedCalls => {
            let failed = m == Measure::FailedCalls;
            let name = format!("{key}{}", if failed { "FailedCalls" } else { "Calls" });
            let more = if failed { FAILED } else { NOT_A_DRY_RUN };
            (
                name.clone(),
                vec![MetricFilter {
                    logical_id: format!("MetricFilter{name}"),
                    metric: name,
                    pattern: pattern(rule, more),
                    value: "1".into(),
                }],
            )
        }
    }
}

/// `1 + ceil(LATE_DELIVERY_SECONDS / period)`, at most a day of periods, at least 1.
pub fn evaluation_periods(period_seconds: u64) -> u32 {
    let p = period_seconds.max(1);
    let n = (1 + LATE_DELIVERY_SECONDS.div_ceil(p)).min(MAX_EVALUATED_SECONDS / p).max(1);
    u32::try_from(n).unwrap_or(1)
}

fn err(set: &RuleSet, rule: &Rule, field: &str, problem: String) -> CoreError {
    CoreError::Rule { origin: set.origin.clone(), rule: rule.id.clone(), field: field.into(), problem }
}

/// The filters and alarms of `set`, every threshold of every rule watched. Refused, naming the
/// rule and the fix: a rule whose `alarms` cannot name one alarm per horizon (an exact name for
/// several), names outside `launchguard-`, or more than [`MAX_ALARMS`] / [`MAX_FILTERS`].
pub fn plan(set: &RuleSet) -> Result<AlarmPlan, CoreError> {
    // Each rule's part of the CloudFormation names (metric, filter and alarm logical ids): its id
    // in camel case, as the stacks deployed so far name it, unless two rules' names would then
    // read alike (`burst-1` and `burst1`; `keys` failing and `keys-failed` calling): then every
    // rule's part also carries a digest of its id, so no rule's filter or alarm replaces another's.
    let mut keys: std::collections::HashMap<String, String> = set.rules.iter().map(|r| (r.id.clone(), camel(&r.id))).collect();
    let names = |keys: &std::collections::HashMap<String, String>| {
        set.rules.iter().flat_map(|r| [format!("{}Calls", keys[&r.id]), format!("{}FailedCalls", keys[&r.id])]).collect::<Vec<_>>()
    };
    let all = names(&keys);
    if all.iter().enumerate().any(|(i, n)| all[..i].contains(n)) {
        for r in &set.rules {
            keys.insert(r.id.clone(), format!("{}{}", camel(&r.id), &crate::rules::digest(&r.id)[..8]));
        }
    }
    let mut out = AlarmPlan::default();
    for rule in &set.rules {
        // the rule's own thresholds: what the detector flags with (deploy passes no override)
        let horizons = rule.horizons_with(&rule.thresholds(false));
        let Some(first) = rule.alarms.first() else { continue };
        let prefix = first.strip_suffix('*');
        if prefix.is_none() && horizons.len() > 1 {
            return Err(err(
                set,
                rule,
                "alarms",
                format!(
                    "names one alarm, {first:?}, but the rule has {} thresholds and each gets its own alarm: end the name with *",
                    horizons.len()
                ),
            ));
        }
        let base = prefix.unwrap_or(first);
        if !base.starts_with(ALARM_PREFIX) || base.starts_with("launchguard-health") {
            return Err(err(
                set,
                rule,
                "alarms",
                format!("{first:?} must start with {ALARM_PREFIX:?} (not launchguard-health): the detector's role reads only those alarms"),
            ));
        }
        let named = |suffix: &str| match prefix {
            Some(p) if p.ends_with(['-', '_', '.']) => format!("{p}{suffix}"),
            Some(p) => format!("{p}-{suffix}"),
            None => first.clone(),
        };
        let shortest_instances = horizons.iter().filter(|h| h.measure == Measure::Instances).min_by_key(|h| h.window_seconds).copied();
        if shortest_instances.is_some() && prefix.is_none() {
            return Err(err(
                set,
                rule,
                "alarms",
                format!(
                    "names one alarm, {first:?}, but a rule counting instances also gets an alarm on counts that are not numbers: end the name with *"
                ),
            ));
        }
        for h in horizons {
            let key = &keys[&rule.id];
            let (metric, filters) = metric(rule, key, h.measure);
            for f in filters {
                add_filter(&mut out, set, rule, &metric, f)?;
            }
            let name = named(&format!("{}-{}", h.measure.word().replace(' ', "-"), short(h.window_seconds)));
            if set.for_alarm(&name).map(|r| r.id.as_str()) != Some(rule.id.as_str()) {
                return Err(err(set, rule, "alarms", format!("the rendered alarm {name:?} does not fire this rule alone")));
            }
            out.alarms.push(PlannedAlarm {
                logical_id: format!("Alarm{key}{}{}", camel(h.measure.word()), h.window_seconds),
                name,
                rule: rule.id.clone(),
                horizon: h,
                metric,
                period_seconds: h.window_seconds,
                evaluation_periods: evaluation_periods(h.window_seconds),
                datapoints_to_alarm: 1,
                threshold: h.threshold.max(1).div_ceil(2),
                minus: None,
            });
        }
        if let Some(h) = shortest_instances {
            let routes: Vec<Route> =
                rule.event.groups().flat_map(|(s, names)| names.iter().filter_map(move |n| Route::named(s, n))).collect();
            for f in unread_count_filters(&routes) {
                let metric = f.metric.clone();
                add_filter(&mut out, set, rule, &metric, f)?;
            }
            let name = named(UNREAD_COUNTS_SUFFIX);
            if set.for_alarm(&name).map(|r| r.id.as_str()) != Some(rule.id.as_str()) {
                return Err(err(set, rule, "alarms", format!("the rendered alarm {name:?} does not fire this rule alone")));
            }
            out.alarms.push(PlannedAlarm {
                logical_id: format!("Alarm{}CountNotANumber", keys[&rule.id]),
                name,
                rule: rule.id.clone(),
                horizon: h,
                metric: COUNTS_WRITTEN_METRIC.into(),
                period_seconds: h.window_seconds,
                evaluation_periods: evaluation_periods(h.window_seconds),
                datapoints_to_alarm: 1,
                threshold: 1,
                minus: Some(COUNTS_NUMERIC_METRIC.into()),
            });
        }
    }
    let top = |field: &str, problem: String| CoreError::Rule {
        origin: set.origin.clone(),
        rule: "(rule set)".into(),
        field: field.into(),
        problem,
    };
    if out.alarms.len() > MAX_ALARMS {
        return Err(top(
            "rules",
            format!(
                "needs {} alarms (one per threshold), more than the {MAX_ALARMS} deploy renders: merge rules or drop horizons",
                out.alarms.len()
            ),
        ));
    }
    for f in &out.filters {
        if f.pattern.len() > MAX_FILTER_PATTERN {
            return Err(top(
                "rules",
                format!(
                    "the metric filter {} needs a pattern of {} characters, more than CloudWatch's {MAX_FILTER_PATTERN}: split the rule's event_names over two rules",
                    f.logical_id,
                    f.pattern.len()
                ),
            ));
        }
    }
    for a in &out.alarms {
        if a.name.len() > MAX_ALARM_NAME {
            return Err(top(
                "rules",
                format!(
                    "rule {}: the alarm name {:?} is {} characters, more than CloudWatch's {MAX_ALARM_NAME}: shorten the rule's alarms prefix",
                    a.rule,
                    a.name,
                    a.name.len()
                ),
            ));
        }
    }
    if out.filters.len() > MAX_FILTERS {
        return Err(top("rules", format!("needs {} metric filters, more than {MAX_FILTERS}: merge rules", out.filters.len())));
    }
    Ok(out)
}

impl AlarmPlan {
    /// The alarms' names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.alarms.iter().map(|a| a.name.as_str()).collect()
    }

    /// The CloudFormation resources: each filter on the log group `log_group` (a template value,
    /// e.g. `{"Ref": "CloudTrailLogGroupName"}`), each alarm acting on `topic`.
    pub fn resources(&self, log_group: &Value, topic: &Value) -> Value {
        let mut out = serde_json::Map::new();
        for f in &self.filters {
            out.insert(
                f.logical_id.clone(),
                json!({"Type": "AWS::Logs::MetricFilter", "Properties": {
                    "LogGroupName": log_group, "FilterPattern": f.pattern,
                    "MetricTransformations": [{"MetricNamespace": NAMESPACE, "MetricName": f.metric, "MetricValue": f.value}]}}),
            );
        }
        for a in &self.alarms {
            let properties = match &a.minus {
                None => json!({
                    "AlarmName": a.name, "AlarmDescription": a.describe(),
                    "Namespace": NAMESPACE, "MetricName": a.metric, "Statistic": "Sum",
                    "Period": a.period_seconds, "EvaluationPeriods": a.evaluation_periods, "DatapointsToAlarm": a.datapoints_to_alarm,
                    "Threshold": a.threshold, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
                    "AlarmActions": [topic]}),
                // metric math: FILL makes a period with no numeric count a 0, not a gap that
                // would leave the difference out
                Some(minus) => {
                    let stat = |id: &str, metric: &str| {
                        json!({"Id": id, "ReturnData": false, "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric},
                               "Period": a.period_seconds, "Stat": "Sum"}})
                    };
                    json!({
                        "AlarmName": a.name, "AlarmDescription": a.describe(),
                        "Metrics": [stat("written", &a.metric), stat("numeric", minus),
                                    {"Id": "unread", "Expression": "written - FILL(numeric, 0)", "Label": "launches whose count is not a number", "ReturnData": true}],
                        "EvaluationPeriods": a.evaluation_periods, "DatapointsToAlarm": a.datapoints_to_alarm,
                        "Threshold": a.threshold, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
                        "AlarmActions": [topic]})
                }
            };
            out.insert(a.logical_id.clone(), json!({"Type": "AWS::CloudWatch::Alarm", "Properties": properties}));
        }
        Value::Object(out)
    }
}

/// `10 instances within 5 min -> launchguard-runinstances-instances-5m (>= 5 per 5 min)`, one line
/// per alarm: what `make deploy --dry` prints.
pub fn describe(plan: &AlarmPlan) -> Vec<String> {
    plan.alarms
        .iter()
        .map(|a| {
            let what = match a.minus {
                None => a.horizon.describe(),
                Some(_) => "a launch whose instance count is not a number".to_owned(),
            };
            format!(
                "{}: {} -> {} (at {} per {}, in any of the last {} periods)",
                a.rule,
                what,
                a.name,
                a.threshold,
                duration_words(a.period_seconds),
                a.evaluation_periods
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_bundled_rules_get_one_alarm_per_threshold() {
        let set = RuleSet::bundled().unwrap();
        let p = plan(&set).unwrap();
        let thresholds: usize = set.rules.iter().map(|r| r.horizons_with(&r.thresholds(false)).len()).sum();
        let horizon_alarms: Vec<&PlannedAlarm> = p.alarms.iter().filter(|a| a.minus.is_none()).collect();
        assert_eq!(horizon_alarms.len(), thresholds);
        assert!(p.names().contains(&"launchguard-runinstances-instances-5m"), "{:?}", p.names());
        // and one on counts that are not numbers for the rule counting instances
        let unread: Vec<&PlannedAlarm> = p.alarms.iter().filter(|a| a.minus.is_some()).collect();
        assert_eq!(unread.len(), 1);
        assert_eq!((unread[0].name.as_str(), unread[0].threshold), ("launchguard-runinstances-count-not-a-number", 1));
        assert_eq!(set.for_alarm(&unread[0].name).unwrap().id, crate::rules::EC2_MASS_LAUNCH);
        for a in horizon_alarms {
            assert_eq!(set.for_alarm(&a.name).unwrap().id, a.rule);
            assert_eq!((a.period_seconds, a.threshold), (a.horizon.window_seconds, a.horizon.threshold.div_ceil(2)));
            assert_eq!(a.datapoints_to_alarm, 1);
            assert!(u64::from(a.evaluation_periods) * a.period_seconds <= MAX_EVALUATED_SECONDS);
        }
    }

    #[test]
    fn each_alarm_waits_for_late_records_within_a_day() {
        // 5 min: 4 periods (a record up to 15 min late still lands in one evaluated); 1 h: 2; 24 h: 1
        assert_eq!([300, 600, 3600, 86_400, 60].map(evaluation_periods), [4, 3, 2, 1, 16]);
        assert_eq!(i64::try_from(MAX_EVALUATED_SECONDS).ok(), Some(crate::gate::MAX_EVALUATED_SECONDS), "the detector's gate takes them");
        for p in (60..=86_400).step_by(60) {
            let n = u64::from(evaluation_periods(p));
            assert!(n >= 1 && n * p <= MAX_EVALUATED_SECONDS, "{p}");
            assert!(n * p >= p + LATE_DELIVERY_SECONDS || n * p > MAX_EVALUATED_SECONDS - p, "{p}: {n}");
        }
    }

    #[test]
    fn an_exact_alarm_name_for_several_thresholds_is_refused_with_the_fix() {
        let mut doc: Value = serde_json::from_str(crate::rules::BUNDLED).unwrap();
        doc["rules"][0]["alarms"] = json!(["launchguard-runinstances"]);
        let set = RuleSet::parse(&doc.to_string(), "test").unwrap();
        let e = plan(&set).unwrap_err().to_string();
        assert!(e.contains("ec2-mass-launch") && e.contains("end the name with *"), "{e}");
        doc["rules"][0]["horizons"] = json!([{"window_seconds": 300, "threshold": 10}]);
        let e = plan(&RuleSet::parse(&doc.to_string(), "test").unwrap()).unwrap_err().to_string();
        assert!(e.contains("counts that are not numbers") && e.contains("end the name with *"), "{e}");
        doc["rules"][0]["alarms"] = json!(["other-*"]);
        let e = plan(&RuleSet::parse(&doc.to_string(), "test").unwrap()).unwrap_err().to_string();
        assert!(e.contains("must start with \"launchguard-\""), "{e}");
    }

    #[test]
    fn filters_leave_out_dry_runs_only() {
        assert!(NOT_A_DRY_RUN.contains(&format!("\"{}\"", crate::launch::DRY_RUN_ERROR)));
        assert!(FAILED.contains(&format!("\"{}\"", crate::launch::DRY_RUN_ERROR)));
        let p = plan(&RuleSet::bundled().unwrap()).unwrap();
        for f in &p.filters {
            assert!(f.pattern.contains(NOT_A_DRY_RUN) || f.pattern.contains(FAILED), "{}", f.pattern);
            assert!(f.pattern.starts_with("{ ($.eventSource = ") && f.pattern.ends_with(" }"), "{}", f.pattern);
        }
    }
}
