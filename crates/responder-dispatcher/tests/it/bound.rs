//! The guard that binds a confirmed user's actions to IAM's unique id (`plan::bind_to_the_confirmed_user`):
//! the id comes only from CloudTrail's confirmed records ([`Proven::principal_ids`]), exactly one
//! well-formed user id binds, anything else binds nothing; roles are never bound.

use launchguard_core::contract::{Action, FlaggedPrincipal};
use launchguard_core::evidence::Proven;
use launchguard_core::guard::Guard;
use launchguard_core::ids::ArnPatterns;
use launchguard_responder_dispatcher::plan::{self, Playbook};
use launchguard_testkit::fixture;
use proptest::prelude::*;

const ACCOUNT: &str = "111122223333";

fn flagged() -> Vec<FlaggedPrincipal> {
    let f: serde_json::Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    serde_json::from_value(f["principals"].clone()).unwrap()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-22T05:21:30Z").unwrap().with_timezone(&chrono::Utc)
}

proptest! {
    #[test]
    fn only_one_confirmed_user_id_binds_and_only_to_itself(
        ids in proptest::collection::btree_set("AIDA[A-Z0-9]{17}|AROA[A-Z0-9]{17}:s|[a-z]{1,8}", 0..4),
        keys in proptest::collection::btree_set("AKIA[A-Z0-9]{16}|ASIA[A-Z0-9]{16}", 0..3),
    ) {
        let guard = Guard::new(ACCOUNT, vec![], ArnPatterns::default(), &[]);
        let pb = Playbook { instances: plan::InstancePlaybook::Stop, ..Playbook::default() };
        let mut plans = plan::plan(&flagged(), &pb, &guard, now());
        let proven = Proven { principal_ids: ids.clone(), access_keys: keys.clone(), ..Proven::default() };
        let valid: Vec<&String> = ids.iter().filter(|i| launchguard_core::ids::validate_user_id(i).is_ok()).collect();
        for p in &mut plans {
            let user = matches!(p.principal, launchguard_core::principal::Principal::IamUser { .. });
            let got = plan::bind_to_the_confirmed_user(p, &proven);
            let want = (user && ids.len() == 1 && valid.len() == 1).then(|| valid[0].clone());
            prop_assert_eq!(&got, &want);
            for a in &p.actions {
                match (a.bound(), &want) {
                    (Some(b), Some(id)) => {
                        prop_assert_eq!(&b.principal_id, id);
                        // the key to follow is one CloudTrail shows, and a long-term one
                        prop_assert!(b.access_key_id.as_ref().is_none_or(|k| keys.contains(k) && k.starts_with("AKIA")));
                        prop_assert_eq!(b.access_key_id.is_some(), keys.iter().any(|k| k.starts_with("AKIA")));
                    }
                    (Some(b), None) => prop_assert!(false, "bound to {b:?} without one confirmed user id"),
                    (None, Some(_)) => prop_assert!(
                        matches!(a, Action::RevokeRoleSessions { .. } | Action::DeactivateCreatedAccessKey { .. }),
                        "{} on {} left unbound", a.name(), a.target()
                    ),
                    (None, None) => {}
                }
            }
        }
    }
}
