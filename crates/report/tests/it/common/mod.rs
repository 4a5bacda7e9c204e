//! A real-data finding: the standard injected bursts over the Invictus CloudTrail background,
//! aggregated by launchguard-core as the detector does, and real-shaped outcomes for it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::aggregate::Aggregate;
use launchguard_core::contract::{Action, Finding, FlaggedPrincipal, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::principal::Principal;
use launchguard_core::query::EventRule;
use launchguard_core::record::parse_record;
use launchguard_report::{ReleaseEvent, ReportInput};
use launchguard_testkit::{Burst, fixture, invictus_background, run_instances_template, standard_bursts};
use serde_json::Value;

pub const ACCOUNT: &str = "111122223333";
pub const HOSTILE_AGENT: &str = "<script>alert('pwned')</script><img src=https://evil.example/x.png>\n| launchguard release";

pub fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 20, 0).unwrap()
}

/// The standard bursts spread over several minutes (ci-deployer every 50 s, DataScience every
/// 35 s), the role's user agent replaced by hostile markup.
pub fn records() -> Vec<Value> {
    let template = run_instances_template();
    let mut bursts: Vec<Burst> = standard_bursts(ACCOUNT, at());
    bursts[0].spacing_s = 50;
    bursts[1].spacing_s = 35;
    let mut out = invictus_background();
    for (seed, b) in bursts.iter().enumerate() {
        for mut r in b.records(&template, u32::try_from(seed).unwrap()) {
            if seed == 1 {
                r["userAgent"] = Value::String(HOSTILE_AGENT.into());
            }
            out.push(r);
        }
    }
    out
}

/// The finding the detector makes of [`records`] (window: the alarm's minutes and margins).
pub fn finding() -> Finding {
    let rule = EventRule::run_instances();
    let (start, end) = (at() - Duration::minutes(6), at() + Duration::minutes(5));
    let mut agg = Aggregate::new();
    let texts: Vec<String> = records().iter().map(Value::to_string).collect();
    for t in &texts {
        let r = parse_record(t).unwrap();
        let Some(time) = r.event_time.as_deref().and_then(|s| launchguard_core::time::parse_timestamp(s).ok()) else { continue };
        if rule.matches(&r) && time >= start && time <= end {
            agg.add(&r, time.timestamp_millis());
        }
    }
    let mut f: Finding = Finding::parse(serde_json::from_str(&fixture("contract/finding.json")).unwrap()).unwrap();
    let (mut flagged, mut excluded) = (Vec::new(), Vec::new());
    for p in agg.into_sorted() {
        let fp = FlaggedPrincipal {
            reasons: vec![format!("{} instances launched", p.activity.instances_launched)],
            principal: p.principal,
            activity: p.activity,
            crossed: None,
            evidence: None,
            principal_id: None,
            delivered_by_aws: Vec::new(),
        };
        if matches!(&fp.principal, Principal::AssumedRole { service_linked: true, .. }) {
            excluded.push(fp);
        } else if fp.activity.instances_launched >= 10 {
            flagged.push(fp);
        }
    }
    f.principals = flagged;
    f.excluded = excluded;
    f
}

fn outcome(
    f: &Finding,
    action: Action,
    status: OutcomeStatus,
    detail: &str,
    reversal: Option<Action>,
    handler: &str,
    secs: i64,
) -> ResponseOutcome {
    let req = ResponseRequest::new(&f.finding_id, action, false, at());
    let mut o = ResponseOutcome::for_request(&req, handler, status, detail, at() + Duration::seconds(secs));
    o.reversal = reversal;
    o
}

/// What the dispatcher answers for the finding: the key deactivated, the user's quarantine
/// refused, the role's sessions revoked, an instance stop failed.
pub fn outcomes(f: &Finding) -> Vec<ResponseOutcome> {
    let key = |t: bool| {
        let (account_id, access_key_id, user_name) = (ACCOUNT.into(), "AKIAEXAMPLEDEPLOYER1".into(), Some("ci-deployer".into()));
        if t {
            Action::DeactivateAccessKey { account_id, access_key_id, user_name, bound: None }
        } else {
            Action::ReactivateAccessKey { account_id, access_key_id, user_name }
        }
    };
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/DataScience");
    vec![
        outcome(
            f,
            key(true),
            OutcomeStatus::Applied,
            "access key AKIAEXAMPLEDEPLOYER1 of user ci-deployer set to Inactive",
            Some(key(false)),
            "launchguard-accesskey-handler",
            2,
        ),
        outcome(
            f,
            Action::QuarantineUser {
                account_id: ACCOUNT.into(),
                user_arn: format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer"),
                user_name: "ci-deployer".into(),
                bound: None,
            },
            OutcomeStatus::Refused { reason: "user ci-deployer is protected (PROTECTED_PRINCIPALS)".into() },
            "nothing was changed",
            None,
            "launchguard-iam-handler",
            2,
        ),
        outcome(
            f,
            Action::RevokeRoleSessions {
                account_id: ACCOUNT.into(),
                role_arn: role_arn.clone(),
                role_name: "DataScience".into(),
                issued_before: at(),
                covers_activity_until: None,
                bound: None,
            },
            OutcomeStatus::Applied,
            "sessions of role DataScience issued before 2026-11-22T05:20:00Z denied",
            Some(Action::RestoreRoleSessions {
                account_id: ACCOUNT.into(),
                role_arn,
                role_name: "DataScience".into(),
                written_document: Some("{}".into()),
                previous_document: None,
            }),
            "launchguard-iam-handler",
            3,
        ),
    ]
}

/// The report input of the real-data finding (built once: the background is thousands of records).
pub fn input() -> ReportInput {
    static INPUT: std::sync::OnceLock<ReportInput> = std::sync::OnceLock::new();
    INPUT.get_or_init(build_input).clone()
}

fn build_input() -> ReportInput {
    let f = finding();
    let outcomes = outcomes(&f);
    ReportInput {
        refusals: vec!["IAM user breakglass-admin: protected principal <b>never</b> acted on".into()],
        human_actions: vec!["root: launchguard never changes the root user: rotate its credentials".into()],
        releases: vec![release(&outcomes[0])],
        outcomes,
        finding: f,
        generated_at: at() + Duration::minutes(3),
        held: None,
        unverified: false,
    }
}

/// A release of the access key's deactivation, by a person.
pub fn release(contained: &ResponseOutcome) -> ReleaseEvent {
    let req = ResponseRequest::new(&contained.finding_id, contained.reversal.clone().unwrap(), false, at());
    ReleaseEvent {
        at: at() + Duration::hours(2),
        requested_by: Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/SecurityResponder/alice")),
        reason: Some("false positive: load test <script>".into()),
        principal_arn: Some(format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer")),
        dry_run: false,
        outcomes: vec![ResponseOutcome::for_request(
            &req,
            "launchguard-accesskey-handler",
            OutcomeStatus::Applied,
            "key set to Active",
            at() + Duration::hours(2),
        )],
        notes: Vec::new(),
        verified: true,
    }
}
