//! Test support for launchguard: the real CloudTrail background from `fixtures/`, and launch
//! bursts injected into it.
//!
//! Bursts are built from a real `RunInstances` record (IAM user `bert-jan` launching a t3.micro
//! in the invictus-ir dataset): identity, account, time, counts, instance ids (and, when asked,
//! the instance type) are rewritten, every other field stays as AWS wrote it.
//!
//! This is the only generator of injected CloudTrail: the end-to-end harness and the benchmarks
//! get theirs from the `launchguard-bursts` binary (`src/bin/launchguard-bursts.rs`), which prints
//! these records as JSON lines.

pub mod cloudwatch;
pub mod eventbridge;
pub mod iam;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// The repository's `fixtures/` folder.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Read a fixture file as text (panics with the path when it is missing: a test setup error).
pub fn fixture(rel: &str) -> String {
    let p = fixtures_dir().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// Every file of a fixture folder, sorted by name, with its text.
pub fn fixture_dir(rel: &str) -> Vec<(String, String)> {
    let dir = fixtures_dir().join(rel);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixture dir {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            (p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), std::fs::read_to_string(&p).unwrap_or_default())
        })
        .collect()
}

/// All records of the invictus-ir delivery files (real background: 2,900 records, 2023-07-10
/// 11:45 to 12:40 UTC), in file order.
/// Read and parsed once a process (tests call it for every proptest case), then cloned.
pub fn invictus_background() -> Vec<Value> {
    invictus_background_shared().to_vec()
}

/// [`invictus_background`] to read without a copy: parsed once a process and shared. Callers
/// that only read (templates, a few lines of text) take this one; a copy of all 2,900 records a
/// call was most of some tests' time.
pub fn invictus_background_shared() -> &'static [Value] {
    static BACKGROUND: OnceLock<Vec<Value>> = OnceLock::new();
    BACKGROUND.get_or_init(|| invictus_background_in(&fixtures_dir()).unwrap_or_else(|e| panic!("{e}")))
}

/// [`invictus_background`] read from another `fixtures/` folder: the records of every
/// `cloudtrail/invictus/*.json` delivery file, files sorted by name. An unreadable folder or file,
/// or a file that is not a CloudTrail delivery (`{"Records": [...]}`), is an error naming it.
pub fn invictus_background_in(fixtures: &Path) -> Result<Vec<Value>, String> {
    let dir = fixtures.join("cloudtrail/invictus");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("fixture dir {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("fixture dir {}: no *.json delivery files", dir.display()));
    }
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("fixture {}: {e}", p.display()))?;
        let mut v: Value = serde_json::from_str(&text).map_err(|e| format!("fixture {}: {e}", p.display()))?;
        match v.get_mut("Records").map(Value::take) {
            Some(Value::Array(records)) => out.extend(records),
            _ => return Err(format!("fixture {}: not a CloudTrail delivery file (no \"Records\" array)", p.display())),
        }
    }
    Ok(out)
}

/// The real successful `RunInstances` record used as the template for bursts.
/// Found once a process: bursts call it for every record (a finding of 300 principals, 900 times),
/// and copying the whole background each time was a minute of a test's CPU.
pub fn run_instances_template() -> Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            find_run_instances_template(invictus_background_shared())
                .expect("the invictus background holds a successful RunInstances record")
        })
        .clone()
}

/// The first successful `RunInstances` record of `records` (one that launched instances), if any.
pub fn find_run_instances_template(records: &[Value]) -> Option<Value> {
    records
        .iter()
        .find(|r| {
            r["eventName"] == "RunInstances" && r.get("errorCode").is_none() && r["responseElements"]["instancesSet"]["items"].is_array()
        })
        .cloned()
}

/// Who launches in a burst.
#[derive(Debug, Clone)]
pub enum Actor {
    /// An IAM user with a long-term key.
    IamUser {
        /// Account id.
        account: String,
        /// User name.
        name: String,
        /// Access key id (AKIA…).
        key: String,
    },
    /// A role session.
    AssumedRole {
        /// Account id.
        account: String,
        /// Role name.
        role: String,
        /// Session name.
        session: String,
        /// Access key id (ASIA…).
        key: String,
    },
    /// Auto Scaling's service-linked role.
    AutoScaling {
        /// Account id.
        account: String,
    },
}

impl Actor {
    /// The account the actor belongs to (the burst's `recipientAccountId`).
    pub fn account(&self) -> &str {
        match self {
            Actor::IamUser { account, .. } | Actor::AssumedRole { account, .. } | Actor::AutoScaling { account } => account,
        }
    }

