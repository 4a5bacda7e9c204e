//! The spec: parsed and checked, every error naming the field to fix.

use chrono::{DateTime, Utc};
use launchguard_testkit::iam::{IamBurst, IamEvent};
use launchguard_testkit::{Actor, Burst, CallResponse};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    background_start: Option<String>,
    bursts: Vec<Value>,
    #[serde(default)]
    iam_bursts: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IamBurstSpec {
    actor: ActorSpec,
    event: IamEvent,
    calls: u32,
    start: String,
    #[serde(default)]
    spacing_seconds: Option<i64>,
    #[serde(default)]
    user_prefix: Option<String>,
    #[serde(default)]
    key_ids: Option<Vec<String>>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    seed: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstSpec {
    actor: ActorSpec,
    calls: u32,
    per_call: u32,
    start: String,
    #[serde(default)]
    spacing_seconds: Option<i64>,
    #[serde(default)]
    source_ip: Option<String>,
    #[serde(default)]
    instance_type: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    seed: Option<u32>,
    #[serde(default)]
    responses: Option<Vec<ResponseSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseSpec {
    reservation_id: String,
    launch_time: String,
    instance_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ActorSpec {
    IamUser { account: String, name: String, key: String },
    AssumedRole { account: String, role: String, session: String, key: String },
    Autoscaling { account: String },
}

/// A spec, checked.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) background_start: Option<DateTime<Utc>>,
    pub(crate) bursts: Vec<(Burst, u32)>,
    pub(crate) iam_bursts: Vec<(IamBurst, u32)>,
}

const MAX_CALLS: u32 = 100_000;
const MAX_PER_CALL: u32 = 10_000;
const MAX_SEED: u32 = 0xFFFF;

fn time(field: &str, s: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{field}: {s:?} is not an RFC 3339 time like \"2026-03-01T11:58:00Z\" ({e})"))?
        .with_timezone(&Utc);
    if t.timestamp_subsec_nanos() != 0 {
        return Err(format!("{field}: {s:?} has a fraction of a second; CloudTrail's eventTime is in whole seconds"));
    }
    Ok(t)
}

fn account(field: &str, a: &str) -> Result<String, String> {
    if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) {
        Ok(a.to_owned())
    } else {
        Err(format!("{field}: {a:?} is not an account id (12 digits)"))
    }
}

fn nonempty(field: &str, s: &str) -> Result<String, String> {
    if s.trim().is_empty() { Err(format!("{field}: must not be empty")) } else { Ok(s.to_owned()) }
}

/// An access key id (AWS: 16 to 128 word characters): the identity's principal id is built from
/// what follows its 4-letter prefix. The prefix is not checked (LocalStack issues `LKIA` keys,
/// and a test may want an odd one).
fn key(field: &str, k: &str) -> Result<String, String> {
    if (16..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(k.to_owned())
    } else {
        Err(format!("{field}: {k:?} is not an access key id (16 to 128 letters and digits, such as AKIAEXAMPLEDEPLOYER1)"))
    }
}

fn actor(at: &str, a: ActorSpec) -> Result<Actor, String> {
    Ok(match a {
        ActorSpec::IamUser { account: acct, name, key: k } => Actor::IamUser {
            account: account(&format!("{at}.account"), &acct)?,
            name: nonempty(&format!("{at}.name"), &name)?,
            key: key(&format!("{at}.key"), &k)?,
        },
        ActorSpec::AssumedRole { account: acct, role, session, key: k } => Actor::AssumedRole {
            account: account(&format!("{at}.account"), &acct)?,
            role: nonempty(&format!("{at}.role"), &role)?,
            session: nonempty(&format!("{at}.session"), &session)?,
            key: key(&format!("{at}.key"), &k)?,
        },
        ActorSpec::Autoscaling { account: acct } => Actor::AutoScaling { account: account(&format!("{at}.account"), &acct)? },
    })
}

