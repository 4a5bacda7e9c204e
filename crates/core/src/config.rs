//! Configuration from the environment, through a lookup function so that it stays pure.
//!
//! Every error names the variable and says what is expected.

use chrono::Duration;

use crate::error::CoreError;
use crate::ids::ArnPatterns;
use crate::threshold::Thresholds;
use crate::window::WindowPolicy;

/// A source of configuration values (`std::env::var(..).ok()` in the functions, a map in tests).
pub trait Env {
    /// The value of `name`, if set. Empty values count as unset.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

fn err(name: &str, problem: impl Into<String>) -> CoreError {
    CoreError::Config { name: name.to_owned(), problem: problem.into() }
}

/// A required variable.
pub fn required(env: &dyn Env, name: &str, what: &str) -> Result<String, CoreError> {
    env.get(name).map(|v| v.trim().to_owned()).ok_or_else(|| err(name, format!("is not set: set it to {what}")))
}

/// An optional boolean (`true/false/1/0/yes/no`, any case).
pub fn bool_var(env: &dyn Env, name: &str, default: bool) -> Result<bool, CoreError> {
    match env.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(err(name, format!("is {v:?}: expected true or false"))),
        },
    }
}

/// An optional whole number within `min..=max`.
pub fn u64_var(env: &dyn Env, name: &str, default: u64, min: u64, max: u64) -> Result<u64, CoreError> {
    match env.get(name) {
        None => Ok(default),
        Some(v) => {
            let n: u64 = v.trim().parse().map_err(|_| err(name, format!("is {v:?}: expected a whole number")))?;
            if (min..=max).contains(&n) { Ok(n) } else { Err(err(name, format!("is {n}: expected {min} to {max}"))) }
        }
    }
}

/// An optional duration in whole seconds within `min..=max` seconds.
pub fn seconds_var(env: &dyn Env, name: &str, default_s: u64, min: u64, max: u64) -> Result<Duration, CoreError> {
    let s = u64_var(env, name, default_s, min, max)?;
    Ok(Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)))
}

/// An optional comma-separated list of ARN patterns.
pub fn arn_patterns_var(env: &dyn Env, name: &str) -> Result<ArnPatterns, CoreError> {
    match env.get(name) {
        None => Ok(ArnPatterns::default()),
        Some(v) => ArnPatterns::parse_list(&v).map_err(|e| err(name, format!("is invalid: {e}"))),
    }
}

/// An optional comma-separated list of 12-digit account ids.
pub fn accounts_var(env: &dyn Env, name: &str) -> Result<Vec<String>, CoreError> {
    let Some(v) = env.get(name) else { return Ok(Vec::new()) };
    v.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| crate::ids::validate_account_id(a).map(|()| a.to_owned()).map_err(|e| err(name, format!("is invalid: {e}"))))
        .collect()
}

/// `LG_WINDOW_MARGIN_BEFORE_SECONDS` (300), `LG_WINDOW_MARGIN_AFTER_SECONDS` (300),
/// `LG_FALLBACK_LOOKBACK_SECONDS` (43200).
pub fn window_policy(env: &dyn Env) -> Result<WindowPolicy, CoreError> {
    Ok(WindowPolicy {
        margin_before: seconds_var(env, "LG_WINDOW_MARGIN_BEFORE_SECONDS", 300, 0, 86_400)?,
        margin_after: seconds_var(env, "LG_WINDOW_MARGIN_AFTER_SECONDS", 300, 0, 86_400)?,
        fallback_lookback: seconds_var(env, "LG_FALLBACK_LOOKBACK_SECONDS", 43_200, 60, 7 * 86_400)?,
    })
}

/// `LG_MIN_INSTANCES` (10), `LG_MIN_FAILED_CALLS` (off), `LG_EXCLUDE_AWS_SERVICES` (true),
/// `LG_CONTAIN_INVOKED_BY_AWS_SERVICE` (false).
pub fn thresholds(env: &dyn Env) -> Result<Thresholds, CoreError> {
    let min_failed = match env.get("LG_MIN_FAILED_CALLS") {
        None => None,
        // failed calls are confirmed one record each: at most what a finding's evidence holds
        Some(_) => Some(u64_var(env, "LG_MIN_FAILED_CALLS", 0, 1, crate::evidence::MAX_EVIDENCE as u64)?),
    };
    Ok(Thresholds {
        min_instances: u64_var(env, "LG_MIN_INSTANCES", 10, 1, 1_000_000)?,
        min_failed_calls: min_failed,
        exclude_aws_services: bool_var(env, "LG_EXCLUDE_AWS_SERVICES", true)?,
        contain_invoked_by_aws_service: bool_var(env, "LG_CONTAIN_INVOKED_BY_AWS_SERVICE", false)?,
        ..Thresholds::default()
    })
}

