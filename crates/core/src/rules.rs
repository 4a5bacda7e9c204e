//! The detector's rule set: which CloudTrail events make an alarm, what is counted, who is
//! flagged, and which actions the dispatcher may take for it.
//!
//! A rule set is a JSON document (`rules/default.json` in this crate is bundled with every
//! function; `LG_RULES` or `LG_RULES_FILE` replace it). It is validated whole before anything runs,
//! and every error names the rule and the field: unknown fields are refused, thresholds are
//! above 0 (and, counting calls, at most [`MAX_EVIDENCE`]: what CloudTrail can confirm), windows
//! between a minute and a day, event names non-empty, actions only from the playbook's, ids and
//! alarm names never twice.
//!
//! A rule has one or more **horizons** (`"horizons": [{"window_seconds": 300, "threshold": 10},
//! ...]`, longest windows last): a principal is flagged when the calls inside some horizon's
//! sliding window reach its threshold ([`crate::windows::judge`]). The older form
//! `"threshold": N, "window_seconds": W` is one horizon.
//!
//! A rule may watch events of more than one source: `"more_events": [{"event_source": S,
//! "event_names": [...]}, ...]` next to its `event_source` and `event_names`. A rule counting
//! instances watches only launch routes ([`crate::capacity::Route`]: `RunInstances`, and the
//! calls that ask AWS for capacity it then launches or resize it: fleets, spot requests, Auto
//! Scaling groups, EKS node groups).
//!
//! The detector picks a rule only from the alarm CloudWatch confirmed: the rule whose `alarms`
//! match the name in the alarm's ARN (see [`RuleSet::for_alarm`]).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::CoreError;
use crate::capacity::Route;
use crate::evidence::MAX_EVIDENCE;
use crate::query::EventRule;
use crate::threshold::{Counted, Thresholds};
use crate::windows::{Horizon, Measure};

/// The rule set every function carries.
pub const BUNDLED: &str = include_str!("../rules/default.json");
/// The id of the launch rule: findings written before rules existed are about it.
pub const EC2_MASS_LAUNCH: &str = "ec2-mass-launch";
/// Most rules in a set.
pub const MAX_RULES: usize = 32;
/// Largest threshold accepted: what a launch whose count CloudTrail omitted counts for
/// ([`crate::launch::OMITTED_COUNT`]), so such a launch reaches every instances threshold.
pub const MAX_THRESHOLD: u64 = crate::launch::OMITTED_COUNT;
/// Shortest and longest window, seconds (the alarm gate evaluates at most a day).
pub const WINDOW_SECONDS: std::ops::RangeInclusive<u64> = 60..=86_400;
/// Most horizons in a rule.
pub const MAX_HORIZONS: usize = 8;

/// What the dispatcher may do for a rule's findings: the playbook's own actions, narrowed (never
/// widened: `LG_USER_ACTIONS` and `LG_ROLE_ACTIONS` still apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Deactivate the long-term keys an IAM user used.
    DeactivateAccessKeys,
    /// Attach the quarantine policy to an IAM user.
    QuarantineUser,
    /// Revoke a role's sessions.
    RevokeRoleSessions,
    /// Deactivate the access keys a contained principal created (`CreateAccessKey`), for itself
    /// or for other users.
    DeactivateCreatedAccessKeys,
    /// Stop the instances a contained principal launched (with `LG_EC2_ACTION` `stop` or
    /// `terminate`; a release starts them again).
    StopInstances,
    /// Terminate them (with `LG_EC2_ACTION=terminate` only; cannot be undone). Only a rule that
    /// names it terminates: another gets at most a stop.
    TerminateInstances,
}

impl RuleAction {
    /// Every action a rule may name.
    pub const ALL: [RuleAction; 6] = [
        Self::DeactivateAccessKeys,
        Self::QuarantineUser,
        Self::RevokeRoleSessions,
        Self::DeactivateCreatedAccessKeys,
        Self::StopInstances,
        Self::TerminateInstances,
    ];

