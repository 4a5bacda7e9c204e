//! Outside attacks on the stream detector's own state: the table `launchguard-stream` has no
//! resource policy, so any principal with `dynamodb:PutItem`/`UpdateItem` on it (PowerUserAccess)
//! writes the items the detector trusts. Each test writes what such a principal can (the items of
//! the store's own layout, through the store's own requests) and asserts the safe outcome.

use chrono::Duration;
use launchguard_core::stream::{Counts, bucket_start};
use launchguard_stream::handle_batch;
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::store::{CounterStore, EventItem, claim_key};
use serde_json::Value;

use crate::attacks::deployer_series;
use crate::common::{FakeLambda, after, at, batch, bodies, config, deployer, intact, queue};

fn deployer_principal() -> launchguard_core::principal::Principal {
    let set = launchguard_core::rules::RuleSet::bundled().unwrap();
    let rule = set.get(launchguard_core::rules::EC2_MASS_LAUNCH).unwrap();
    let v: Value = serde_json::from_str(&bodies(deployer(), 1, 4, 1)[0]).unwrap();
    launchguard_core::stream::hit(&rule.event, &v["detail"].to_string(), false).unwrap().principal
}

/// atk finding 4, seen failing on 68f5cfb (the burst was "already claimed" by the forged claim):
/// a claim reaching past the longest horizon (+ 5 minutes of skew) from now is none the stream
/// wrote, and holds nothing. A forged claim inside that bound, marked proven, would still hold
/// for up to the longest horizon: the table's resource policy (deployed; evaluated by
/// `e2e/test_iam_simulate.py::test_only_the_stream_role_writes_the_stream_table`) lets no one
/// but the stream's role write it.
#[tokio::test]
async fn atk4_a_claim_the_launcher_wrote_itself_does_not_silence_its_burst() {
    // GIVEN ci-deployer, about to burst, that first writes its own incident claim (PutItem
    // `c#<its ARN>`, marked sent and proven, for ten years) into the stream's table
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let claim = claim_key(&deployer_principal());
    let now_ms = at().timestamp_millis();
    let ten_years = now_ms + Duration::days(3650).num_milliseconds();
    store.claim(&claim, "lg-0000000000000000", ten_years, now_ms - 1000, true).await.unwrap();
    store.mark_sent(&claim, "lg-0000000000000000").await.unwrap();
    // WHEN it launches 3 x 4 instances in 14 s (threshold 10 in 5 min)
    let (resp, report) = handle_batch(&batch(&bodies(deployer(), 3, 4, 0x4a)), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    // THEN the stream still sends its finding: a claim no finding of the stream's made holds nothing
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(lambda.findings().len(), 1, "silenced by a forged claim: {report:?}");
    // AND its claim replaced the forged one: the next burst of the incident sends nothing more
    let (_, report) = handle_batch(&batch(&bodies(deployer(), 3, 4, 0x4c)), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert_eq!(lambda.findings().len(), 1, "{report:?}");
}

#[tokio::test]
async fn atk4_a_claim_of_the_longest_horizon_from_now_still_holds() {
    // GIVEN a claim the stream made a moment ago, sent and proven (until now + the longest horizon)
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let claim = claim_key(&deployer_principal());
    let now_ms = after(3).timestamp_millis();
    let until = now_ms + cfg.longest_ms();
    store.claim(&claim, "lg-0000000000000001", until, now_ms, true).await.unwrap();
    store.mark_sent(&claim, "lg-0000000000000001").await.unwrap();
    // WHEN a burst crosses
    let (_, report) = handle_batch(&batch(&bodies(deployer(), 3, 4, 0x4d)), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    // THEN the claim holds: no second finding (the bound leaves the stream's own claims alone)
    assert!(lambda.findings().is_empty(), "{report:?}");
}

#[tokio::test]
async fn atk_held_bucket_sums_written_by_someone_else_make_no_finding() {
    // GIVEN another writer of the table that adds 1,000 instances into ci-deployer's current
    // bucket (UpdateItem ADD on `b#...`, no event item)
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let t_ms = at().timestamp_millis();
    let fake = Counts { launched: 1000, requested: 1000, calls: 1, failed: 0 };
    // the store's record writes an event item and adds to its bucket; the bucket-only write is
    // that, with an event id and time no real event has and a detail that is no record
    let item = EventItem {
        series: deployer_series(),
        event_id: "forged".into(),
        t_ms: t_ms - 1,
        bucket_ms: bucket_start(t_ms, 10_000),
        counts: fake,
        detail: "{}".into(),
        ttl: t_ms / 1000 + 90_000,
        proven: true,
    };
    store.record(&item).await.unwrap();
    // WHEN ci-deployer launches one instance, really
    let (resp, _) = handle_batch(&batch(&bodies(deployer(), 1, 1, 0x4b)), &cfg, &store, &lambda, queue(), &intact(), after(1)).await;
    // THEN the buckets cross, the exact events do not: no finding
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert!(lambda.findings().is_empty());
}

#[test]
fn a_carried_record_counts_as_the_record_aws_delivered() {
    // GIVEN every RunInstances record of the invictus fixtures (real CloudTrail), and each of
    // them as the 30-instance call and the tagged call of atk finding 3
    let set = launchguard_core::rules::RuleSet::bundled().unwrap();
    let rule = set.get(launchguard_core::rules::EC2_MASS_LAUNCH).unwrap();
    let mut records: Vec<Value> =
        launchguard_testkit::invictus_background().into_iter().filter(|r| r["eventName"] == "RunInstances").collect();
    assert!(!records.is_empty());
    let mut big = launchguard_testkit::Burst::new(deployer(), 1, 30, at()).records(&launchguard_testkit::run_instances_template(), 0x4c);
    big[0]["requestParameters"]["tagSpecificationSet"] =
        serde_json::json!({"items": [{"resourceType": "instance", "tags": [{"key": "k".repeat(128), "value": "v".repeat(256)}]}]});
    records.extend(big);
    for r in &records {
        let text = r.to_string();
        // WHEN carried in a finding
        let carried = launchguard_stream::event::carried(&text).unwrap();
        // THEN it is never larger, and counts exactly as the record did: the same principal,
        // time, counts, event id, region and launched instance ids
        assert!(carried.len() <= text.len());
        assert_eq!(
            launchguard_core::stream::hit(&rule.event, &carried, false),
            launchguard_core::stream::hit(&rule.event, &text, false),
            "{text}"
        );
        let c: Value = serde_json::from_str(&carried).unwrap();
        for field in ["eventID", "awsRegion", "eventTime", "userIdentity", "recipientAccountId", "errorCode"] {
            assert_eq!(c[field], r[field], "{field}");
        }
        let ids = |v: &Value| -> Vec<Value> {
            v["responseElements"]["instancesSet"]["items"]
                .as_array()
                .map(|a| a.iter().map(|i| i["instanceId"].clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(ids(&c), ids(r));
    }
    // AND the 30-instance call fits in a finding now
    let last = launchguard_stream::event::carried(&records.last().unwrap().to_string()).unwrap();
    assert!(last.len() < 16 * 1024, "{}", last.len());
}
