//! `launchguard scan` on the real datasets, plain and gzip, and on bad input.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::Write;

use launchguard_cli::{CliError, decode, parse_args, render_table, scan};
use launchguard_testkit::{fixture, fixture_dir};

fn args(a: &[&str]) -> launchguard_cli::ScanArgs {
    parse_args(a.iter().map(|s| (*s).to_owned())).unwrap()
}

#[test]
fn the_invictus_archive_flags_the_two_vcpu_limited_roles() {
    let docs: Vec<(String, String)> = fixture_dir("cloudtrail/invictus");
    let r = scan(&docs, &args(&[])).unwrap();
    assert_eq!(r.stats.rows, 2900);
    assert_eq!(r.stats.matched, 8);
    assert_eq!(r.flagged.len(), 2);
    assert!(r.flagged.iter().all(|f| f.activity.instances_requested == 10 && f.activity.instances_launched == 0));
    let table = render_table(&r);
    assert!(
        table.contains("FLAGGED") && table.contains("stratus-red-team-ec2lui-role") && table.contains("requested 10 instances"),
        "{table}"
    );
    assert!(table.contains("below") && table.contains("IAM user bert-jan"));
    // a higher threshold flags nobody; a window before the launches sees none
    assert!(scan(&docs, &args(&["--min-instances", "11"])).unwrap().flagged.is_empty());
    let early = scan(&docs, &args(&["--end", "2023-07-10T11:50:00Z"])).unwrap();
    assert_eq!(early.stats.matched, 0);
}

#[test]
fn gzip_json_lines_and_eventbridge_inputs_are_read() {
    let text = fixture("cloudtrail/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let decoded = decode("x.json.gz", gz.finish().unwrap()).unwrap();
    assert_eq!(decoded, text);
    let docs = vec![
        ("otrf".to_string(), decoded),
        ("custodian".to_string(), fixture("cloudtrail/custodian/event-cloud-trail-run-instances.json")),
    ];
    let r = scan(&docs, &args(&["--json"])).unwrap();
    assert_eq!(r.stats.rows, 103 + 1);
    assert_eq!(r.stats.matched, 1);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["stats"]["matched"], 1);
}

#[test]
fn bad_input_and_bad_arguments_are_clear_errors() {
    assert!(matches!(decode("bin", vec![0xff, 0xfe, 0x00]), Err(CliError::Input { .. })));
    assert!(matches!(decode("gz", vec![0x1f, 0x8b, 0x00, 0x01]), Err(CliError::Input { .. })));
    let e = scan(&[("junk".into(), "not json at all".into())], &args(&[])).unwrap_err();
    assert!(e.to_string().contains("cannot read junk"), "{e}");
    for bad in [
        vec!["--min-instances"],
        vec!["--min-instances", "zero"],
        vec!["--nope"],
        vec!["--start", "yesterday"],
        vec!["--start", "2023-07-10T12:00:00Z", "--end", "2023-07-10T11:00:00Z"],
    ] {
        assert!(parse_args(bad.iter().map(|s| (*s).to_owned())).is_err(), "{bad:?}");
    }
}
