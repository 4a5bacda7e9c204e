//! Property tests of the stream reader: no input makes it panic, a stream cut anywhere keeps what
//! came before the cut, and any arrangement of real records (split, concatenated, BOM-prefixed,
//! NUL-padded, gzip-ed, truncated) gives the same records or says that some are missing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::Write;

use launchguard_cli::scan::input::{ReadOptions, read_input, read_input_with};
use launchguard_core::query::EventRule;
use launchguard_core::scan::{Scanner, event_key};
use launchguard_testkit::invictus_background_shared;
use proptest::prelude::*;
use serde_json::Value;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn read(bytes: &[u8]) -> (u64, bool) {
    let mut s = Scanner::new(EventRule::run_instances(), None);
    let o = read_input(bytes, &mut s);
    (s.stats.rows, o.incomplete.is_none())
}

/// 200 real records as JSON lines, from the shared background (no copy of all of it a case).
fn lines() -> String {
    invictus_background_shared().iter().take(200).map(|r| format!("{r}\n")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_plain_or_gzipped_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = read(&bytes);
        let _ = read(&gzip(&bytes));
        let mut magic = vec![0x1f, 0x8b];
        magic.extend(&bytes);
        let _ = read(&magic);
    }

    #[test]
    fn a_json_lines_stream_cut_anywhere_keeps_the_lines_before_the_cut(cut in 0usize..100_000, gz in any::<bool>()) {
        // GIVEN 200 real records as JSON lines, maybe gzipped, cut at any byte
        let text = lines();
        let whole = if gz { gzip(text.as_bytes()) } else { text.clone().into_bytes() };
        prop_assert_eq!(read(&whole), (200, true));
        let cut = cut % whole.len();
        // WHEN read
        let (rows, complete) = read(&whole[..cut]);
        // THEN at most the 200 records, and every whole line before the cut when plain
        prop_assert!(rows <= 200);
        if !gz {
            let whole_lines = text.as_bytes()[..cut].iter().filter(|b| **b == b'\n').count() as u64;
            prop_assert!(rows >= whole_lines, "{} < {}", rows, whole_lines);
        } else {
            prop_assert!(!complete || cut == 0);
        }
    }
}

/// Collects the `eventID` of each matching record, in order.
#[derive(Debug, Default)]
struct Ids(Vec<String>);

impl launchguard_core::scan::LaunchSink for Ids {
    fn add_launch<Q, S>(
        &mut self,
        record: &launchguard_core::record::CloudTrailRecord<'_, Q, S>,
        _: i64,
        _: &launchguard_core::launch::LaunchFacts,
    ) {
        self.0.push(record.event_id.as_deref().unwrap_or("-").to_owned());
    }
}

/// 24 real records of every kind and the 8 real RunInstances, in the archive's order.
fn pool() -> Vec<Value> {
    static POOL: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    POOL.get_or_init(make_pool).clone()
}

fn make_pool() -> Vec<Value> {
    let bg = invictus_background_shared();
    let mut runs = bg.iter().filter(|r| r["eventName"] == "RunInstances").cloned();
    let others = bg.iter().filter(|r| r["eventName"] != "RunInstances").step_by(97).take(24).cloned().collect::<Vec<_>>();
    let mut out = Vec::new();
    for (i, r) in others.into_iter().enumerate() {
        out.push(r);
        if i % 3 == 0 {
            out.extend(runs.next());
        }
    }
    out
}