/// `LG_LONG_TERM_KEY_PREFIXES`: prefixes of access keys that may be deactivated (default `AKIA`).
/// Emulators issue other prefixes (LocalStack: `LKIA`); `ASIA` (STS) is never accepted.
pub fn long_term_key_prefixes(env: &dyn Env) -> Result<Vec<String>, CoreError> {
    const NAME: &str = "LG_LONG_TERM_KEY_PREFIXES";
    let Some(v) = env.get(NAME) else { return Ok(vec!["AKIA".to_owned()]) };
    let mut out = Vec::new();
    for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if p.len() != 4 || !p.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(err(NAME, format!("has {p:?}: expected four upper-case letters such as AKIA")));
        }
        if p == "ASIA" {
            return Err(err(NAME, "lists ASIA: STS session keys cannot be deactivated"));
        }
        out.push(p.to_owned());
    }
    if out.is_empty() {
        return Err(err(NAME, "is empty: expected e.g. AKIA"));
    }
    Ok(out)
}

/// The responders' guard: `PROTECTED_PRINCIPALS` and `ALLOWED_ACCOUNTS`, with the function's
/// own account and role (always protected).
pub fn guard(env: &dyn Env, own_account: &str, own_role: &str) -> Result<crate::guard::Guard, CoreError> {
    let protected = arn_patterns_var(env, "PROTECTED_PRINCIPALS")?;
    let allowed = accounts_var(env, "ALLOWED_ACCOUNTS")?;
    Ok(crate::guard::Guard::new(own_account, allowed, protected, &[own_role.to_owned()]))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn errors_name_the_variable() {
        let e = env(&[("LG_MIN_INSTANCES", "ten")]);
        assert_eq!(thresholds(&e).unwrap_err().to_string(), "configuration variable LG_MIN_INSTANCES is \"ten\": expected a whole number");
        let e = env(&[("LG_EXCLUDE_AWS_SERVICES", "maybe")]);
        assert!(thresholds(&e).unwrap_err().to_string().contains("LG_EXCLUDE_AWS_SERVICES"));
        let e = env(&[("LG_FALLBACK_LOOKBACK_SECONDS", "1")]);
        assert!(window_policy(&e).unwrap_err().to_string().contains("expected 60 to 604800"));
        let e = env(&[]);
        assert_eq!(
            required(&e, "CLOUDTRAIL_LOG_GROUP_NAME", "the log group").unwrap_err().to_string(),
            "configuration variable CLOUDTRAIL_LOG_GROUP_NAME is not set: set it to the log group"
        );
        let e = env(&[("ALLOWED_ACCOUNTS", "111122223333, 12")]);
        assert!(accounts_var(&e, "ALLOWED_ACCOUNTS").unwrap_err().to_string().contains("ALLOWED_ACCOUNTS"));
    }

    #[test]
    fn defaults_and_values() {
        let t = thresholds(&env(&[])).unwrap();
        assert_eq!(t, Thresholds::default());
        let t =
            thresholds(&env(&[("LG_MIN_INSTANCES", "25"), ("LG_MIN_FAILED_CALLS", "5"), ("LG_EXCLUDE_AWS_SERVICES", "FALSE")])).unwrap();
        assert_eq!((t.min_instances, t.min_failed_calls, t.exclude_aws_services), (25, Some(5), false));
        assert_eq!(window_policy(&env(&[])).unwrap(), WindowPolicy::default());
        assert_eq!(accounts_var(&env(&[("A", "111122223333,222233334444")]), "A").unwrap().len(), 2);
        // empty counts as unset
        assert!(bool_var(&env(&[("DRY_RUN", "  ")]), "DRY_RUN", true).unwrap());
    }
}