fn burst(index: usize, v: Value) -> Result<(Burst, u32), String> {
    let at = format!("bursts[{index}]");
    let b: BurstSpec = serde_json::from_value(v).map_err(|e| format!("{at}: {e}"))?;
    let start = time(&format!("{at}.start"), &b.start)?;
    let actor = actor(&format!("{at}.actor"), b.actor)?;
    if !(1..=MAX_CALLS).contains(&b.calls) {
        return Err(format!("{at}.calls: {} is not between 1 and {MAX_CALLS}", b.calls));
    }
    if !(1..=MAX_PER_CALL).contains(&b.per_call) {
        return Err(format!("{at}.per_call: {} is not between 1 and {MAX_PER_CALL}", b.per_call));
    }
    let mut out = Burst::new(actor, b.calls, b.per_call, start);
    if let Some(s) = b.spacing_seconds {
        if !(0..=86_400).contains(&s) {
            return Err(format!("{at}.spacing_seconds: {s} is not between 0 and 86400"));
        }
        out.spacing_s = s;
    }
    match (b.source_ip, &out.actor) {
        (Some(_), Actor::AutoScaling { .. }) => {
            return Err(format!("{at}.source_ip: Auto Scaling's calls come from autoscaling.amazonaws.com; remove source_ip"));
        }
        (Some(ip), _) => out.source_ip = nonempty(&format!("{at}.source_ip"), &ip)?,
        (None, _) => {}
    }
    if let Some(t) = b.instance_type {
        out.instance_type = Some(nonempty(&format!("{at}.instance_type"), &t)?);
    }
    if let Some(c) = b.error_code {
        out.error_code = Some(nonempty(&format!("{at}.error_code"), &c)?);
    }
    if let Some(rs) = b.responses {
        if out.error_code.is_some() {
            return Err(format!("{at}.responses: failed calls (error_code) have no response; remove one of them"));
        }
        if rs.len() != b.calls as usize {
            return Err(format!("{at}.responses: {} given for {} calls (one per call)", rs.len(), b.calls));
        }
        let mut given = Vec::with_capacity(rs.len());
        for (j, r) in rs.into_iter().enumerate() {
            let here = format!("{at}.responses[{j}]");
            if r.instance_ids.len() != b.per_call as usize {
                return Err(format!("{here}.instance_ids: {} ids for per_call {}", r.instance_ids.len(), b.per_call));
            }
            if let Some(bad) = r.instance_ids.iter().find(|id| launchguard_core::contract::validate_instance_id(id).is_err()) {
                return Err(format!("{here}.instance_ids: {bad:?} is not an instance id (i- and 8 to 17 hex digits)"));
            }
            if !r.reservation_id.starts_with("r-") {
                return Err(format!("{here}.reservation_id: {:?} is not a reservation id (r-...)", r.reservation_id));
            }
            given.push(CallResponse {
                reservation_id: r.reservation_id,
                launch_time: DateTime::parse_from_rfc3339(&r.launch_time)
                    .map_err(|e| format!("{here}.launch_time: {:?} is not an RFC 3339 time ({e})", r.launch_time))?
                    .with_timezone(&Utc),
                instance_ids: r.instance_ids,
            });
        }
        out.responses = Some(given);
    }
    let default_seed = u32::try_from(index + 1).unwrap_or(u32::MAX);
    let seed = b.seed.unwrap_or(default_seed);
    if seed > MAX_SEED {
        return Err(format!("{at}.seed: {seed} is not between 0 and {MAX_SEED}"));
    }
    Ok((out, seed))
}

