//! Property tests of the stream reader: no input makes it panic, and a stream cut anywhere
//! keeps what came before the cut.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::Write;

use launchguard_cli::scan::input::read_input;
use launchguard_core::query::EventRule;
use launchguard_core::scan::Scanner;
use launchguard_testkit::invictus_background;
use proptest::prelude::*;

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

fn lines() -> String {
    invictus_background().iter().take(200).map(|r| format!("{r}\n")).collect()
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
