//! Outside review of detection (branch `rvd`): bursts paced, split, disguised or hidden so that
//! they are never flagged, and hostile input that flags an innocent principal. Each test states
//! the attack and asserts the SAFE outcome; the ones that fail against today's code carry
//! `#[ignore = "rvd finding N: ..."]` (run them with `--include-ignored`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, TimeZone, Utc};
use launchguard_core::burst::Tracker;
use launchguard_core::principal::Principal;
use launchguard_core::rules::{EC2_MASS_LAUNCH, RuleSet};
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::Assessment;
use launchguard_testkit::{Actor, Burst, run_instances_template};
use proptest::strategy::Strategy as _;
use serde_json::{Value, json};

const ACCOUNT: &str = "218007301253";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// Every record of `records` (as the log group holds them: one JSON text each, in this order)
/// judged by the bundled rule `rule_id` with its own horizons, as the detector judges a read.
fn assess(rule_id: &str, records: &[Value]) -> (Assessment, launchguard_core::scan::ScanStats) {
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(rule_id).unwrap();
    let t = rule.thresholds(false);
    let mut s = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
    for r in records {
        s.push_message(&r.to_string());
    }
    let stats = s.stats.clone();
    (s.aggregate.assess(&rule.horizons_with(&t), &t), stats)
}

fn keys(v: &[launchguard_core::contract::FlaggedPrincipal]) -> Vec<String> {
    v.iter().map(|f| f.principal.key()).collect()
}

