//! Review 4: attacks on the IAM handler's latest fixes (protected patterns by path, reversals
//! bound to IAM's unique id), through the real handler and the in-memory IAM. Each test asserts
//! the SAFE outcome; one that fails against today's code is ignored with the defect it shows.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeZone, Utc};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::policy::Containment;
use launchguard_iam_handler::FUNCTION;
use launchguard_responder::Config;
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing::{self, refused};

const ACCOUNT: &str = "111122223333";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 0).unwrap()
}

fn cfg(extra: &[(&str, &str)]) -> Config {
    testing::config(&FUNCTION, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-iam-handler-role", extra)
}

async fn run(iam: &MemoryIam, cfg: &Config, req: &ResponseRequest) -> ResponseOutcome {
    testing::handle_sealed(iam, cfg, &serde_json::to_string(req).unwrap(), now()).await.expect("valid request")
}

/// Attack (withstood): a protection written only by path (`user/admins/*`: every user under
/// `/admins/`), and a finding whose ARN was derived from a session or record without the path.
/// The request's ARN matches no pattern; IAM's real ARN does: refused, with no write.
#[tokio::test]
async fn a_protection_by_path_holds_for_a_derived_arn_without_the_path() {
    let iam = MemoryIam::default().with_user("ops-lead", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/admins/ops-lead")));
    let c = cfg(&[("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/admins/*")]);
    // in any case: IAM (and the in-memory IAM) finds a user by its name without regard to case
    for name in ["ops-lead", "OPS-LEAD", "Ops-Lead"] {
        let a = Action::QuarantineUser {
            account_id: ACCOUNT.into(),
            user_arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            user_name: name.into(),
            bound: None,
        };
        let o = run(&iam, &c, &ResponseRequest::new("lg-rv4-path", a, false, now())).await;
        assert!(refused(&o).contains("protected"), "{name}: {} {}", o.outcome.name(), o.detail);
    }
    assert!(iam.writes().is_empty(), "{:?}", iam.writes());
}

/// Attack (withstood): a role deleted and made again under its name (a new `RoleId`) after
/// launchguard revoked the old role's sessions. The policy is attached to the new role by someone
/// else's hand (an automation that copies the old role's attachments). The reversal carries the
/// old role's id: refused, nothing detached from the new role.
#[tokio::test]
async fn a_restore_for_a_recreated_role_of_the_same_name_detaches_nothing() {
    let policy = Containment::RoleSessions.arn("aws", ACCOUNT);
    let iam = MemoryIam::default().with_role("Builder", Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/Builder")));
    let revoke = Action::RevokeRoleSessions {
        account_id: ACCOUNT.into(),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/Builder"),
        role_name: "Builder".into(),
        issued_before: now(),
        covers_activity_until: None,
        bound: None,
    };
    let o = run(&iam, &cfg(&[]), &ResponseRequest::new("lg-rv4-role", revoke, false, now())).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    let old_id = o.principal_id.clone().expect("the revocation reports the role's id");
    // the role is deleted and made again: another RoleId, the same name, the policy attached again
    iam.roles.lock().unwrap().insert(
        "Builder".into(),
        Entity {
            id: "AROANEWBUILDERROLE01".into(),
            attached: vec![policy.clone()],
            ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/Builder"))
        },
    );
    let writes = iam.writes().len();
    let mut req = ResponseRequest::new("lg-rv4-role", o.reversal.clone().unwrap(), false, now());
    req.principal_id = Some(old_id);
    req.requested_by = Some("arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice".into());
    let r = run(&iam, &cfg(&[]), &req).await;
    assert!(refused(&r).contains("AROANEWBUILDERROLE01"), "{} {}", r.outcome.name(), r.detail);
    assert_eq!(iam.writes().len(), writes);
    assert_eq!(iam.role("Builder").attached, vec![policy]);
}