    /// The `userIdentity` CloudTrail writes for this actor.
    pub fn user_identity(&self) -> Value {
        match self {
            Actor::IamUser { account, name, key } => json!({
                "type": "IAMUser", "principalId": format!("AIDA{}", &key[4..]), "arn": format!("arn:aws:iam::{account}:user/{name}"),
                "accountId": account, "accessKeyId": key, "userName": name
            }),
            Actor::AssumedRole { account, role, session, key } => json!({
                "type": "AssumedRole", "principalId": format!("AROA{}:{session}", &key[4..]),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"), "accountId": account, "accessKeyId": key,
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": format!("AROA{}", &key[4..]), "arn": format!("arn:aws:iam::{account}:role/{role}"), "accountId": account, "userName": role},
                    "attributes": {"creationDate": "2023-07-10T11:00:00Z", "mfaAuthenticated": "false"}
                }
            }),
            Actor::AutoScaling { account } => json!({
                "type": "AssumedRole", "principalId": "AROAEXAMPLEAUTOSCALE:AutoScaling",
                "arn": format!("arn:aws:sts::{account}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"), "accountId": account,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEAUTOSCALE",
                    "arn": format!("arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"),
                    "accountId": account, "userName": "AWSServiceRoleForAutoScaling"}},
                "invokedBy": "autoscaling.amazonaws.com"
            }),
        }
    }
}

/// A burst of `RunInstances` calls.
#[derive(Debug, Clone)]
pub struct Burst {
    /// Who.
    pub actor: Actor,
    /// How many calls.
    pub calls: u32,
    /// Instances per call (`maxCount`, and items launched unless `error_code`).
    pub per_call: u32,
    /// First call.
    pub start: DateTime<Utc>,
    /// Seconds between calls.
    pub spacing_s: i64,
    /// `errorCode` for every call (failed launches), if any.
    pub error_code: Option<String>,
    /// Source IP (Auto Scaling's calls always come from `autoscaling.amazonaws.com`).
    pub source_ip: String,
    /// Instance type of every call (`requestParameters.instanceType` and each launched item);
    /// `None` keeps the template's `t3.micro`.
    pub instance_type: Option<String>,
    /// What EC2 answered to each call, when the instances are real (an emulator's): one per call,
    /// `per_call` ids each. `None` makes them up from the seed.
    pub responses: Option<Vec<CallResponse>>,
}

/// What EC2 answered to one `RunInstances` call: its reservation, the instances' launch time and
/// their ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResponse {
    /// `reservationId`.
    pub reservation_id: String,
    /// `launchTime` of the instances.
    pub launch_time: DateTime<Utc>,
    /// `instanceId` of each instance.
    pub instance_ids: Vec<String>,
}

impl Burst {
    /// A successful burst.
    pub fn new(actor: Actor, calls: u32, per_call: u32, start: DateTime<Utc>) -> Self {
        Self {
            actor,
            calls,
            per_call,
            start,
            spacing_s: 7,
            error_code: None,
            source_ip: "198.51.100.23".into(),
            instance_type: None,
            responses: None,
        }
    }

    /// Total instances of the burst.
    pub fn instances(&self) -> u64 {
        u64::from(self.calls) * u64::from(self.per_call)
    }

    /// The records, built from `template`. `seed` makes the `eventID`s, `requestID`s and instance
    /// ids: bursts delivered to the same log group need distinct seeds (the detector
    /// de-duplicates by `eventID`).
    pub fn records(&self, template: &Value, seed: u32) -> Vec<Value> {
        (0..self.calls).map(|i| self.record(template, seed, i)).collect()
    }

    fn record(&self, template: &Value, seed: u32, i: u32) -> Value {
        let mut r = template.clone();
        let t = self.start + Duration::seconds(self.spacing_s * i64::from(i));
        r["eventTime"] = json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        r["eventID"] = json!(format!("00000000-0000-4000-8000-{seed:06x}{i:06x}"));
        r["requestID"] = json!(format!("10000000-0000-4000-8000-{seed:06x}{i:06x}"));
        r["userIdentity"] = self.actor.user_identity();
        r["recipientAccountId"] = json!(self.actor.account());
        r["sourceIPAddress"] = json!(self.source_ip);
        if let Actor::AutoScaling { .. } = self.actor {
            r["sourceIPAddress"] = json!("autoscaling.amazonaws.com");
            r["userAgent"] = json!("autoscaling.amazonaws.com");
        }
        r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(self.per_call);
        r["requestParameters"]["instancesSet"]["items"][0]["minCount"] = json!(self.per_call);
        if let Some(ty) = &self.instance_type {
            r["requestParameters"]["instanceType"] = json!(ty);
        }
        let item = r["responseElements"]["instancesSet"]["items"][0].clone();
        match &self.error_code {
            Some(code) => {
                r["errorCode"] = json!(code);
                r["errorMessage"] = json!("injected failure");
                r["responseElements"] = Value::Null;
            }
            None => {
                let given = self.responses.as_ref().and_then(|rs| rs.get(i as usize));
                let reservation = given.map_or_else(|| format!("r-{seed:04x}{i:013x}"), |g| g.reservation_id.clone());
                let launched = given.map_or(t, |g| g.launch_time);
                let items: Vec<Value> = (0..self.per_call)
                    .map(|k| {
                        let mut it = item.clone();
                        let id = given
                            .and_then(|g| g.instance_ids.get(k as usize).cloned())
                            .unwrap_or_else(|| format!("i-{seed:04x}{i:05x}{k:04x}"));
                        it["instanceId"] = json!(id);
                        it["launchTime"] = json!(launched.timestamp_millis());
                        if let Some(ty) = &self.instance_type {
                            it["instanceType"] = json!(ty);
                        }
                        it
                    })
                    .collect();
                r["responseElements"]["instancesSet"]["items"] = json!(items);
                r["responseElements"]["reservationId"] = json!(reservation);
                r["responseElements"]["ownerId"] = json!(self.actor.account());
                r["responseElements"]["requestId"] = r["requestID"].clone();
            }
        }
        r
    }
}

