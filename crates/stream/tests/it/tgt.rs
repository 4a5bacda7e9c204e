//! Task tgt (issues 32 and 26): what a stream rule can be made to deliver, and what the exact read
//! of a crossing reads.

use chrono::Duration;
use launchguard_core::stream_plan::{SeenRule, SeenTarget};
use launchguard_stream::event::RULES_NOTE;
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_health::MemoryHealth;
use launchguard_stream::memory_rules::MemoryRules;
use launchguard_stream::rules::PAGE_SUBJECT;
use launchguard_stream::store::{CounterStore, EventItem, series_key};
use launchguard_stream::{Config, Guard, Outcome, handle_batch};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};

use crate::common::{ACCOUNT, FakeLambda, QUEUE_ARN, QUEUE_URL, REGION, after, at, batch, bodies, config, intact, queue};

fn on_call() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "oncall-admin".into(), key: "AKIAEXAMPLEONCALL001".into() }
}

/// The rules of [`config`] as rendered, `name` changed by `f`.
fn tampered(name: &str, f: impl FnOnce(&mut SeenRule)) -> Guard<MemoryRules, MemoryHealth> {
    let g = intact();
    g.rules.change(name, f);
    g
}

/// One burst "by" the on-call admin, written by whatever a rewritten rule writes and delivered by
/// the genuine queue, handled with `guard`: the findings sent.
async fn through(guard: &Guard<MemoryRules, MemoryHealth>, seed: u32) -> Vec<launchguard_core::contract::Finding> {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let written = bodies(on_call(), 3, 4, seed);
    let (resp, report) = handle_batch(&batch(&written), &cfg, &store, &lambda, queue(), guard, after(3)).await;
    // the genuine rule sent them (the queue policy's aws:SourceArn holds) and the genuine queue
    // delivered them (its receipt handles hold): the queue's proof passes
    assert!(resp.batch_item_failures.is_empty() && report.unproven.is_empty(), "{report:?}");
    lambda.findings()
}

#[tokio::test]
async fn tgt1_records_a_rewritten_rule_delivers_through_the_queue_are_not_vouched_for() {
    // GIVEN someone with events:PutTargets on launchguard-stream-ec2 (no SCP in this account) who
    // gives the genuine rule's queue target an InputTransformer writing, for any event it matches,
    // a RunInstances envelope of `source: aws.ec2` "by" the on-call admin
    // (seen failing first on 68f5cfb: "vouched for 3 records a rewritten rule wrote")
    let transformer = r#"{"source":"aws.ec2","detail-type":"AWS API Call via CloudTrail","detail":<forged>}"#;
    let guard = tampered("launchguard-stream-ec2", |r| r.targets[0].input_transformer = Some(transformer.into()));
    // WHEN the stream handles what the queue delivered
    let f = through(&guard, 0x7a1).await;
    // THEN the burst is counted and found, but no record is carried as AWS's, and the finding says why
    assert_eq!(f.len(), 1);
    assert!(
        f[0].principals[0].delivered_by_aws.is_empty(),
        "vouched for {} records a rewritten rule wrote",
        f[0].principals[0].delivered_by_aws.len()
    );
    let trigger = &f[0].trigger.as_ref().unwrap().name;
    assert!(trigger.ends_with(RULES_NOTE) && trigger.len() <= 256, "{trigger}");
    // AND launchguard's health topic is paged once, naming the rule, what differs and the finding
    let pages = guard.health.pages();
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!(pages[0].0, PAGE_SUBJECT);
    let m = &pages[0].1;
    assert!(m.contains("launchguard-stream-ec2: target stream-queue rewrites the event with an InputTransformer"), "{m}");
    assert!(m.contains(&f[0].finding_id) && m.contains("oncall-admin"), "{m}");
}

#[tokio::test]
async fn tgt1_every_way_a_rule_can_deliver_what_aws_never_sent_vouches_for_nothing_and_pages() {
    let cfg = config();
    let ec2 = cfg.stream_rules.iter().find(|r| r.event_source == "ec2.amazonaws.com").unwrap().clone();
    let mut widened = ec2.pattern();
    // a custom source anyone may PutEvents
    widened["source"] = serde_json::json!(["aws.ec2", "acme.forged"]);
    let widened = widened.to_string();
    let cases: Vec<(&str, Guard<MemoryRules, MemoryHealth>, &str)> = vec![
        ("a constant Input", tampered("launchguard-stream-ec2", |r| r.targets[0].input = Some("{}".into())), "constant Input"),
        ("an InputPath", tampered("launchguard-stream-ec2", |r| r.targets[0].input_path = Some("$.detail".into())), "InputPath $.detail"),
        ("a pattern widened to a custom source", tampered("launchguard-stream-ec2", |r| r.pattern = Some(widened)), "acme.forged"),
        (
            "a second target",
            tampered("launchguard-stream-ec2", |r| {
                r.targets.push(SeenTarget {
                    id: "t2".into(),
                    arn: "arn:aws:sqs:us-east-1:444455556666:theirs".into(),
                    ..SeenTarget::default()
                })
            }),
            "2 targets",
        ),
        (
            "the autoscaling rule rewritten",
            tampered("launchguard-stream-autoscaling", |r| r.targets[0].input = Some("{}".into())),
            "launchguard-stream-autoscaling",
        ),
        ("a schedule", tampered("launchguard-stream-iam", |r| r.schedule = Some("rate(1 minute)".into())), "schedule"),
        (
            "a rule deleted",
            {
                let g = intact();
                g.rules.delete("launchguard-stream-iam");
                g
            },
            "launchguard-stream-iam: no such rule",
        ),
        (
            "a rule that cannot be read",
            {
                let g = intact();
                g.rules.outages.store(1, std::sync::atomic::Ordering::SeqCst);
                g
            },
            "could not be read",
        ),
    ];
    for (i, (what, guard, named)) in cases.iter().enumerate() {
        let f = through(guard, 0x7b0 + u32::try_from(i).unwrap()).await;
        assert_eq!(f.len(), 1, "{what}");
        assert!(f[0].principals[0].delivered_by_aws.is_empty(), "{what}: vouched for");
        let pages = guard.health.pages();
        assert_eq!(pages.len(), 1, "{what}: {pages:?}");
        assert!(pages[0].1.contains(named), "{what}: {}", pages[0].1);
    }
}