fn role(name: &str, session: &str, key: &str) -> Actor {
    Actor::AssumedRole { account: ACCOUNT.into(), role: name.into(), session: session.into(), key: key.into() }
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A copy of `real` whose `sessionContext.sessionIssuer` names `issuer_arn` instead: every field
/// the de-duplication's version key reads (eventID, type, ARN, principalId, account, access key,
/// invokedBy, region, event, time, counts) is the real record's.
fn forged_issuer(real: &Value, issuer_arn: &str) -> Value {
    let mut f = real.clone();
    let name = issuer_arn.rsplit('/').next().unwrap();
    f["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(issuer_arn);
    f["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] = json!(name);
    f
}

const ASG_SLR: &str = "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling";

/// Finding 1. GIVEN a role session's burst of 12 instances in 84 s, AND a forged copy of each
/// record read first (same eventID, ARN, principalId, key, time and counts; only the session
/// issuer names Auto Scaling's service-linked role), WHEN read, THEN the role that made the calls
/// is flagged. Today the forged copies decide the principal (AWS itself: excluded) and the real
/// records are dropped as duplicates, with no conflict noted.
#[test]
fn rvd_forged_session_issuer_read_first_cannot_hide_a_roles_burst() {
    let real = Burst::new(role("ci-deployer", "gh-run-1", "ASIAEXAMPLECIDEPLOY1"), 12, 1, at()).records(&run_instances_template(), 1);
    let mut records: Vec<Value> = real.iter().map(|r| forged_issuer(r, &role_arn(ASG_SLR))).collect();
    records.extend(real);
    let (a, stats) = assess(EC2_MASS_LAUNCH, &records);
    assert!(
        keys(&a.flagged).contains(&role_arn("ci-deployer")),
        "flagged {:?}, excluded {:?}, duplicates {}, conflicting {}",
        keys(&a.flagged),
        keys(&a.excluded),
        stats.duplicates,
        stats.conflicting
    );
}

/// Finding 1, other side. The same forgery naming an innocent role of the account: the
/// innocent role must not be flagged for calls it never made.
#[test]
fn rvd_forged_session_issuer_read_first_never_flags_an_innocent_role() {
    let real = Burst::new(role("ci-deployer", "gh-run-1", "ASIAEXAMPLECIDEPLOY1"), 12, 1, at()).records(&run_instances_template(), 1);
    let mut records: Vec<Value> = real.iter().map(|r| forged_issuer(r, &role_arn("web-frontend"))).collect();
    records.extend(real);
    let (a, _) = assess(EC2_MASS_LAUNCH, &records);
    assert!(!keys(&a.flagged).contains(&role_arn("web-frontend")), "flagged {:?}", keys(&a.flagged));
    assert!(keys(&a.flagged).contains(&role_arn("ci-deployer")), "flagged {:?}", keys(&a.flagged));
}

/// The `userIdentity` of a `GetFederationToken` session named `name`, issued by IAM user
/// `issuer` (the shape of DataDog stratus-red-team's `aws.persistence.sts-federation-token`).
fn federated(name: &str, issuer: &str, key: &str) -> Value {
    json!({
        "type": "FederatedUser",
        "principalId": format!("{ACCOUNT}:{name}"),
        "arn": format!("arn:aws:sts::{ACCOUNT}:federated-user/{name}"),
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "attributes": {"creationDate": "2026-03-02T08:59:00Z", "mfaAuthenticated": "false"},
            "sessionIssuer": {"accountId": ACCOUNT, "arn": format!("arn:aws:iam::{ACCOUNT}:user/{issuer}"),
                "principalId": "AIDAEXAMPLEBOBBOB001", "type": "IAMUser", "userName": issuer},
            "webIdFederationData": {}
        }
    })
}

/// Finding 2. GIVEN IAM user bob's stolen key, AND six `GetFederationToken` sessions it mints
/// (names `f0`..`f5`, each chosen freely), each launching 9 instances (three calls of three)
/// within the same 5 minutes: 54 instances by one user, WHEN judged, THEN someone is flagged.
/// Today each federated name is its own principal with 9, under every horizon.
#[test]
fn rvd_federation_tokens_do_not_split_one_users_burst() {
    let t = run_instances_template();
    let mut records = Vec::new();
    for i in 0..6u32 {
        let start = at() + chrono::Duration::seconds(i64::from(i) * 20);
        let b = Burst::new(Actor::IamUser { account: ACCOUNT.into(), name: "bob".into(), key: "AKIAEXAMPLEBOBBOB001".into() }, 3, 3, start);
        for mut r in b.records(&t, 100 + i) {
            r["userIdentity"] = federated(&format!("f{i}"), "bob", &format!("ASIAEXAMPLEFEDTOKEN{i}"));
            records.push(r);
        }
    }
    let (a, stats) = assess(EC2_MASS_LAUNCH, &records);
    assert_eq!(stats.matched, 18);
    assert!(
        !a.flagged.is_empty(),
        "54 instances in 2 min, nobody flagged; below: {:?}",
        a.below.iter().map(|p| p.principal.key()).collect::<Vec<_>>()
    );
}

proptest::proptest! {
    /// Finding 2, every arrangement: whatever names an IAM user gives its federation tokens (and
    /// in whatever order they are read), each token's calls classify to one principal, the
    /// issuer's; an issuer in another account groups nothing.
    #[test]
    fn rvd_no_arrangement_of_federation_names_splits_one_issuers_calls(
        names in proptest::collection::vec("[A-Za-z0-9=,.@_-]{2,32}", 1..12),
    ) {
        let keys: std::collections::BTreeSet<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let r = json!({"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "userIdentity": federated(n, "bob", &format!("ASIAEXAMPLEFED{i:06}"))}).to_string();
                launchguard_core::principal::classify(launchguard_core::record::parse_record(&r).unwrap().user_identity.as_ref()).0.key()
            })
            .collect();
        let bob = format!("federated-by:arn:aws:iam::{ACCOUNT}:user/bob");
        proptest::prop_assert_eq!(keys.into_iter().collect::<Vec<_>>(), vec![bob]);
        let mut foreign = federated(&names[0], "bob", "ASIAEXAMPLEFED999999");
        foreign["sessionContext"]["sessionIssuer"]["arn"] = json!("arn:aws:iam::999999999999:user/bob");
        let r = json!({"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "userIdentity": foreign}).to_string();
        let p = launchguard_core::principal::classify(launchguard_core::record::parse_record(&r).unwrap().user_identity.as_ref()).0;
        proptest::prop_assert_eq!(p.key(), format!("arn:aws:sts::{ACCOUNT}:federated-user/{}", names[0]));
    }
}

/// Finding 3. GIVEN nine successful launches whose request and response CloudTrail omitted
/// (`{"omitted": true}`: a `TagSpecifications` over its size limit, and the response of hundreds
/// of instances), within 63 s, WHEN judged, THEN the caller is flagged: what the calls launched
/// is not known and may be anything (the instances metric counts each as every threshold).
/// Today each counts as one instance: nine, under the 10-in-5-minutes horizon.
#[test]
fn rvd_launches_of_unknown_size_are_not_counted_as_one_instance() {
    let b =
        Burst::new(Actor::IamUser { account: ACCOUNT.into(), name: "mallory".into(), key: "AKIAEXAMPLEMALLORY01".into() }, 9, 500, at());
    let records: Vec<Value> = b
        .records(&run_instances_template(), 3)
        .into_iter()
        .map(|mut r| {
            r["requestParameters"] = json!({"omitted": true, "originalSize": 180_000});
            r["responseElements"] = json!({"omitted": true, "originalSize": 1_200_000});
            r
        })
        .collect();
    let (a, stats) = assess(EC2_MASS_LAUNCH, &records);
    assert_eq!(stats.uncounted, 9);
    assert!(!a.flagged.is_empty(), "nine launches of unknown size, nobody flagged");
}

/// Finding 4. GIVEN a role session whose 50 instances were launched through a service that
/// acts with the caller's own credentials (forward access sessions: `invokedBy` is the service,
/// the identity is the caller's role session), WHEN judged with the defaults, THEN the role is
/// flagged. Today every such call counts for nothing and the role is only "excluded".
#[test]
fn rvd_a_roles_launches_through_a_forward_access_service_are_its_own() {
    let b = Burst::new(role("ops-admin", "mallory", "ASIAEXAMPLEOPSADMIN1"), 5, 10, at());
    let records: Vec<Value> = b
        .records(&run_instances_template(), 4)
        .into_iter()
        .map(|mut r| {
            r["userIdentity"]["invokedBy"] = json!("ssm.amazonaws.com");
            r["sourceIPAddress"] = json!("ssm.amazonaws.com");
            r
        })
        .collect();
    let (a, _) = assess(EC2_MASS_LAUNCH, &records);
    assert!(keys(&a.flagged).contains(&role_arn("ops-admin")), "flagged {:?}, excluded {:?}", keys(&a.flagged), keys(&a.excluded));
}

/// Finding 5. GIVEN IAM user mallory's `CreateAutoScalingGroup` with a desired capacity of 500,
/// AND the 50 `RunInstances` of 10 that Auto Scaling's service-linked role then makes, WHEN every
/// bundled rule judges the records, THEN mallory (or some principal that is not AWS itself) is
/// flagged. Before the launch routes (seen failing first: flagged nothing), no rule read `CreateAutoScalingGroup` (nor `CreateFleet`,
/// `RequestSpotInstances`, `RequestSpotFleet`), a rule may not count instances of any event but
/// `RunInstances`, and the launches are AWS's own: excluded.
#[test]
fn rvd_a_launch_through_auto_scaling_flags_its_caller() {
    let mut records = vec![json!({
        "eventVersion": "1.08", "eventTime": "2026-03-02T08:59:50Z", "eventSource": "autoscaling.amazonaws.com",
        "eventName": "CreateAutoScalingGroup", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.15.0", "eventID": "5c1f0e4e-0000-4000-8000-00000000a5a5", "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEMALLORY01", "arn": format!("arn:aws:iam::{ACCOUNT}:user/mallory"),
            "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLEMALLORY01", "userName": "mallory"},
        "requestParameters": {"autoScalingGroupName": "miner", "minSize": 500, "maxSize": 500, "desiredCapacity": 500,
            "launchTemplate": {"launchTemplateId": "lt-0123456789abcdef0", "version": "$Latest"}, "availabilityZones": ["us-east-1a"]},
        "responseElements": null
    })];
    records.extend(Burst::new(Actor::AutoScaling { account: ACCOUNT.into() }, 50, 10, at()).records(&run_instances_template(), 5));
    let set = RuleSet::bundled().unwrap();
    let mut flagged: Vec<Principal> = Vec::new();
    for rule in &set.rules {
        flagged.extend(assess(&rule.id, &records).0.flagged.into_iter().map(|f| f.principal));
    }
    assert!(
        flagged.iter().any(|p| !p.is_aws_service()),
        "500 instances through an Auto Scaling group; flagged: {:?}",
        flagged.iter().map(Principal::label).collect::<Vec<_>>()
    );
}

/// Finding 6. GIVEN user bob's 10 instances in 63 s, the first five recorded with an incomplete
/// `userIdentity` (no type, ARN or name; bob's access key) and the last five complete, WHEN read
/// in time order (as Insights sorts them), THEN bob is flagged, as when read in the other order.
/// Today an incomplete identity joins its key's owner only if the owner was read first, so the
/// same records split 5 + 5 in time order.
#[test]
fn rvd_a_key_owner_read_after_its_incomplete_records_still_gets_them() {
    let bob = Actor::IamUser { account: ACCOUNT.into(), name: "bob".into(), key: "AKIAEXAMPLEBOBBOB001".into() };
    let mut records = Burst::new(bob, 10, 1, at()).records(&run_instances_template(), 6);
    for r in records.iter_mut().take(5) {
        r["userIdentity"] = json!({"accessKeyId": "AKIAEXAMPLEBOBBOB001", "accountId": ACCOUNT});
    }
    let mut reversed = records.clone();
    reversed.reverse();
    let (later, _) = assess(EC2_MASS_LAUNCH, &reversed);
    let (in_order, _) = assess(EC2_MASS_LAUNCH, &records);
    let bob_arn = format!("arn:aws:iam::{ACCOUNT}:user/bob");
    assert!(keys(&later.flagged).contains(&bob_arn), "owner read first: {:?}", keys(&later.flagged));
    assert!(keys(&in_order.flagged).contains(&bob_arn), "time order: flagged {:?}", keys(&in_order.flagged));
}

/// The principals of an assessment, each with its verdict, calls and instances requested.
fn verdicts(a: &Assessment) -> std::collections::BTreeMap<String, (&'static str, u64, u64)> {
    let row =
        |p: &Principal, act: &launchguard_core::aggregate::Activity, v: &'static str| (p.key(), (v, act.calls, act.instances_requested));
    a.flagged
        .iter()
        .map(|f| row(&f.principal, &f.activity, "flagged"))
        .chain(a.excluded.iter().map(|f| row(&f.principal, &f.activity, "excluded")))
        .chain(a.below.iter().map(|p| row(&p.principal, &p.activity, "below")))
        .collect()
}

/// The actors of finding 6's property: two users, a role, and an access key no complete
/// identity ever uses (its calls are an unknown principal's).
fn actor6(i: usize) -> (Actor, &'static str) {
    match i {
        0 => (Actor::IamUser { account: ACCOUNT.into(), name: "bob".into(), key: "AKIAEXAMPLEBOBBOB001".into() }, "AKIAEXAMPLEBOBBOB001"),
        1 => (Actor::IamUser { account: ACCOUNT.into(), name: "alice".into(), key: "AKIAEXAMPLEALICE0001".into() }, "AKIAEXAMPLEALICE0001"),
        2 => (role("ci", "run", "ASIAEXAMPLECIROLE001"), "ASIAEXAMPLECIROLE001"),
        _ => {
            (Actor::IamUser { account: ACCOUNT.into(), name: "nobody".into(), key: "AKIAEXAMPLENOBODY001".into() }, "AKIAEXAMPLENOBODY001")
        }
    }
}

proptest::proptest! {
    /// Finding 6, every order: the same records (complete identities of two users and a role,
    /// and incomplete ones carrying only one of their access keys, or a key no one uses), read
    /// in any order, give every principal the same verdict, calls and instances; and every
    /// incomplete record is counted for its key's owner whenever the owner is seen at all.
    #[test]
    fn rvd_the_order_records_are_read_in_decides_no_verdict(
        (calls, order) in proptest::collection::vec((0usize..4, proptest::bool::ANY, 0i64..900, 1u32..5), 1..40)
            .prop_flat_map(|calls| {
                let n = calls.len();
                (proptest::strategy::Just(calls), proptest::strategy::Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
            }),
    ) {
        let t = run_instances_template();
        let records: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, &(who, complete, offset, count))| {
                let (actor, key) = actor6(who);
                let b = Burst::new(actor, 1, count, at() + chrono::Duration::seconds(offset));
                let mut r = b.records(&t, 600 + u32::try_from(i).unwrap()).remove(0);
                if !complete || who == 3 {
                    r["userIdentity"] = json!({"accessKeyId": key, "accountId": ACCOUNT});
                }
                r
            })
            .collect();
        let mut in_time = records.clone();
        in_time.sort_by_key(|r| r["eventTime"].as_str().unwrap().to_owned());
        let shuffled: Vec<Value> = order.iter().map(|&i| records[i].clone()).collect();
        let (a, _) = assess(EC2_MASS_LAUNCH, &shuffled);
        let (b, _) = assess(EC2_MASS_LAUNCH, &in_time);
        let (va, vb) = (verdicts(&a), verdicts(&b));
        proptest::prop_assert_eq!(&va, &vb);
        for who in 0..3 {
            let owner_seen = calls.iter().any(|&(w, complete, ..)| w == who && complete);
            let mine = calls.iter().filter(|&&(w, ..)| w == who).count() as u64;
            let (actor, _) = actor6(who);
            let key = match actor {
                Actor::IamUser { name, .. } => format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
                _ => role_arn("ci"),
            };
            if owner_seen {
                proptest::prop_assert_eq!(va.get(&key).map(|v| v.1), Some(mine), "{} {:?}", key, va);
            }
        }
    }
}

// ---- attacks that held (kept as regression tests; they pass today) ----

/// A role's burst split over twelve session names (each under every threshold) is one role.
#[test]
fn rvd_held_a_roles_burst_split_over_session_names_is_one_principal() {
    let t = run_instances_template();
    let mut records = Vec::new();
    for i in 0..12u32 {
        let start = at() + chrono::Duration::seconds(i64::from(i) * 10);
        let b = Burst::new(role("batch", &format!("worker-{i}"), &format!("ASIAEXAMPLEBATCH{i:04}")), 1, 1, start);
        records.extend(b.records(&t, 200 + i));
    }
    let (a, _) = assess(EC2_MASS_LAUNCH, &records);
    assert_eq!(keys(&a.flagged), vec![role_arn("batch")]);
    assert_eq!(a.flagged[0].activity.session_names.len(), 12);
}

/// A forged copy with the real eventID that changes the caller's ARN, time or count is a
/// conflict: both are counted, the read is incomplete, and the real caller is still flagged.
#[test]
fn rvd_held_a_forged_copy_that_changes_the_arn_or_count_is_counted_as_a_conflict() {
    let real = Burst::new(role("ci-deployer", "gh-run-1", "ASIAEXAMPLECIDEPLOY1"), 12, 1, at()).records(&run_instances_template(), 7);
    let forges: [fn(&mut Value); 3] = [
        |r| r["userIdentity"]["arn"] = json!(format!("arn:aws:sts::{ACCOUNT}:assumed-role/web-frontend/x")),
        |r| r["awsRegion"] = json!("eu-west-1"),
        |r| r["eventTime"] = json!("2020-01-01T00:00:00Z"),
    ];
    for forge in forges {
        let mut records: Vec<Value> = real
            .iter()
            .map(|r| {
                let mut f = r.clone();
                forge(&mut f);
                f
            })
            .collect();
        records.extend(real.iter().cloned());
        let (a, stats) = assess(EC2_MASS_LAUNCH, &records);
        assert_eq!(stats.conflicting, 12);
        assert!(keys(&a.flagged).contains(&role_arn("ci-deployer")), "{:?}", keys(&a.flagged));
    }
}

/// Dry runs of any size count for nothing; failed calls count what they asked for.
#[test]
fn rvd_held_dry_runs_flag_nobody_and_failed_launches_still_count() {
    let user = |n: &str| Actor::IamUser { account: ACCOUNT.into(), name: n.into(), key: format!("AKIAEXAMPLE{:0>9}", n.to_uppercase()) };
    let mut dry = Burst::new(user("tester"), 20, 500, at());
    dry.error_code = Some("Client.DryRunOperation".into());
    let mut failed = Burst::new(user("mallory"), 4, 5, at());
    failed.error_code = Some("Client.VcpuLimitExceeded".into());
    let t = run_instances_template();
    let mut records = dry.records(&t, 8);
    records.extend(failed.records(&t, 9));
    let (a, _) = assess(EC2_MASS_LAUNCH, &records);
    assert_eq!(keys(&a.flagged), vec![format!("arn:aws:iam::{ACCOUNT}:user/mallory")]);
}

/// One access key recorded under two users (a hostile or broken input): never merged, so
/// neither user is flagged for the other's calls, and the conflict is reported.
#[test]
fn rvd_held_a_key_seen_under_two_users_never_merges_them() {
    let t = run_instances_template();
    let user = |n: &str| Actor::IamUser { account: ACCOUNT.into(), name: n.into(), key: "AKIAEXAMPLESHARED001".into() };
    let mut records = Burst::new(user("alice"), 6, 1, at()).records(&t, 30);
    records.extend(Burst::new(user("bob"), 6, 1, at()).records(&t, 31));
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(EC2_MASS_LAUNCH).unwrap();
    let th = rule.thresholds(false);
    let mut s = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
    for r in &records {
        s.push_message(&r.to_string());
    }
    assert_eq!(s.aggregate.totals().key_conflicts.len(), 1);
    let a = s.aggregate.assess(&rule.horizons_with(&th), &th);
    assert!(a.flagged.is_empty(), "{:?}", keys(&a.flagged));
}

/// The same role name in two accounts is two principals: 6 + 6 instances flag neither.
#[test]
fn rvd_held_one_role_name_in_two_accounts_is_two_principals() {
    let t = run_instances_template();
    let deploy = |acct: &str| Actor::AssumedRole {
        account: acct.into(),
        role: "deploy".into(),
        session: "s".into(),
        key: format!("ASIAEXAMPLE{acct:0>9}"),
    };
    let mut records = Burst::new(deploy("111122223333"), 6, 1, at()).records(&t, 32);
    records.extend(Burst::new(deploy("444455556666"), 6, 1, at()).records(&t, 33));
    let (a, _) = assess(EC2_MASS_LAUNCH, &records);
    assert!(a.flagged.is_empty(), "{:?}", keys(&a.flagged));
    assert_eq!(a.below.len(), 2);
}
