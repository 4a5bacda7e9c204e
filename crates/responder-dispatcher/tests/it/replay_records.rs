//! Issue 32, item 11: the handlers' replay records (`launchguard_aws::command`). A handler whose
//! role an attacker holds (`lambda:UpdateFunctionCode` on it) writes whatever its role lets it
//! write in the ledger bucket. Request ids are deterministic (finding id and action), so it can
//! write another handler's record before that handler is asked: "already applied", and the
//! other handler answers from it and does nothing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, TimeZone, Utc};
use launchguard_aws::store::ConditionalStore;
use launchguard_core::contract::{Finding, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::policy::REVOKE_SESSIONS_POLICY;
use launchguard_responder_dispatcher::plan;
use launchguard_testkit::fixture;

use crate::world::{self, Lambda, Logs, Sns, config, iam};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

/// Every key of the ledger bucket the ec2-handler's role may write a replay record at, for
/// `request_id`: `requests/launchguard-ec2-handler/*` (its own prefix), and the old shared
/// `requests/*` (which its role no longer grants: `e2e/test_iam_simulate.py`; written anyway).
fn ec2_handler_keys(request_id: &str) -> Vec<String> {
    vec![format!("requests/launchguard-ec2-handler/{request_id}.json"), format!("requests/{request_id}.json")]
}

/// GIVEN the ec2-handler in an attacker's hands, which writes "already applied" records for the
/// iam-handler's request of the example finding (revoke the sessions of role DataScience) at
/// every key its role may write, WHEN the finding arrives, THEN the iam-handler still revokes the
/// sessions: it reads only its own records (on main it answered from the forged one and the
/// role kept its sessions).
#[tokio::test]
async fn another_handlers_record_does_not_answer_for_the_iam_handler() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let cfg = config(&[]);
    let raw: serde_json::Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    let f: Finding = serde_json::from_value(world::witnessed(&raw, Some(&iam))).unwrap();
    let plans = plan::plan(&f.principals, &cfg.playbook.for_rule(cfg.rules.get(&f.rule)), &cfg.guard, now());
    let revoke = plans.iter().flat_map(|p| &p.actions).find(|a| a.name() == "revoke_role_sessions").unwrap().clone();
    let req = ResponseRequest::new(&f.finding_id, revoke, false, now());
    let forged = ResponseOutcome::for_request(&req, "launchguard-iam-handler", OutcomeStatus::AlreadyApplied, "forged", now());
    for key in ec2_handler_keys(&req.request_id) {
        lambda.store.put_if_absent(&key, serde_json::to_vec(&forged).unwrap()).await.unwrap();
    }
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = world::dispatch(&raw, &cfg, &lambda, &sns, &logs, now()).await.unwrap();
    assert!(iam.role("DataScience").has_attached(REVOKE_SESSIONS_POLICY), "the forged record answered: {:?}", r.outcomes);
    let o = r.outcomes.iter().find(|o| o.action.name() == "revoke_role_sessions").unwrap();
    assert_eq!(o.outcome.name(), "applied", "{o:?}");
}