#[tokio::test]
async fn tgt1_rules_as_rendered_vouch_and_page_no_one_and_are_read_only_at_a_crossing() {
    // GIVEN the rules as make deploy leaves them
    let guard = intact();
    let cfg = config();
    assert_eq!(cfg.stream_rules.len(), 4, "ec2, autoscaling, eks, iam (us-east-1)");
    // WHEN a burst below the thresholds and then one over them are handled
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let (resp, _) = handle_batch(&batch(&bodies(on_call(), 1, 1, 0x7c0)), &cfg, &store, &lambda, queue(), &guard, after(1)).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(guard.rules.reads.load(std::sync::atomic::Ordering::SeqCst), 0, "read only when a finding would vouch");
    let f = through(&guard, 0x7c1).await;
    // THEN the records are carried as AWS's, each rule was read once, and no one is paged
    assert_eq!(f[0].principals[0].delivered_by_aws.len(), 3);
    assert!(!f[0].trigger.as_ref().unwrap().name.contains(RULES_NOTE));
    assert_eq!(guard.rules.reads.load(std::sync::atomic::Ordering::SeqCst), cfg.stream_rules.len() as u64);
    assert!(guard.health.pages().is_empty());
}

/// The configuration with the bundled rules, the launch rule's horizons replaced: 100 instances
/// in a minute, or a million in a day (a custom rule with a high long threshold).
fn high_threshold_config() -> Config {
    let mut rules: serde_json::Value = serde_json::from_str(launchguard_core::rules::BUNDLED).unwrap();
    for r in rules["rules"].as_array_mut().unwrap() {
        if r["id"] == "ec2-mass-launch" {
            r["horizons"] =
                serde_json::json!([{"window_seconds": 60, "threshold": 100}, {"window_seconds": 86400, "threshold": 1_000_000}]);
        }
    }
    let text = rules.to_string();
    let vars = [
        ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher".to_owned()),
        ("LG_STREAM_TABLE", "launchguard-stream".to_owned()),
        ("LG_STREAM_ACCOUNTS", ACCOUNT.to_owned()),
        ("LG_STREAM_REGIONS", REGION.to_owned()),
        ("LG_STREAM_QUEUE_ARN", QUEUE_ARN.to_owned()),
        ("LG_STREAM_QUEUE_URL", QUEUE_URL.to_owned()),
        ("LG_HEALTH_TOPIC_ARN", "arn:aws:sns:us-east-1:218007301253:launchguard-health".to_owned()),
        ("LG_RULES", text),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    Config::from_env(&env).unwrap()
}

#[tokio::test]
async fn tgt3_ten_thousand_old_launches_in_the_horizon_do_not_blind_the_crossing_read() {
    // GIVEN a custom rule (100 instances a minute, a million a day) and a principal whose last
    // 19 hours hold 10,000 launches of one instance, 7 s apart (about 9 a minute: below), counted
    let cfg = high_threshold_config();
    let rule = &cfg.rules.iter().find(|r| r.rule.id == "ec2-mass-launch").unwrap().rule;
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let start = at() - Duration::seconds(7 * 10_000 + 60);
    for r in Burst::new(on_call(), 10_000, 1, start).records(&run_instances_template(), 0x7a3) {
        let detail = r.to_string();
        let hit = launchguard_core::stream::hit(&rule.event, &detail, false).unwrap();
        let item = EventItem {
            series: series_key(&rule.id, &hit.principal),
            event_id: r["eventID"].as_str().unwrap().to_owned(),
            t_ms: hit.t_ms,
            bucket_ms: launchguard_core::stream::bucket_start(hit.t_ms, 10_000),
            counts: hit.counts,
            detail,
            ttl: i64::MAX / 2,
            proven: true,
        };
        store.record(&item).await.unwrap();
    }
    // WHEN it launches 3 x 40 instances in 14 s (120 in a minute: over)
    let burst: Vec<String> = Burst::new(on_call(), 3, 40, at())
        .records(&run_instances_template(), 0x7a4)
        .iter()
        .map(|r| eventbridge_event(r, ACCOUNT, REGION).to_string())
        .collect();
    let guard = launchguard_stream::memory_rules::intact(&cfg);
    let (resp, report) = handle_batch(&batch(&burst), &cfg, &store, &lambda, queue(), &guard, after(3)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    // THEN the crossing is read and found: one finding for the on-call admin
    // (seen failing first on 68f5cfb: "blinded by old events: [Counted, Counted, BelowExactly]")
    let f = lambda.findings();
    assert_eq!(f.len(), 1, "blinded by old events: {:?}", report.outcomes().collect::<Vec<&Outcome>>());
    assert!(f[0].principals[0].principal.key().ends_with(":user/oncall-admin"), "{:?}", f[0].principals[0].principal);
    // AND it says its read was not whole (10,003 events in the longest horizon; the newest 10,000 read)
    assert!(!f[0].window_complete);
    assert!(f[0].incomplete_reason.as_deref().unwrap_or_default().contains("more than 10000 events"), "{:?}", f[0].incomplete_reason);
}