    /// Its name in a rule file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeactivateAccessKeys => "deactivate_access_keys",
            Self::QuarantineUser => "quarantine_user",
            Self::RevokeRoleSessions => "revoke_role_sessions",
            Self::DeactivateCreatedAccessKeys => "deactivate_created_access_keys",
            Self::StopInstances => "stop_instances",
            Self::TerminateInstances => "terminate_instances",
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Rule {
    /// `[a-z0-9-]`, 1 to 64 characters: in findings, notifications, `launchguard scan --rule`.
    pub id: String,
    /// For people.
    pub description: String,
    /// The event source and names, and what each record counts for.
    pub event: EventRule,
    /// Flag a principal at a horizon's threshold (instances or calls) within its sliding
    /// window; shortest window first, each longer than the one before.
    pub horizons: Vec<Horizon>,
    /// Also flag at this many failed calls within the first (shortest) horizon's window.
    pub min_failed_calls: Option<u64>,
    /// What the dispatcher may do.
    pub actions: Vec<RuleAction>,
    /// Never flag AWS services and service-linked roles.
    pub exclude_aws_services: bool,
    /// The alarm names that fire this rule; a trailing `*` matches any suffix.
    pub alarms: Vec<String>,
}

impl Rule {
    /// The first (shortest) horizon's threshold.
    pub fn threshold(&self) -> u64 {
        self.horizons.first().map_or(Thresholds::default().min_instances, |h| h.threshold)
    }

    /// The first (shortest) horizon's window, seconds.
    pub fn window_seconds(&self) -> u64 {
        self.horizons.first().map_or(60, |h| h.window_seconds)
    }

    /// The horizons judged with `t` (the rule's own thresholds, or the deployment's overrides
    /// of them): the first horizon's threshold is `t`'s, and `t.min_failed_calls`, when set, is
    /// one more horizon counting failed calls within the first horizon's window.
    pub fn horizons_with(&self, t: &Thresholds) -> Vec<Horizon> {
        let mut out = self.horizons.clone();
        if let Some(first) = out.first_mut() {
            first.threshold = match t.counts {
                Counted::Calls => t.min_calls.unwrap_or(first.threshold),
                Counted::Instances => t.min_instances,
            };
        }
        if let Some(min) = t.min_failed_calls {
            out.push(Horizon { measure: Measure::FailedCalls, window_seconds: self.window_seconds(), threshold: min });
        }
        out
    }

    /// The thresholds the rule flags with; `contain_invoked_by_aws_service` is the deployment's.
    pub fn thresholds(&self, contain_invoked_by_aws_service: bool) -> Thresholds {
        let calls = self.event.counts() == Counted::Calls;
        Thresholds {
            counts: self.event.counts(),
            min_calls: calls.then_some(self.threshold()),
            min_instances: if calls { Thresholds::default().min_instances } else { self.threshold() },
            min_failed_calls: self.min_failed_calls,
            exclude_aws_services: self.exclude_aws_services,
            contain_invoked_by_aws_service,
        }
    }

    /// True when an alarm of this name fires this rule.
    pub fn fired_by(&self, alarm_name: &str) -> bool {
        self.alarms.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => alarm_name.starts_with(prefix),
            None => alarm_name == p,
        })
    }
}

/// The SHA-256 of a rule file's bytes, in hex: what the detector's start-up log and deploy name
/// the deployed rule set by.
pub fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A validated rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RuleSet {
    /// Where it came from (`bundled`, `LG_RULES`, a path), for messages.
    pub origin: String,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
}

struct Ctx<'a> {
    origin: &'a str,
    rule: String,
}

impl Ctx<'_> {
    fn err(&self, field: &str, problem: impl Into<String>) -> CoreError {
        CoreError::Rule { origin: self.origin.to_owned(), rule: self.rule.clone(), field: field.to_owned(), problem: problem.into() }
    }
}

const FIELDS: [&str; 12] = [
    "id",
    "description",
    "event_source",
    "event_names",
    "more_events",
    "counts",
    "horizons",
    "threshold",
    "min_failed_calls",
    "window_seconds",
    "actions",
    "exclude_aws_services",
];
const ALARMS: &str = "alarms";

fn count(c: &Ctx<'_>, o: &Map<String, Value>, field: &str, max: u64) -> Result<Option<u64>, CoreError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(c.err(field, format!("is {}: expected a whole number from 1 to {max}", crate::error::excerpt(&v.to_string())))),
        },
    }
}

fn strings<'v>(c: &Ctx<'_>, o: &'v Map<String, Value>, field: &str) -> Result<Vec<&'v str>, CoreError> {
    let Some(Value::Array(items)) = o.get(field) else { return Err(c.err(field, "is missing or not a list of strings")) };
    items.iter().map(|v| v.as_str().ok_or_else(|| c.err(field, "must hold strings only"))).collect()
}

