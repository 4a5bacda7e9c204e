//! The guard that binds a confirmed user's actions to IAM's unique id (`plan::bind_to_the_confirmed_user`):
//! the id comes only from CloudTrail's confirmed records ([`Proven::principal_ids`]), exactly one
//! well-formed user id binds, anything else binds nothing. A role's actions (`plan::bind_to_the_confirmed_role`)
//! are bound to the one `RoleId` the records give as the sessions' issuer ([`Proven::role_ids`]);
//! more than one (or a malformed one) leaves no action on the role.

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

proptest! {
    #[test]
    fn only_one_confirmed_role_id_binds_and_two_leave_the_role_alone(
        ids in proptest::collection::btree_set("AROA[A-Z0-9]{17}|AIDA[A-Z0-9]{17}|[a-z]{1,8}", 0..4),
    ) {
        let guard = Guard::new(ACCOUNT, vec![], ArnPatterns::default(), &[]);
        let pb = Playbook { instances: plan::InstancePlaybook::Stop, ..Playbook::default() };
        let mut plans = plan::plan(&flagged(), &pb, &guard, now());
        let proven = Proven { role_ids: ids.clone(), ..Proven::default() };
        let one = (ids.len() == 1).then(|| ids.iter().next().cloned()).flatten().filter(|i| launchguard_core::ids::validate_role_id(i).is_ok());
        for p in &mut plans {
            let launchguard_core::principal::Principal::AssumedRole { role_name, .. } = p.principal.clone() else {
                prop_assert_eq!(plan::bind_to_the_confirmed_role(p, &proven), None);
                continue;
            };
            let before = p.actions.iter().filter(|a| matches!(a, Action::RevokeRoleSessions { .. })).count();
            prop_assert!(before > 0);
            let got = plan::bind_to_the_confirmed_role(p, &proven);
            prop_assert_eq!(&got, &one);
            let on_role: Vec<&Action> = p.actions.iter().filter(|a| matches!(a, Action::RevokeRoleSessions { .. } | Action::StopInstances { .. } | Action::TerminateInstances { .. })).collect();
            match (&one, ids.is_empty()) {
                (Some(id), _) => {
                    prop_assert!(!on_role.is_empty());
                    for a in on_role {
                        prop_assert_eq!(a.bound().map(|b| (b.principal_id.as_str(), b.access_key_id.is_none())), Some((id.as_str(), true)));
                    }
                }
                (None, true) => prop_assert!(on_role.iter().all(|a| a.bound().is_none()) && !on_role.is_empty()),
                (None, false) => {
                    prop_assert!(on_role.is_empty(), "an action on {role_name} kept without one confirmed role id: {on_role:?}");
                    prop_assert!(p.human.as_deref().is_some_and(|h| h.contains(&role_name)));
                }
            }
        }
    }
}