/// One piece of a stream: some records in one of the shapes CloudTrail's tools write.
fn render(records: &[Value], shape: u8) -> String {
    let list = Value::Array(records.to_vec());
    match shape % 5 {
        0 => serde_json::json!({ "Records": list }).to_string(),
        1 => serde_json::to_string_pretty(&serde_json::json!({ "Records": list })).unwrap(),
        2 => records.iter().map(|r| format!("{r}\n")).collect(),
        3 => list.to_string(),
        _ => {
            let events: Vec<Value> =
                records.iter().map(|r| serde_json::json!({"EventId": r["eventID"], "CloudTrailEvent": r.to_string()})).collect();
            serde_json::to_string_pretty(&serde_json::json!({ "Events": events })).unwrap()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any CloudTrail document split, concatenated, BOM-prefixed, gzip-ed or truncated gives the
    /// same records, or says that some are missing (issue 24).
    #[test]
    fn any_arrangement_of_real_records_gives_the_same_records_or_says_some_are_missing(
        keep in proptest::collection::vec(any::<bool>(), 32),
        pieces in proptest::collection::vec((1usize..12, any::<u8>(), 0usize..6), 1..6),
        bom in any::<bool>(),
        nul_padding in 0usize..3000,
        gz in 0u8..3,
        cut in proptest::option::of(any::<proptest::sample::Index>()),
    ) {
        // GIVEN real records, some kept, split into pieces of any shape, with any separators;
        // `gaps` holds, for each top-level value, where it ends and where the next one starts
        let records: Vec<Value> = pool().into_iter().zip(&keep).filter(|(_, k)| **k).map(|(r, _)| r).collect();
        prop_assume!(!records.is_empty());
        let mut pieces = pieces.clone();
        pieces.push((usize::MAX, 0, 0));
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut gaps: Vec<(usize, usize)> = Vec::new();
        let mut at = if bom { 3 } else { 0 };
        let mut rest = &records[..];
        for (n, shape, sep) in &pieces {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((*n).min(rest.len()));
            rest = later;
            let text = render(now, *shape);
            if shape % 5 == 2 {
                for line in text.split_inclusive('\n') {
                    gaps.push((at + line.len() - 1, at + line.len()));
                    at += line.len();
                }
            } else {
                at += text.len();
                gaps.push((at, at));
            }
            let sep = ["", "\n", "\r\n", " ", "\n\n", "\t"][*sep];
            at += sep.len();
            if let Some(g) = gaps.last_mut() {
                g.1 = at;
            }
            parts.push([text.as_bytes(), sep.as_bytes()].concat());
        }
        if bom {
            parts[0].splice(0..0, [0xef, 0xbb, 0xbf]);
        }
        // one stream; gzip-ed whole, or each piece as its own member (`zcat`-ed files)
        let mut bytes: Vec<u8> = match gz {
            0 => parts.concat(),
            1 => gzip(&parts.concat()),
            _ => {
                gaps.clear();
                let mut members = Vec::new();
                for p in &parts {
                    members.extend(gzip(p));
                    gaps.push((members.len(), members.len()));
                }
                members
            }
        };
        if gz == 0 {
            bytes.extend(std::iter::repeat_n(0u8, nul_padding));
            if let Some(g) = gaps.last_mut() {
                g.1 = bytes.len();
            }
        }
        let keys: Vec<u128> = records.iter().map(|r| event_key(r["eventID"].as_str().unwrap())).collect();
        let want_ids: Vec<String> = records.iter().filter(|r| r["eventName"] == "RunInstances").map(|r| r["eventID"].as_str().unwrap().to_owned()).collect();
        // WHEN read whole, or cut anywhere
        let (bytes, cut, between_values) = match cut {
            Some(i) => {
                let at = i.index(bytes.len());
                let between = at == 0 || (gz != 1 && gaps.iter().any(|(end, next)| (*end..=*next).contains(&at)));
                (bytes[..at].to_vec(), true, between)
            }
            None => (bytes, false, false),
        };
        let mut s = Scanner::with_sink(EventRule::run_instances(), None, Ids::default());
        let o = read_input(&bytes[..], &mut s);
        // the whole-input parse (a delivery file's path) reads exactly what the reader that
        // looks for each document's end reads, whatever the arrangement or the cut
        let mut by_document = Scanner::with_sink(EventRule::run_instances(), None, Ids::default());
        let o2 = read_input_with(&bytes[..], &mut by_document, &ReadOptions { whole_input: 0, ..ReadOptions::default() });
        prop_assert_eq!(&by_document.aggregate.0, &s.aggregate.0);
        prop_assert_eq!((by_document.stats.rows, by_document.stats.unparseable), (s.stats.rows, s.stats.unparseable));
        prop_assert_eq!(&o2.event_keys, &o.event_keys);
        prop_assert_eq!(&o2.incomplete, &o.incomplete);
        // THEN whole: every record, and the launches among them, complete
        if !cut {
            prop_assert_eq!(o.incomplete.as_ref(), None);
            prop_assert_eq!((s.stats.rows, s.stats.unparseable), (records.len() as u64, 0));
            prop_assert_eq!(&s.aggregate.0, &want_ids);
            prop_assert_eq!(&o.event_keys, &keys);
        } else {
            // cut: the launches read are the first ones, nothing is invented, and if any record
            // is missing the read says so (unless the cut falls between two whole values: a
            // stream that ends there is whole as far as anyone can tell)
            prop_assert!(s.stats.rows <= records.len() as u64);
            prop_assert!(want_ids.starts_with(&s.aggregate.0), "{:?} not a prefix of {:?}", s.aggregate.0, want_ids);
            prop_assert!(keys.starts_with(&o.event_keys), "the records read are not the first records");
            if s.stats.rows < records.len() as u64 && !between_values {
                let said = o.incomplete.as_ref().map(|i| i.0.as_str()).unwrap_or_default();
                prop_assert!(said.contains("record(s) read"), "{} of {} records read, and nothing said: {:?}", s.stats.rows, records.len(), said);
                prop_assert!(!said.contains('\0'), "{:?}", said);
            }
        }
    }
}