/// Move records in time so that the earliest lands on `start`, keeping their spacing.
pub fn shift_to(records: &mut [Value], start: DateTime<Utc>) {
    let times: Vec<Option<DateTime<Utc>>> = records
        .iter()
        .map(|r| r["eventTime"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.with_timezone(&Utc)))
        .collect();
    let Some(min) = times.iter().flatten().min().copied() else { return };
    for (r, t) in records.iter_mut().zip(times) {
        if let Some(t) = t {
            r["eventTime"] = json!((start + (t - min)).format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
    }
}

/// Records as `@message` strings (one compact JSON record each), the way CloudWatch Logs holds them.
pub fn messages(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r.to_string()).collect()
}

/// A CloudWatch alarm SNS event, in the exact shape Lambda delivers, for an alarm on `account`
/// that changed to `state` at `at`.
pub fn sns_alarm_event(
    alarm: &str,
    account: &str,
    region: &str,
    state: &str,
    at: DateTime<Utc>,
    period: u32,
    evaluation_periods: u32,
) -> Value {
    let message = json!({
        "AlarmName": alarm, "AlarmDescription": null, "AWSAccountId": account, "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints was greater than or equal to the threshold (10.0).",
        "StateChangeTime": at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(), "Region": "US East (N. Virginia)",
        "AlarmArn": format!("arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}"), "OldStateValue": "OK",
        "Trigger": {"MetricName": "RunInstancesCalls", "Namespace": "LaunchGuard", "StatisticType": "Statistic", "Statistic": "SUM",
            "Unit": null, "Dimensions": [], "Period": period, "EvaluationPeriods": evaluation_periods,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 10.0, "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""}
    });
    json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": format!("arn:aws:sns:{region}:{account}:launchguard-alarms:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"),
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": format!("arn:aws:sns:{region}:{account}:launchguard-alarms"),
            "Subject": format!("ALARM: \"{alarm}\" in US East (N. Virginia)"), "Message": message.to_string(),
            "Timestamp": at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "SignatureVersion": "1", "Signature": "EXAMPLE",
            "SigningCertUrl": "EXAMPLE", "UnsubscribeUrl": "EXAMPLE", "MessageAttributes": {}}
    }]})
}

/// The standard injected burst of the tests, starting at `at` in `account`:
/// IAM user `ci-deployer` 3 calls × 4 instances (key `AKIAEXAMPLEDEPLOYER1`), role `DataScience`
/// 5 × 3 (session `mallory`, key `ASIAEXAMPLEDATASCI01`), Auto Scaling 3 × 10, and the benign user
/// `benign` 2 × 1 (key `AKIAEXAMPLEBENIGN001`).
pub fn standard_bursts(account: &str, at: DateTime<Utc>) -> Vec<Burst> {
    vec![
        Burst::new(Actor::IamUser { account: account.into(), name: "ci-deployer".into(), key: "AKIAEXAMPLEDEPLOYER1".into() }, 3, 4, at),
        Burst::new(
            Actor::AssumedRole {
                account: account.into(),
                role: "DataScience".into(),
                session: "mallory".into(),
                key: "ASIAEXAMPLEDATASCI01".into(),
            },
            5,
            3,
            at,
        ),
        Burst::new(Actor::AutoScaling { account: account.into() }, 3, 10, at),
        Burst::new(Actor::IamUser { account: account.into(), name: "benign".into(), key: "AKIAEXAMPLEBENIGN001".into() }, 2, 1, at),
    ]
}