fn alarm_pattern_ok(p: &str) -> bool {
    let name = p.strip_suffix('*').unwrap_or(p);
    (1..=255).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn rule(origin: &str, index: usize, v: &Value) -> Result<Rule, CoreError> {
    let mut c = Ctx { origin, rule: format!("#{}", index + 1) };
    let Value::Object(o) = v else { return Err(c.err("(rule)", "is not an object")) };
    let id = o.get("id").and_then(Value::as_str).unwrap_or_default();
    let id_ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(c.err("id", format!("is {:?}: expected 1-64 characters from [a-z0-9-]", crate::error::excerpt(id))));
    }
    c.rule = id.to_owned();
    if let Some(unknown) = o.keys().find(|k| !FIELDS.contains(&k.as_str()) && *k != ALARMS) {
        return Err(c.err(unknown, format!("is not a rule field (expected {}, {ALARMS})", FIELDS.join(", "))));
    }
    let description = match o.get("description") {
        None => String::new(),
        Some(Value::String(s)) if s.chars().count() <= 512 && !s.chars().any(char::is_control) => s.clone(),
        Some(_) => return Err(c.err("description", "must be a text of at most 512 characters without control characters")),
    };
    let source = o.get("event_source").and_then(Value::as_str).ok_or_else(|| c.err("event_source", "is missing or not a string"))?;
    let names = strings(&c, o, "event_names")?;
    if names.is_empty() {
        return Err(c.err("event_names", "is empty: name at least one event, e.g. [\"CreateUser\"]"));
    }
    let counts = match o.get("counts").and_then(Value::as_str) {
        Some("instances") => Counted::Instances,
        Some("calls") => Counted::Calls,
        _ => return Err(c.err("counts", "must be \"instances\" (RunInstances only) or \"calls\"")),
    };
    let mut event = EventRule::with_names(source, &names, counts).map_err(|e| {
        let field = if matches!(&e, CoreError::UnsafeQueryValue { what: "event source", .. }) { "event_source" } else { "event_names" };
        c.err(field, e.to_string())
    })?;
    match o.get("more_events") {
        None => {}
        Some(Value::Array(groups)) if !groups.is_empty() => {
            for (i, g) in groups.iter().enumerate() {
                let field = format!("more_events[{i}]");
                let Value::Object(g) = g else {
                    return Err(c.err(&field, "is not an object {\"event_source\": S, \"event_names\": [N, ...]}"));
                };
                if let Some(unknown) = g.keys().find(|k| *k != "event_source" && *k != "event_names") {
                    return Err(c.err(&format!("{field}.{unknown}"), "is not a field here (expected event_source, event_names)"));
                }
                let more_source = g
                    .get("event_source")
                    .and_then(Value::as_str)
                    .ok_or_else(|| c.err(&format!("{field}.event_source"), "is missing or not a string"))?;
                let more_names = strings(&c, g, "event_names")
                    .map_err(|_| c.err(&format!("{field}.event_names"), "is missing or not a list of strings"))?;
                event = event.and_names(more_source, &more_names).map_err(|e| c.err(&field, e.to_string()))?;
            }
        }
        Some(_) => return Err(c.err("more_events", "must be a non-empty list of {\"event_source\": S, \"event_names\": [N, ...]}")),
    }
    if counts == Counted::Instances
        && let Some((s, n)) =
            event.groups().flat_map(|(s, names)| names.iter().map(move |n| (s, n))).find(|(s, n)| Route::named(s, n).is_none())
    {
        let routes: Vec<String> = Route::ALL.iter().map(|r| format!("{} {}", r.event_source(), r.event_name())).collect();
        return Err(c.err(
            "counts",
            format!("is \"instances\", and {s} {n} does not launch instances (those that do: {}); count \"calls\"", routes.join(", ")),
        ));
    }
    let horizons = horizons(&c, o, counts)?;
    let min_failed_calls = count(&c, o, "min_failed_calls", MAX_THRESHOLD)?;
    if let Some(n) = min_failed_calls {
        confirmable(&c, "min_failed_calls", n)?;
    }
    let mut actions = Vec::new();
    for a in strings(&c, o, "actions")? {
        let Some(action) = RuleAction::ALL.into_iter().find(|k| k.as_str() == a) else {
            let allowed = RuleAction::ALL.map(RuleAction::as_str).join(", ");
            return Err(c.err(
                "actions",
                format!("has {:?}: expected some of {allowed} (or an empty list: notify only)", crate::error::excerpt(a)),
            ));
        };
        if actions.contains(&action) {
            return Err(c.err("actions", format!("lists {a} twice")));
        }
        actions.push(action);
    }
    let exclude_aws_services = match o.get("exclude_aws_services") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(c.err("exclude_aws_services", "must be true or false")),
    };
    let alarms = strings(&c, o, ALARMS)?;
    if alarms.is_empty() {
        return Err(c.err(ALARMS, "is empty: name the alarm(s) that fire this rule, e.g. [\"launchguard-iam-user-burst\"]"));
    }
    if let Some(bad) = alarms.iter().find(|p| !alarm_pattern_ok(p)) {
        return Err(c.err(
            ALARMS,
            format!("has {:?}: expected an alarm name from [A-Za-z0-9._-], optionally ending in *", crate::error::excerpt(bad)),
        ));
    }
    Ok(Rule {
        id: id.to_owned(),
        description,
        event,
        horizons,
        min_failed_calls,
        actions,
        exclude_aws_services,
        alarms: alarms.into_iter().map(str::to_owned).collect(),
    })
}

