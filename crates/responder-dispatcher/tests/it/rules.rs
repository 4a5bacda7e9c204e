//! A finding's rule narrows the playbook, never widens it.

#![allow(clippy::unwrap_used)]

use launchguard_core::rules::{EC2_MASS_LAUNCH, RuleSet};
use launchguard_responder_dispatcher::plan::{Playbook, RolePlaybook, UserPlaybook};
use serde_json::Value;

#[test]
fn a_rule_narrows_the_playbook_and_never_widens_it() {
    // GIVEN a rule set whose iam-user-burst rule may only quarantine
    let mut doc: Value = serde_json::from_str(launchguard_core::rules::BUNDLED).unwrap();
    doc["rules"][1]["actions"] = serde_json::json!(["quarantine_user"]);
    let set = RuleSet::parse(&doc.to_string(), "test").unwrap();
    let full = Playbook::default();
    // WHEN its findings are planned: only the quarantine is left
    let pb = full.for_rule(set.get("iam-user-burst"));
    assert_eq!(pb.user, UserPlaybook { deactivate_access_keys: false, quarantine_user: true });
    assert_eq!(pb.role, RolePlaybook { revoke_role_sessions: false });
    // AND ec2-mass-launch keeps the whole playbook as before rules (its findings create nothing:
    // it does not deactivate created keys)
    assert_eq!(full.for_rule(set.get(EC2_MASS_LAUNCH)), Playbook { created_keys: false, ..full.clone() });
    // AND only iam-access-key-burst deactivates the keys a principal created
    assert!(full.for_rule(set.get("iam-access-key-burst")).created_keys);
    assert!(!full.for_rule(set.get("iam-user-burst")).created_keys);
    // AND a rule allowing everything cannot add what LG_USER_ACTIONS took away
    let narrowed = Playbook { user: UserPlaybook { deactivate_access_keys: false, quarantine_user: true }, ..Playbook::default() };
    assert!(!narrowed.for_rule(set.get(EC2_MASS_LAUNCH)).user.deactivate_access_keys);
    // AND another detector's rule, unknown here, gets the playbook as configured
    assert_eq!(narrowed.for_rule(set.get("someone-elses-rule")), narrowed);
}
