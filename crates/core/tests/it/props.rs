//! Property tests: no input makes the parsers panic.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::alarm::{parse_event_bytes, parse_sns_message};
use launchguard_core::contract::{DispatcherInput, ResponseRequest, decode_payload};
use launchguard_core::guard::Guard;
use launchguard_core::ids::{ArnPatterns, IamArn};
use launchguard_core::launch::launch_facts;
use launchguard_core::principal::classify;
use launchguard_core::record::parse_document;
use launchguard_core::split::{Item, split_document};
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

    /// Issue 11, case 8: the fast path and chrono agree on every date, existing or not; no
    /// impossible date is rolled over.
    #[test]
    fn timestamps_exist_or_are_refused(y in 1970i32..2200, mo in 0u32..14, d in 0u32..33, h in 0u32..25, mi in 0u32..61, sec in 0u32..61) {
        let s = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}Z");
        let real = chrono::NaiveDate::from_ymd_opt(y, mo, d).and_then(|date| date.and_hms_opt(h, mi, sec)).map(|t| t.and_utc().timestamp_millis());
        prop_assert_eq!(parse_timestamp(&s).ok().map(|t| t.timestamp_millis()), real, "{}", s);
        prop_assert_eq!(launchguard_core::time::fast_utc_millis(s.as_bytes()), real, "{}", s);
    }

    #[test]
    fn epoch_values_are_read_by_magnitude(n in 0u64..u64::MAX) {
        let got = parse_timestamp(&n.to_string()).ok().map(|t| t.timestamp_millis());
        let want = if n < 100_000_000_000 { Some(i64::try_from(n * 1000).unwrap()) } else if n < 100_000_000_000_000 { Some(i64::try_from(n).unwrap()) } else { None };
        prop_assert_eq!(got, want);
    }

    /// Issue 16: huge and negative numbers in an alarm never panic the parser, the gate or the
    /// window arithmetic; a window longer than a day is never built.
    #[test]
    fn alarm_numbers_never_panic_the_window(period in any::<i64>(), evals in any::<i64>(), fperiod in any::<f64>(), secs in -100_000_000_000i64..100_000_000_000i64) {
        use chrono::TimeZone;
        let at = chrono::Utc.timestamp_opt(secs, 0).single().unwrap();
        for (p, e) in [(serde_json::json!(period), serde_json::json!(evals)), (serde_json::json!(fperiod), serde_json::json!(u64::MAX)), (serde_json::json!(period.unsigned_abs()), serde_json::json!(evals.unsigned_abs()))] {
            let mut ev = launchguard_testkit::sns_alarm_event("a", "111122223333", "us-east-1", "ALARM", at, 60, 1);
            let mut msg: serde_json::Value = serde_json::from_str(ev["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
            msg["Trigger"]["Period"] = p;
            msg["Trigger"]["EvaluationPeriods"] = e;
            ev["Records"][0]["Sns"]["Message"] = serde_json::json!(msg.to_string());
            for n in launchguard_core::alarm::parse_event(&ev).unwrap() {
                if let launchguard_core::alarm::AlarmNotice::Alarm(a) = n {
                    let gate = launchguard_core::gate::AlarmGate { alarm_arns: vec!["arn:aws:cloudwatch:us-east-1:111122223333:alarm:a".into()], max_age: chrono::Duration::hours(1) };
                    let _ = gate.check(&a, "111122223333", at);
                    let policy = launchguard_core::window::WindowPolicy::default();
                    if let Some(w) = policy.primary(&a) {
                        prop_assert!(u64::from(a.period_seconds) * u64::from(a.evaluation_periods) <= 86_400);
                        prop_assert!(w.start <= w.end);
                    }
                    let _ = policy.fallback(&a);
                }
            }
        }
    }

    #[test]
    fn payload_inputs_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(v) = decode_payload(&bytes, "x") {
            let _ = DispatcherInput::parse(v.clone());
            let _ = ResponseRequest::parse(v);
        }
    }

    #[test]
    fn arns_and_patterns_never_panic(s in "\\PC{0,120}", p in "arn:[a-z:*/0-9?\\[\\]{}\\\\]{0,40}") {
        let _ = IamArn::parse(&s);
        if let Ok(pats) = ArnPatterns::parse_list(&p) {
            let _ = pats.matching(&s);
        }
    }

    #[test]
    fn star_in_the_resource_matches_any_infix(prefix in "[a-z/]{0,10}", mid in "[a-zA-Z/]{0,10}", suffix in "[a-z/]{0,10}") {
        let text = format!("arn:aws:iam::111122223333:user/{prefix}{mid}{suffix}");
        let pats = ArnPatterns::parse_list(&format!("arn:aws:iam::111122223333:user/{prefix}*{suffix}")).unwrap();
        prop_assert!(pats.matching(&text).is_some());
    }

    /// Issue 11, case 7: no ARN form of a protected principal escapes its protection: any case
    /// of the name, with or without its path, the role's session ARN from CloudTrail, the
    /// role ARN rebuilt from it, in any partition.
    #[test]
    fn no_form_of_a_protected_principal_escapes(
        partition in prop::sample::select(vec!["aws", "aws-cn", "aws-us-gov"]),
        account in "[0-9]{12}",
        is_role in any::<bool>(),
        path in prop::collection::vec("[a-zA-Z0-9_-]{1,8}", 0..3),
        name in "[A-Za-z0-9+=.@_-]{1,24}",
        prefix_len in 1usize..8,
        written_with_path in any::<bool>(),
        flips in prop::collection::vec(any::<bool>(), 24),
        session in "[a-zA-Z0-9_=,.@-]{2,16}",
    ) {
        let kind = if is_role { "role" } else { "user" };
        let path_s = if path.is_empty() { "/".to_owned() } else { format!("/{}/", path.join("/")) };
        let real = format!("arn:{partition}:iam::{account}:{kind}{path_s}{name}");
        // the operator writes the name in lower case, exactly or as a prefix, with or without the path
        let lower = name.to_ascii_lowercase();
        let cut = lower.char_indices().nth(prefix_len).map_or(lower.len(), |(i, _)| i);
        let written_path = if written_with_path { path_s.clone() } else { "/".to_owned() };
        for pattern in [
            format!("arn:{partition}:iam::{account}:{kind}{written_path}{lower}"),
            format!("arn:{partition}:iam::*:{kind}{written_path}{}*", &lower[..cut]),
        ] {
            let g = Guard::new("111122223333", vec![], ArnPatterns::parse_list(&pattern).unwrap(), &[]);
            let recased: String = name.chars().zip(flips.iter().cycle()).map(|(c, f)| if *f { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect();
            let mut forms = vec![
                real.clone(),
                format!("arn:{partition}:iam::{account}:{kind}/{name}"),
                format!("arn:{partition}:iam::{account}:{kind}{path_s}{recased}"),
                format!("arn:{partition}:iam::{account}:{kind}/{recased}"),
            ];
            if is_role {
                forms.push(format!("arn:{partition}:sts::{account}:assumed-role/{name}/{session}"));
                forms.push(format!("arn:{partition}:sts::{account}:assumed-role/{recased}/{session}"));
            }
            for f in forms {
                prop_assert!(g.check_principal(&f).is_err(), "{f} escaped {pattern}");
            }
        }
    }
}

/// Every record `split_document` hands out, and whether it finished.
fn split_all(text: &str) -> (usize, bool) {
    let mut n = 0;
    let done = split_document(text, &mut |i| n += usize::from(matches!(i, Item::Record(_)))).is_ok();
    (n, done)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn splitting_any_text_never_panics(text in "\\PC{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = split_all(&text);
        let _ = split_all(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn a_cut_lookup_events_export_keeps_the_events_before_the_cut(n in 1usize..6, cut in 0usize..4000, insert in "[\\[\\]{}\":,0-9a-zA-Z\\\\ ]{0,8}") {
        // GIVEN a lookup-events export of n events, cut anywhere (and sometimes altered there)
        let event = serde_json::to_string(SEED_RECORD).unwrap();
        let items: Vec<String> = (0..n).map(|i| format!(r#"{{"EventId":"e{i}","EventName":"RunInstances","CloudTrailEvent":{event}}}"#)).collect();
        let doc = format!(r#"{{"Events":[{}],"NextToken":"abc"}}"#, items.join(","));
        let (whole, done) = split_all(&doc);
        prop_assert!(done);
        prop_assert_eq!(whole, n);
        let cut = cut.min(doc.len());
        // WHEN split
        let (got, done) = split_all(&doc[..cut]);
        // THEN no more records than the whole holds, and a cut document is never "done"
        // (a cut at 0 leaves no text at all: no document, no record, which the scan reports
        // as nothing read; found by this test on a fresh clone, kept in proptest-regressions/)
        prop_assert!(got <= n);
        if cut == 0 {
            prop_assert_eq!(got, 0);
        } else {
            prop_assert!(!done || cut == doc.len());
        }
        let _ = split_all(&mutate(&doc, cut, &insert));
    }
}