fn window(c: &Ctx<'_>, field: &str, v: Option<&Value>) -> Result<u64, CoreError> {
    match v.and_then(Value::as_u64) {
        Some(w) if WINDOW_SECONDS.contains(&w) && w % 60 == 0 => Ok(w),
        _ => Err(c.err(field, "must be a whole number of minutes, from 60 to 86400 seconds")),
    }
}

/// `horizons` (a list of `{window_seconds, threshold}`, windows increasing), or the older single
/// `threshold` and `window_seconds`; never both.
fn horizons(c: &Ctx<'_>, o: &Map<String, Value>, counts: Counted) -> Result<Vec<Horizon>, CoreError> {
    let measure = match counts {
        Counted::Instances => Measure::Instances,
        Counted::Calls => Measure::Calls,
    };
    let Some(list) = o.get("horizons") else {
        let threshold = count(c, o, "threshold", MAX_THRESHOLD)?
            .ok_or_else(|| c.err("threshold", "is missing: expected a number above 0 (or \"horizons\")"))?;
        let window_seconds = window(c, "window_seconds", o.get("window_seconds"))?;
        if measure == Measure::Calls {
            confirmable(c, "threshold", threshold)?;
        }
        return Ok(vec![Horizon { measure, window_seconds, threshold }]);
    };
    if let Some(both) = ["threshold", "window_seconds"].into_iter().find(|k| o.contains_key(*k)) {
        return Err(c.err(both, "is set with \"horizons\": give the thresholds as horizons only"));
    }
    let Value::Array(items) = list else { return Err(c.err("horizons", "must be a list of {\"window_seconds\": W, \"threshold\": N}")) };
    if !(1..=MAX_HORIZONS).contains(&items.len()) {
        return Err(c.err("horizons", format!("must hold 1 to {MAX_HORIZONS} horizons")));
    }
    let mut out: Vec<Horizon> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("horizons[{i}]");
        let Value::Object(h) = item else { return Err(c.err(&field, "is not an object {\"window_seconds\": W, \"threshold\": N}")) };
        if let Some(unknown) = h.keys().find(|k| *k != "window_seconds" && *k != "threshold") {
            return Err(c.err(&format!("{field}.{unknown}"), "is not a horizon field (expected window_seconds, threshold)"));
        }
        let window_seconds = window(c, &format!("{field}.window_seconds"), h.get("window_seconds"))?;
        let threshold = count(c, h, "threshold", MAX_THRESHOLD)
            .map_err(|_| c.err(&format!("{field}.threshold"), format!("must be a whole number from 1 to {MAX_THRESHOLD}")))?
            .ok_or_else(|| c.err(&format!("{field}.threshold"), "is missing: expected a number above 0"))?;
        if measure == Measure::Calls {
            confirmable(c, &format!("{field}.threshold"), threshold)?;
        }
        if let Some(prev) = out.last()
            && prev.window_seconds >= window_seconds
        {
            return Err(c.err(&format!("{field}.window_seconds"), "must be longer than the horizon before it (shortest first)"));
        }
        out.push(Horizon { measure, window_seconds, threshold });
    }
    Ok(out)
}