fn iam_burst(index: usize, v: Value) -> Result<(IamBurst, u32), String> {
    let at = format!("iam_bursts[{index}]");
    let b: IamBurstSpec = serde_json::from_value(v).map_err(|e| format!("{at}: {e}"))?;
    let start = time(&format!("{at}.start"), &b.start)?;
    let actor = actor(&format!("{at}.actor"), b.actor)?;
    if matches!(actor, Actor::AutoScaling { .. }) {
        return Err(format!("{at}.actor: Auto Scaling does not create IAM users or keys; use iam_user or assumed_role"));
    }
    if !(1..=10_000).contains(&b.calls) {
        return Err(format!("{at}.calls: {} is not between 1 and 10000", b.calls));
    }
    let mut out = IamBurst::new(actor, b.event, b.calls, start);
    if let Some(s) = b.spacing_seconds {
        if !(0..=86_400).contains(&s) {
            return Err(format!("{at}.spacing_seconds: {s} is not between 0 and 86400"));
        }
        out.spacing_s = s;
    }
    if let Some(p) = b.user_prefix {
        if launchguard_core::ids::validate_iam_name(&format!("{p}-0")).is_err() {
            return Err(format!("{at}.user_prefix: {p:?} does not make IAM user names ([A-Za-z0-9+=,.@_-], at most 60 characters)"));
        }
        out.user_prefix = Some(p);
    }
    if let Some(ids) = b.key_ids {
        if b.event != IamEvent::CreateAccessKey {
            return Err(format!("{at}.key_ids: only CreateAccessKey creates keys; remove key_ids"));
        }
        if ids.len() != b.calls as usize {
            return Err(format!("{at}.key_ids: {} given for {} calls (one per call)", ids.len(), b.calls));
        }
        for (j, k) in ids.iter().enumerate() {
            key(&format!("{at}.key_ids[{j}]"), k)?;
        }
        out.key_ids = Some(ids);
    }
    if let Some(c) = b.error_code {
        out.error_code = Some(nonempty(&format!("{at}.error_code"), &c)?);
    }
    let seed = b.seed.unwrap_or(u32::try_from(index + 1).unwrap_or(u32::MAX));
    if seed > MAX_SEED {
        return Err(format!("{at}.seed: {seed} is not between 0 and {MAX_SEED}"));
    }
    Ok((out, seed))
}

