//! Issue 32 (review 3, #7) as a property: the lookup budget is shared so that no arrangement of
//! forged records (made-up principals listed anywhere, records forged for the real launcher at
//! any time and count) keeps a real burst from being confirmed within one delivery's budget, and
//! nothing CloudTrail does not hold is ever confirmed. The evidence is the detector's own
//! (`core::burst::Tracker`), CloudTrail is `MemoryTrail`, the confirmation is the dispatcher's.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_aws::trail::MemoryTrail;
use launchguard_core::burst::Tracker;
use launchguard_core::query::EventRule;
use launchguard_core::rules::RuleSet;
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::Thresholds;
use launchguard_core::window::TimeWindow;
use launchguard_responder_dispatcher::confirm::confirm_all;
use launchguard_testkit::{Actor, Burst, messages, run_instances_template};
use proptest::prelude::*;
use serde_json::Value;

const ACCOUNT: &str = "111122223333";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 40, 30).unwrap()
}

fn user(name: &str, key: &str) -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: name.into(), key: key.into() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn forged_records_never_keep_a_real_burst_from_being_confirmed_within_the_budget(
        ghosts in proptest::collection::vec(4u32..9, 0..80),
        crowd in proptest::collection::vec((0i64..540, 1u32..10), 0..150),
        real_at in 0i64..480,
    ) {
        let window = TimeWindow::new(now() - Duration::seconds(600), now()).unwrap();
        let start = window.start;
        let intern = user("intern", "AKIAEXAMPLEINTERN001");
        let real = Burst::new(intern.clone(), 4, 3, start + Duration::seconds(real_at)).records(&run_instances_template(), 1);
        let trail = MemoryTrail::default();
        for r in &real {
            trail.record(r, std::time::Duration::ZERO);
        }
        let mut records: Vec<Value> = real.clone();
        // records forged for the intern itself, anywhere in the window
        for (i, (s, n)) in crowd.iter().enumerate() {
            records.extend(Burst::new(intern.clone(), 1, *n, start + Duration::seconds(*s)).records(&run_instances_template(), 100 + i as u32));
        }
        // made-up principals, each over the threshold on forged records alone
        for (g, calls) in ghosts.iter().enumerate() {
            let who = user(&format!("ghost-{g:03}"), &format!("AKIAEXAMPLEGHOST{g:04}"));
            records.extend(Burst::new(who, *calls, 3, start + Duration::seconds(30)).records(&run_instances_template(), 1000 + g as u32));
        }
        let mut scan = Scanner::with_sink(EventRule::run_instances(), Some(window), Tracker::new());
        for m in messages(&records) {
            scan.push_message(&m);
        }
        let rules = RuleSet::bundled().unwrap();
        let horizons = rules.get("ec2-mass-launch").unwrap().horizons.clone();
        let flagged = scan.aggregate.assess(&horizons, &Thresholds::default()).flagged;
        let refs: Vec<_> = flagged.iter().collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let verdicts = rt.block_on(async {
            // one delivery's confirmation budget: its first 50 s (`ledger::delivery_limits`)
            let until = tokio::time::Instant::now() + std::time::Duration::from_secs(50);
            confirm_all(&refs, &[], &trail, &window, std::time::Duration::from_secs(45), until).await
        });
        for (f, v) in flagged.iter().zip(&verdicts) {
            if f.principal.label() == "IAM user intern" {
                prop_assert!(v.is_ok(), "the real burst went unconfirmed: {:?}", v);
                let keys = &v.as_ref().unwrap().access_keys;
                prop_assert!(keys.iter().all(|k| k == "AKIAEXAMPLEINTERN001"), "{:?}", keys);
            } else {
                prop_assert!(v.is_err(), "{} confirmed on forged records", f.principal.label());
            }
        }
        prop_assert!(flagged.iter().any(|f| f.principal.label() == "IAM user intern"));
    }
}
