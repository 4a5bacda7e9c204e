//! Property tests: no input makes the parsers panic.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::alarm::{parse_event_bytes, parse_sns_message};
use launchguard_core::contract::{DispatcherInput, ResponseRequest, decode_payload};
use launchguard_core::ids::{IamArn, glob_match};
use launchguard_core::launch::launch_facts;
use launchguard_core::principal::classify;
use launchguard_core::record::parse_document;
use launchguard_core::time::parse_timestamp;
use proptest::prelude::*;

const SEED_RECORD: &str = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2023-07-10T12:00:00Z","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/R/s","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE000000001","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/R","userName":"R"}}},"requestParameters":{"instancesSet":{"items":[{"maxCount":3}]}},"responseElements":{"instancesSet":{"items":[{"instanceId":"i-1"}]}}}"#;

fn mutate(base: &str, cut: usize, insert: &str) -> String {
    let mut s = base.to_owned();
    let mut at = cut.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    s.insert_str(at, insert);
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn record_documents_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(s) = std::str::from_utf8(&bytes)
            && let Ok(b) = parse_document(s) {
                for r in &b.records {
                    let _ = launch_facts(r);
                    let _ = classify(r.user_identity.as_ref());
                    let _ = r.time_ms();
                }
            }
    }

    #[test]
    fn mutated_records_never_panic(cut in 0usize..700, insert in "[\\[\\]{}\":,0-9a-zA-Z\\\\ ]{0,12}") {
        let s = mutate(SEED_RECORD, cut, &insert);
        if let Ok(b) = parse_document(&s) {
            for r in &b.records {
                let _ = launch_facts(r);
                let _ = classify(r.user_identity.as_ref());
            }
        }
        // truncation at every point
        let t = &SEED_RECORD[..cut.min(SEED_RECORD.len())];
        let _ = parse_document(t);
    }

    #[test]
    fn alarm_inputs_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), msg in "\\PC{0,200}") {
        let _ = parse_event_bytes(&bytes);
        let _ = parse_sns_message(&msg);
        let _ = parse_timestamp(&msg);
    }

    #[test]
    fn payload_inputs_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(v) = decode_payload(&bytes, "x") {
            let _ = DispatcherInput::parse(v.clone());
            let _ = ResponseRequest::parse(v);
        }
    }

    #[test]
    fn arns_and_globs_never_panic(s in "\\PC{0,120}", p in "[a-z:*/0-9]{0,40}") {
        let _ = IamArn::parse(&s);
        let _ = glob_match(&p, &s);
    }

    #[test]
    fn glob_star_matches_any_infix(prefix in "[a-z:/]{0,10}", mid in "[a-z:/]{0,10}", suffix in "[a-z:/]{0,10}") {
        let text = format!("{prefix}{mid}{suffix}");
        let pattern = format!("{prefix}*{suffix}");
        prop_assert!(glob_match(&pattern, &text));
    }
}