/// Parse and check a spec: every error names the field to fix.
pub(crate) fn plan(text: &str) -> Result<Plan, String> {
    if text.trim().is_empty() {
        return Err("spec: empty; give a JSON spec on stdin or with --spec FILE (--help describes it)".into());
    }
    let spec: Spec = serde_json::from_str(text).map_err(|e| format!("spec: {e}"))?;
    let background_start = spec.background_start.as_deref().map(|s| time("background_start", s)).transpose()?;
    let mut bursts = Vec::with_capacity(spec.bursts.len());
    for (i, v) in spec.bursts.into_iter().enumerate() {
        let (b, seed) = burst(i, v)?;
        if let Some(j) = bursts.iter().position(|(_, s)| *s == seed) {
            return Err(format!(
                "bursts[{i}].seed: {seed} is also the seed of bursts[{j}]; their eventIDs would repeat (give each burst its own seed)"
            ));
        }
        bursts.push((b, seed));
    }
    let mut iam_bursts: Vec<(IamBurst, u32)> = Vec::with_capacity(spec.iam_bursts.len());
    for (i, v) in spec.iam_bursts.into_iter().enumerate() {
        let (b, seed) = iam_burst(i, v)?;
        if let Some(j) = iam_bursts.iter().position(|(_, s)| *s == seed) {
            return Err(format!(
                "iam_bursts[{i}].seed: {seed} is also the seed of iam_bursts[{j}]; their eventIDs would repeat (give each burst its own seed)"
            ));
        }
        iam_bursts.push((b, seed));
    }
    Ok(Plan { background_start, bursts, iam_bursts })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn err(spec: &str) -> String {
        plan(spec).unwrap_err()
    }

    const USER: &str = r#"{"type": "iam_user", "account": "000000000000", "name": "u", "key": "AKIAEXAMPLE0000001"}"#;

    #[test]
    fn bad_specs_name_what_to_fix() {
        assert!(err("{}").contains("missing field `bursts`"), "{}", err("{}"));
        assert!(err(r#"{"bursts": [], "extra": 1}"#).contains("unknown field `extra`"));
        let b = |fields: &str| {
            format!(r#"{{"bursts": [{{"actor": {USER}, "calls": 3, "per_call": 4, "start": "2026-03-01T11:58:00Z"{fields}}}]}}"#)
        };
        assert!(plan(&b("")).is_ok());
        assert!(err(&b(r#", "per_cal": 1"#)).starts_with("bursts[0]: unknown field `per_cal`"));
        assert!(err(&b(r#", "seed": 70000"#)).starts_with("bursts[0].seed"));
        let e = err(&format!(r#"{{"bursts": [{{"actor": {USER}, "calls": 0, "per_call": 4, "start": "2026-03-01T11:58:00Z"}}]}}"#));
        assert!(e.starts_with("bursts[0].calls: 0"), "{e}");
        let e = err(&format!(r#"{{"bursts": [{{"actor": {USER}, "calls": 1, "per_call": 4, "start": "2026-03-01 11:58"}}]}}"#));
        assert!(e.starts_with("bursts[0].start") && e.contains("RFC 3339"), "{e}");
        let e = err(&format!(r#"{{"bursts": [{{"actor": {USER}, "calls": 1, "per_call": 4, "start": "2026-03-01T11:58:00.5Z"}}]}}"#));
        assert!(e.contains("whole seconds"), "{e}");
        let e = err(
            r#"{"bursts": [{"actor": {"type": "iam_user", "account": "0", "name": "u", "key": "AKIAX1234"}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z"}]}"#,
        );
        assert!(e.starts_with("bursts[0].actor.account"), "{e}");
        let e = err(
            r#"{"bursts": [{"actor": {"type": "assumed_role", "account": "000000000000", "role": "R", "session": "s", "key": "ASIA-1"}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z"}]}"#,
        );
        assert!(e.starts_with("bursts[0].actor.key") && e.contains("16 to 128"), "{e}");
        let e = err(
            r#"{"bursts": [{"actor": {"type": "robot", "account": "000000000000"}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z"}]}"#,
        );
        assert!(e.starts_with("bursts[0]: unknown variant `robot`"), "{e}");
        let e = err(
            r#"{"bursts": [{"actor": {"type": "autoscaling", "account": "000000000000"}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z", "source_ip": "192.0.2.1"}]}"#,
        );
        assert!(e.starts_with("bursts[0].source_ip"), "{e}");
        let two = format!(
            r#"{{"bursts": [{{"actor": {USER}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z", "seed": 2}}, {{"actor": {USER}, "calls": 1, "per_call": 1, "start": "2026-03-01T11:58:00Z"}}]}}"#
        );
        assert!(err(&two).starts_with("bursts[1].seed: 2 is also the seed of bursts[0]"), "{}", err(&two));
    }

    #[test]
    fn real_responses_must_match_the_calls_and_end_up_in_the_records() {
        let spec = |responses: &str| {
            format!(
                r#"{{"bursts": [{{"actor": {USER}, "calls": 2, "per_call": 2, "start": "2026-03-01T11:58:00Z", "responses": {responses}}}]}}"#
            )
        };
        let one = |r: &str, ids: &str| {
            format!(r#"{{"reservation_id": "{r}", "launch_time": "2026-03-01T11:58:01.250Z", "instance_ids": {ids}}}"#)
        };
        // GIVEN responses that do not fit the calls THEN the error names the field
        let e = err(&spec(&format!("[{}]", one("r-0aa", r#"["i-0123456789abcdef0", "i-0123456789abcdef1"]"#))));
        assert!(e.starts_with("bursts[0].responses: 1 given for 2 calls"), "{e}");
        let e = err(&spec(&format!("[{}, {}]", one("r-0aa", r#"["i-0123456789abcdef0"]"#), one("r-0bb", r#"["i-1", "i-2"]"#))));
        assert!(e.starts_with("bursts[0].responses[0].instance_ids: 1 ids for per_call 2"), "{e}");
        let e = err(&spec(&format!(
            "[{}, {}]",
            one("r-0aa", r#"["i-0123456789abcdef0", "i-0123456789abcdef1"]"#),
            one("x", r#"["i-0123456789abcdef2", "i-0123456789abcdef3"]"#)
        )));
        assert!(e.starts_with("bursts[0].responses[1].reservation_id"), "{e}");
        // GIVEN real responses THEN each call's record carries its reservation, launch time and ids
        let p = plan(&spec(&format!(
            "[{}, {}]",
            one("r-0aa", r#"["i-0123456789abcdef0", "i-0123456789abcdef1"]"#),
            one("r-0bb", r#"["i-0123456789abcdef2", "i-0123456789abcdef3"]"#)
        )))
        .unwrap();
        let (b, seed) = &p.bursts[0];
        let records = b.records(&launchguard_testkit::run_instances_template(), *seed);
        let facts: Vec<(String, Vec<String>, Vec<i64>)> = records
            .iter()
            .map(|r| {
                let items = r["responseElements"]["instancesSet"]["items"].as_array().unwrap();
                (
                    r["responseElements"]["reservationId"].as_str().unwrap().to_owned(),
                    items.iter().map(|i| i["instanceId"].as_str().unwrap().to_owned()).collect(),
                    items.iter().map(|i| i["launchTime"].as_i64().unwrap()).collect(),
                )
            })
            .collect();
        let at = DateTime::parse_from_rfc3339("2026-03-01T11:58:01.250Z").unwrap().timestamp_millis();
        assert_eq!(
            facts,
            vec![
                ("r-0aa".into(), vec!["i-0123456789abcdef0".into(), "i-0123456789abcdef1".into()], vec![at, at]),
                ("r-0bb".into(), vec!["i-0123456789abcdef2".into(), "i-0123456789abcdef3".into()], vec![at, at]),
            ]
        );
    }

    #[test]
    fn iam_bursts_are_checked_and_made_from_the_real_records() {
        let spec = |fields: &str| {
            format!(
                r#"{{"bursts": [], "iam_bursts": [{{"actor": {USER}, "event": "CreateAccessKey", "calls": 2, "start": "2026-03-01T11:58:00Z"{fields}}}]}}"#
            )
        };
        assert!(err(&spec(r#", "key_ids": ["AKIAREALKEY000000001"]"#)).starts_with("iam_bursts[0].key_ids: 1 given for 2 calls"));
        assert!(err(&spec(r#", "user_prefix": "bad name""#)).starts_with("iam_bursts[0].user_prefix"));
        let e = err(&spec("").replace("CreateAccessKey", "DeleteUser"));
        assert!(e.starts_with("iam_bursts[0]: unknown variant `DeleteUser`"), "{e}");
        // GIVEN real key ids THEN each record creates its key, for its user
        let p = plan(&spec(r#", "user_prefix": "victim", "key_ids": ["AKIAREALKEY000000001", "AKIAREALKEY000000002"]"#)).unwrap();
        let (b, seed) = &p.iam_bursts[0];
        let background = launchguard_testkit::invictus_background_in(&launchguard_testkit::fixtures_dir()).unwrap();
        let template = launchguard_testkit::iam::find_iam_template(&background, IamEvent::CreateAccessKey).unwrap();
        let made: Vec<(String, String)> = b
            .records(&template, *seed)
            .iter()
            .map(|r| {
                let k = &r["responseElements"]["accessKey"];
                (k["accessKeyId"].as_str().unwrap().to_owned(), k["userName"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(made, vec![("AKIAREALKEY000000001".into(), "victim-0".into()), ("AKIAREALKEY000000002".into(), "victim-1".into())]);
    }
}
