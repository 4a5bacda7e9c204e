//! Issues 32 and 23: confirmation judges CloudTrail's own records of the principal, whatever the
//! finding claims. For any arrangement of forged claims (any times, any counts, any number up to
//! what a finding names, ahead of or among the real calls) and of real calls, the principal is
//! confirmed exactly when its real calls in the window cross the horizon ([`judge`], the one
//! window function); and what is proven (keys, instances) comes from its real calls only.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::evidence::{Answer, Confirmation, Evidence, EvidenceEvent, MAX_EVIDENCE, confirm_within, proven_within};
use launchguard_core::principal::classify;
use launchguard_core::record::parse_record;
use launchguard_core::windows::{Horizon, Measure, Point, judge, sort};
use launchguard_testkit::{Actor, Burst, run_instances_template};
use proptest::prelude::*;
use serde_json::Value;

const ACCOUNT: &str = "111122223333";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0).unwrap()
}

fn miner() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "miner".into(), key: "AKIAEXAMPLEMINER0001".into() }
}

fn bystander() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "bystander".into(), key: "AKIAEXAMPLEBYSTAND01".into() }
}

/// One call of `actor` at `t0 + s` seconds launching `n`.
fn call(actor: Actor, s: i64, n: u32, seed: u32) -> Value {
    Burst::new(actor, 1, n, t0() + Duration::seconds(s)).records(&run_instances_template(), seed).remove(0)
}

fn claim_of(r: &Value, n: u64) -> EvidenceEvent {
    EvidenceEvent {
        event_id: r["eventID"].as_str().unwrap().to_owned(),
        event_name: "RunInstances".into(),
        region: r["awsRegion"].as_str().unwrap().to_owned(),
        event_time: DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().with_timezone(&Utc),
        launched: n,
        requested: n,
        failed: false,
    }
}

fn horizon() -> impl Strategy<Value = Horizon> {
    prop_oneof![
        Just(Horizon { measure: Measure::Instances, window_seconds: 300, threshold: 10 }),
        Just(Horizon { measure: Measure::Instances, window_seconds: 3600, threshold: 40 }),
        Just(Horizon { measure: Measure::Calls, window_seconds: 600, threshold: 5 }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn confirmed_exactly_when_the_real_calls_cross_whatever_is_forged(
        real in proptest::collection::vec((0i64..7200, 1u32..5), 0..40),
        forged in proptest::collection::vec((0i64..7200, 1u32..12), 1..120),
        others in proptest::collection::vec((0i64..7200, 1u32..5), 0..20),
        named_real in any::<proptest::sample::Index>(),
        h in horizon(),
    ) {
        let real: Vec<Value> = real.iter().enumerate().map(|(i, (s, n))| call(miner(), *s, *n, 1000 + i as u32)).collect();
        // forged claims: in the log group only, naming the miner (their ids CloudTrail never held)
        let forged: Vec<Value> = forged.iter().enumerate().map(|(i, (s, n))| call(miner(), *s, *n, 5000 + i as u32)).collect();
        // someone else's real calls, in CloudTrail too
        let others: Vec<Value> = others.iter().enumerate().map(|(i, (s, n))| call(bystander(), *s, *n, 9000 + i as u32)).collect();
        let n = |r: &Value| r["requestParameters"]["instancesSet"]["items"][0]["maxCount"].as_u64().unwrap();
        // the finding names the forged records first (up to MAX_EVIDENCE in all), then some real ones
        let mut claims: Vec<EvidenceEvent> = forged.iter().map(|r| claim_of(r, n(r))).collect();
        let k = if real.is_empty() { 0 } else { named_real.index(real.len() + 1) };
        claims.extend(real.iter().take(k).map(|r| claim_of(r, n(r))));
        claims.truncate(MAX_EVIDENCE);
        let ev = Evidence { horizon: h, events: claims, alternatives: Vec::new() };
        // CloudTrail answers: every real record of the window (the lookups by who made the calls
        // and by event id), and nothing for the forged ids
        let mut answers: Vec<Answer> = real.iter().chain(&others)
            .map(|r| Answer { event_id: r["eventID"].as_str().unwrap().to_owned(), record: Some(r.to_string()) })
            .collect();
        answers.extend(forged.iter().map(|r| Answer { event_id: r["eventID"].as_str().unwrap().to_owned(), record: None }));
        let range = (t0().timestamp_millis(), (t0() + Duration::seconds(7200)).timestamp_millis());
        let text = call(miner(), 0, 1, 1).to_string();
        let principal = classify(parse_record(&text).unwrap().user_identity.as_ref()).0;
        let mut points: Vec<Point> = real.iter().map(|r| {
            let c = claim_of(r, n(r));
            Point { t_ms: c.event_time.timestamp_millis(), launched: c.launched, requested: c.requested, failed: false, dry_run: false }
        }).collect();
        sort(&mut points);
        let crosses = !judge(&points, &[h]).is_empty();
        let verdict = confirm_within(&principal, Some(&ev), &answers, Some(range));
        prop_assert_eq!(verdict == Confirmation::Confirmed, crosses, "{:?}", verdict);
        let proof = proven_within(&principal, Some(&ev), &answers, Some(range));
        prop_assert!(proof.access_keys.iter().all(|k| k == "AKIAEXAMPLEMINER0001"), "{:?}", proof.access_keys);
        let real_ids: Vec<&str> = real.iter().flat_map(|r| r["responseElements"]["instancesSet"]["items"].as_array().unwrap())
            .map(|i| i["instanceId"].as_str().unwrap()).collect();
        prop_assert!(proof.launches.iter().all(|l| real_ids.contains(&l.instance_id.as_str())));
    }
}