/// A threshold of calls must be one that CloudTrail can confirm: a finding names at most
/// [`MAX_EVIDENCE`] records for the dispatcher to look up, and contains nobody whose records it
/// has not confirmed, so a horizon of more calls would flag and never contain.
fn confirmable(c: &Ctx<'_>, field: &str, threshold: u64) -> Result<(), CoreError> {
    if usize::try_from(threshold).is_ok_and(|t| t <= MAX_EVIDENCE) {
        return Ok(());
    }
    Err(c.err(
        field,
        format!(
            "is {threshold} calls: a finding names at most {MAX_EVIDENCE} records for CloudTrail to confirm, and nobody is \
             contained on unconfirmed records, so this horizon could never contain anyone; use at most {MAX_EVIDENCE}"
        ),
    ))
}

/// True when some alarm name matches both patterns.
fn overlap(a: &str, b: &str) -> bool {
    match (a.strip_suffix('*'), b.strip_suffix('*')) {
        (Some(p), Some(q)) => p.starts_with(q) || q.starts_with(p),
        (Some(p), None) => b.starts_with(p),
        (None, Some(q)) => a.starts_with(q),
        (None, None) => a == b,
    }
}

impl RuleSet {
    /// Read and validate a rule set; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, CoreError> {
        let top = Ctx { origin, rule: "(rule set)".into() };
        let doc: Value = serde_json::from_str(text).map_err(|e| top.err("(document)", format!("is not JSON: {e}")))?;
        let Value::Object(o) = &doc else {
            return Err(top.err("(document)", "must be an object {\"schema_version\": 1, \"rules\": [...]}"));
        };
        if let Some(unknown) = o.keys().find(|k| *k != "schema_version" && *k != "rules") {
            return Err(top.err(unknown, "is not a field of a rule set (expected schema_version, rules)"));
        }
        if o.get("schema_version").and_then(Value::as_u64) != Some(1) {
            return Err(top.err("schema_version", "must be 1"));
        }
        let items = match o.get("rules") {
            Some(Value::Array(items)) if (1..=MAX_RULES).contains(&items.len()) => items,
            _ => return Err(top.err("rules", format!("must be a list of 1 to {MAX_RULES} rules"))),
        };
        let rules = items.iter().enumerate().map(|(i, v)| rule(origin, i, v)).collect::<Result<Vec<_>, _>>()?;
        for (i, r) in rules.iter().enumerate() {
            let c = Ctx { origin, rule: r.id.clone() };
            if rules[..i].iter().any(|o| o.id == r.id) {
                return Err(c.err("id", "is used by another rule: ids must be unique"));
            }
            for other in &rules[..i] {
                if let Some((p, q)) = r.alarms.iter().flat_map(|p| other.alarms.iter().map(move |q| (p, q))).find(|(p, q)| overlap(p, q)) {
                    return Err(
                        c.err(ALARMS, format!("{p:?} can name the same alarm as {q:?} of rule {}: an alarm fires one rule", other.id))
                    );
                }
            }
        }
        Ok(Self { origin: origin.to_owned(), rules })
    }

    /// The bundled rule set (`rules/default.json`).
    pub fn bundled() -> Result<Self, CoreError> {
        Self::parse(BUNDLED, "bundled rules/default.json")
    }

    /// `LG_RULES` (the rule set itself), else `LG_RULES_FILE` (a path, read by `read`: core
    /// does no I/O), else the bundled set. Both set is refused: say which one.
    pub fn from_env(env: &dyn crate::config::Env, read: impl Fn(&str) -> Result<String, String>) -> Result<Self, CoreError> {
        let (text, origin) = Self::source(env, read)?;
        Self::parse(&text, &origin)
    }

    /// The text of the rule set [`RuleSet::from_env`] reads, and its origin: what a start-up
    /// log names by [`digest`].
    pub fn source(env: &dyn crate::config::Env, read: impl Fn(&str) -> Result<String, String>) -> Result<(String, String), CoreError> {
        let config = |name: &str, problem: String| CoreError::Config { name: name.into(), problem };
        match (env.get("LG_RULES"), env.get("LG_RULES_FILE")) {
            (Some(_), Some(_)) => Err(config("LG_RULES", "and LG_RULES_FILE are both set: set one".into())),
            (Some(text), None) => Ok((text, "LG_RULES".into())),
            (None, Some(path)) => {
                let text = read(&path).map_err(|e| config("LG_RULES_FILE", format!("names {path:?}, which cannot be read: {e}")))?;
                Ok((text, path))
            }
            (None, None) => Ok((BUNDLED.to_owned(), "bundled rules/default.json".into())),
        }
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The rule an alarm of this name fires (at most one: patterns never overlap).
    pub fn for_alarm(&self, alarm_name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.fired_by(alarm_name))
    }

    /// The rule ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id.as_str()).collect()
    }
}
