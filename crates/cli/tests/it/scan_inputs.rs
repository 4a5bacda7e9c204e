//! What `launchguard scan` reads, and that it never drops data silently (issue 24): concatenated
//! documents, a BOM, a header line, links, loops, truncation, the size cap, archives and
//! compressions it does not read, UTF-16, NUL padding, empty inputs, a closed pipe. Each case is
//! a file in `fixtures/scan/` (made from the invictus-ir delivery files, see ATTRIBUTION.md) or
//! built here from the real records.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Parser;
use launchguard_cli::CliError;
use launchguard_cli::scan::{self, Completeness, LocalSource, ScanArgs, ScanReport, Silent, Source};
use launchguard_testkit::fixtures_dir;
use serde_json::Value;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    scan: ScanArgs,
}

fn try_scan(args: &[&str]) -> Result<ScanReport, CliError> {
    let a = Cli::try_parse_from(std::iter::once("scan").chain(args.iter().copied())).unwrap().scan;
    let local = LocalSource::new(a.inputs.clone()).with_filter(a.source_filter()?);
    let sources: Vec<&dyn Source> = vec![&local];
    scan::run(&sources, &a.settings().unwrap(), Some(2), &Silent)
}

fn scan_with(args: &[&str]) -> ScanReport {
    try_scan(args).unwrap()
}

fn fx(name: &str) -> String {
    fixtures_dir().join("scan").join(name).to_str().unwrap().to_owned()
}

/// The 26-record delivery file (one RunInstances by bert-jan) most of the fixtures are made of.
const DELIVERY: &str = "cloudtrail/invictus/218007301253_CloudTrail_us-east-1_20230710T1205Z_SjF3IkuNXJkoHyar.json";

fn delivery() -> PathBuf {
    fixtures_dir().join(DELIVERY)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lg-inputs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// The binary on `args`, `stdin` piped in: exit code, stdout, stderr.
fn run(args: &[&str], stdin: &[u8]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_launchguard"))
        .arg("scan")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn problems(r: &ScanReport) -> String {
    r.incomplete_inputs.iter().map(|i| format!("{}: {}", i.input, i.problem)).collect::<Vec<_>>().join("\n")
}

#[test]
fn concatenated_delivery_files_without_a_newline_are_all_read() {
    // GIVEN two delivery files (26 records each, one RunInstances each) one after the other with
    // nothing between them, as `cat`/`zcat` leaves files without a final newline
    let r = scan_with(&[&fx("concatenated.json")]);
    // THEN both are read whole
    assert_eq!((r.stats.rows, r.stats.matched, r.stats.unparseable, r.status), (52, 2, 0, Completeness::Complete), "{}", problems(&r));
    // AND the README recipe `zcat *.json.gz | launchguard scan -` over all 55 real files, each
    // gzip-ed without its final newline, reads the 2,900 records and their 8 launches (and, read
    // once for every rule, bert-jan's 4 CreateUser and 2 CreateAccessKey)
    let mut dir: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join("cloudtrail/invictus")).unwrap().map(|e| e.unwrap().path()).collect();
    dir.sort();
    let mut zcat = Vec::new();
    for p in &dir {
        let text = std::fs::read(p).unwrap();
        zcat.extend(gzip(text.trim_ascii_end()));
    }
    let (code, out, err) = run(&["--json", "-"], &zcat);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!((v["stats"]["rows"].as_u64(), v["rules"][0]["stats"]["matched"].as_u64()), (Some(2900), Some(8)), "{err}");
    let matched: Vec<Option<u64>> = v["rules"].as_array().unwrap().iter().map(|r| r["stats"]["matched"].as_u64()).collect();
    assert_eq!((matched, v["stats"]["matched"].as_u64()), (vec![Some(8), Some(4), Some(2)], Some(14)), "{err}");
    // (the invictus records hold a flagged launch burst: exit status 3)
    assert_eq!((code, v["status"].as_str()), (Some(3), Some("complete")));
    // AND separated by spaces or CRLFs, the same
    let text = std::fs::read(delivery()).unwrap();
    let t = text.trim_ascii_end();
    for sep in [&b" "[..], b"\r\n", b"\n\n", b"\t"] {
        let joined = [t, sep, t, sep, t].concat();
        let (code, out, _) = run(&["--json"], &joined);
        let v: Value = serde_json::from_str(&out).unwrap();
        let flagged = v["bursts"].as_array().unwrap().iter().any(|b| b["verdict"] == "flagged");
        assert_eq!(
            (code, v["stats"]["rows"].as_u64(), v["stats"]["duplicates"].as_u64()),
            (Some(if flagged { 3 } else { 0 }), Some(78), Some(52)),
            "{sep:?}"
        );
    }
}

#[test]
fn a_bom_prefixed_json_lines_file_reads_every_line() {
    // GIVEN the 26 records as JSON lines, the file starting with a UTF-8 byte-order mark
    let r = scan_with(&[&fx("bom.jsonl")]);
    // THEN 26 records, complete
    assert_eq!((r.stats.rows, r.stats.matched, r.status), (26, 1, Completeness::Complete), "{}", problems(&r));
}

#[test]
fn a_header_line_before_json_lines_is_one_unreadable_line_and_the_rest_is_read() {
    // GIVEN a CSV-like header line, then the 26 records as JSON lines
    let r = scan_with(&[&fx("header.jsonl")]);
    // THEN the 26 are read, the header counts as one unreadable line, and the input is named
    assert_eq!((r.stats.rows, r.stats.matched, r.stats.unparseable), (26, 1, 1), "{}", problems(&r));
    assert_eq!(r.status, Completeness::Incomplete);
    assert!(r.incomplete_inputs[0].input.ends_with("header.jsonl"), "{}", problems(&r));
    assert!(r.incomplete_inputs[0].problem.contains("line 1"), "{}", problems(&r));
}

#[cfg(unix)]
#[test]
fn a_broken_symlink_or_a_symlink_loop_is_named_unreadable_and_the_scan_goes_on() {
    use std::os::unix::fs::symlink;
    // GIVEN a directory holding a delivery file, a link to nowhere, two links to each other, and
    // a link back to the directory itself
    let dir = tmp("links");
    std::fs::copy(delivery(), dir.join("a.json")).unwrap();
    symlink(dir.join("nowhere.json"), dir.join("dangling.json")).unwrap();
    symlink(dir.join("loop-b.json"), dir.join("loop-a.json")).unwrap();
    symlink(dir.join("loop-a.json"), dir.join("loop-b.json")).unwrap();
    symlink(&dir, dir.join("up")).unwrap();
    // WHEN scanned
    let r = try_scan(&[dir.to_str().unwrap()]).unwrap_or_else(|e| panic!("the scan stopped: {e}"));
    // THEN the file is read once, the three bad links are named unreadable, and the status says so
    assert_eq!((r.stats.rows, r.stats.matched, r.status), (26, 1, Completeness::Incomplete), "{}", problems(&r));
    let named: Vec<&str> = r.incomplete_inputs.iter().map(|i| i.input.rsplit('/').next().unwrap()).collect();
    assert_eq!(named, ["dangling.json", "loop-a.json", "loop-b.json"], "{}", problems(&r));
    assert!(r.incomplete_inputs[0].problem.contains("broken symbolic link"), "{}", problems(&r));
}

#[cfg(unix)]
#[test]
fn a_file_reached_through_links_is_read_once_and_every_duplicate_is_counted() {
    // GIVEN a delivery file, a hard link and a symbolic link to it, and a copy of it
    let dir = tmp("twice");
    std::fs::copy(delivery(), dir.join("a.json")).unwrap();
    std::fs::hard_link(dir.join("a.json"), dir.join("b.json")).unwrap();
    std::os::unix::fs::symlink(dir.join("a.json"), dir.join("c.json")).unwrap();
    std::fs::copy(delivery(), dir.join("d.json")).unwrap();
    // WHEN scanned, the directory and the file named again
    let a = dir.join("a.json");
    let r = scan_with(&[dir.to_str().unwrap(), a.to_str().unwrap()]);
    // THEN the file is read once and the copy once: 52 records, 26 of them duplicates, 1 launch
    assert_eq!((r.stats.rows, r.stats.duplicates, r.stats.matched), (52, 26, 1));
    assert_eq!((r.inputs.listed, r.status), (2, Completeness::Complete));
}

#[test]
fn a_truncated_json_lines_file_is_incomplete_and_named() {
    // GIVEN 26 records as JSON lines, the last one cut in half
    let r = scan_with(&[&fx("truncated.jsonl")]);
    // THEN 25 are read, one is unreadable, and the input is incomplete and named
    assert_eq!((r.stats.rows, r.stats.unparseable, r.status), (25, 1, Completeness::Incomplete), "{}", problems(&r));
    assert!(r.incomplete_inputs[0].input.ends_with("truncated.jsonl"));
    assert!(r.incomplete_inputs[0].problem.contains("line 26"), "{}", problems(&r));
    // AND the binary exits 1
    let (code, _, _) = run(&[&fx("truncated.jsonl")], b"");
    assert_eq!(code, Some(1));
}

#[test]
fn a_line_over_the_size_cap_is_unreadable_and_the_rest_is_read() {
    // GIVEN JSON lines: a record, a 3 MiB record (its userAgent padded), two records, gzip-ed
    let recs: Vec<Value> =
        serde_json::from_slice::<Value>(&std::fs::read(delivery()).unwrap()).unwrap()["Records"].as_array().unwrap().clone();
    let mut big = recs[1].clone();
    big["userAgent"] = Value::String("x".repeat(3 << 20));
    let lines = [&recs[0], &big, &recs[2], &recs[3]].iter().map(|r| format!("{r}\n")).collect::<String>();
    let dir = tmp("cap");
    let file = dir.join("big.jsonl.gz");
    std::fs::write(&file, gzip(lines.as_bytes())).unwrap();
    // WHEN scanned with a 1 MiB cap
    let r = scan_with(&[file.to_str().unwrap(), "--max-document-size", "1MiB"]);
    // THEN the three others are read; the long line is one unreadable record, named with the cap
    assert_eq!((r.stats.rows, r.stats.unparseable, r.status), (3, 1, Completeness::Incomplete), "{}", problems(&r));
    assert!(r.incomplete_inputs[0].problem.contains("1 MiB"), "{}", problems(&r));
    // AND under the default cap (64 MiB) it is read
    let r = scan_with(&[file.to_str().unwrap()]);
    assert_eq!((r.stats.rows, r.status), (4, Completeness::Complete), "{}", problems(&r));
}

#[test]
fn inputs_it_cannot_read_are_named_for_what_they_are() {
    // GIVEN the delivery file zipped, xz-, bzip2- and zstd-compressed
    for (file, says) in [
        ("zipped.zip", "zip archive: unzip it first"),
        ("delivery.json.xz", "xz-compressed: decompress it first (xz -d)"),
        ("delivery.json.bz2", "bzip2-compressed: decompress it first (bzip2 -d)"),
        ("delivery.json.zst", "zstd-compressed: decompress it first (zstd -d)"),
    ] {
        // WHEN scanned
        let r = scan_with(&[&fx(file)]);
        // THEN it is named for what it is, and not dumped as text
        assert_eq!(r.status, Completeness::Incomplete, "{file}");
        assert!(r.incomplete_inputs[0].problem.contains(says), "{file}: {}", problems(&r));
        assert!(r.stats.error_samples.iter().all(|s| !s.contains('\u{fffd}')), "{file}: {:?}", r.stats.error_samples);
        assert!(!problems(&r).contains('\u{fffd}'), "{file}: {}", problems(&r));
    }
}

#[test]
fn utf16_and_nul_padding_are_read() {
    // GIVEN the delivery file as a PowerShell redirect writes it (UTF-16LE with its BOM), and
    // the file followed by 4 KiB of NUL padding
    for file in ["utf16le.json", "nul-padded.json"] {
        // WHEN scanned
        let r = scan_with(&[&fx(file)]);
        // THEN its 26 records are read whole
        assert_eq!((r.stats.rows, r.stats.matched, r.status), (26, 1, Completeness::Complete), "{file}: {}", problems(&r));
    }
    // AND the NULs never reach a message, even when the padding is not at the end
    let mut text = std::fs::read(delivery()).unwrap();
    text.extend([0u8; 64]);
    text.extend(b"not json\n");
    let (code, out, err) = run(&[], &text);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(!out.contains('\0') && !err.contains('\0'), "{out:?}");
}

#[test]
fn an_empty_file_or_directory_warns_that_nothing_was_read() {
    let dir = tmp("empty");
    for input in [fx("empty.json"), dir.to_str().unwrap().to_owned()] {
        let (_, out, err) = run(&[&input], b"");
        assert!(format!("{out}{err}").contains("nothing was read"), "{input}: {out}{err}");
        let (_, out, _) = run(&["--json", &input], b"");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(v["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("nothing was read")), "{out}");
    }
}

#[test]
fn a_closed_pipe_ends_the_scan_quietly() {
    // GIVEN `launchguard scan ... | head -0`: the reader of its output has gone before it writes
    let mut child = Command::new(env!("CARGO_BIN_EXE_launchguard"))
        .args(["scan", fixtures_dir().join("cloudtrail/invictus").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    // THEN it says nothing and exits with the scan's status (3: read whole, a burst flagged)
    assert_eq!((status.code(), err.as_str()), (Some(3), ""));
}

#[test]
fn a_line_cut_in_the_middle_of_json_lines_or_a_broken_document_loses_only_itself() {
    use launchguard_cli::scan::input::read_input;
    use launchguard_core::query::EventRule;
    use launchguard_core::scan::Scanner;
    let recs: Vec<Value> =
        serde_json::from_slice::<Value>(&std::fs::read(delivery()).unwrap()).unwrap()["Records"].as_array().unwrap().clone();
    let lines: Vec<String> = recs.iter().map(Value::to_string).collect();
    // GIVEN 26 JSON lines, the third cut short by a rotation (at a comma, inside a string)
    for cut in [lines[2].find(",\"").unwrap() + 1, lines[2].len() / 2] {
        let mut text = lines.clone();
        text[2].truncate(cut);
        let text = text.join("\n");
        // WHEN read
        let mut s = Scanner::new(EventRule::run_instances(), None);
        let o = read_input(text.as_bytes(), &mut s);
        // THEN the 25 others are read, the cut one is unreadable and named by its line
        assert_eq!((s.stats.rows, s.stats.unparseable), (25, 1), "{:?}", o.incomplete);
        assert!(o.incomplete.unwrap().0.contains("line 3"), "{:?}", s.stats.error_samples);
    }
    // AND a delivery file broken in the middle, then a whole one: the records before the break
    // and the whole file are read, and the input says it is incomplete
    let doc = std::fs::read_to_string(delivery()).unwrap();
    let at = doc.find("\"eventName\":\"RunInstances\"").unwrap();
    let broken = format!("{}}}}}{}\n{}", &doc[..at], &doc[at + 30..], doc.trim_end());
    let mut s = Scanner::new(EventRule::run_instances(), None);
    let o = read_input(broken.as_bytes(), &mut s);
    assert!(s.stats.rows >= 26 && s.stats.rows < 52, "{}", s.stats.rows);
    assert!(o.incomplete.is_some());
}

#[test]
fn files_plainly_not_cloudtrail_in_a_directory_are_skipped_and_globs_narrow_the_walk() {
    // GIVEN a synced trail folder that also holds a README, YAML rule tests and notes (issue 31)
    let dir = tmp("skip");
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("a.json.gz"), gzip(&std::fs::read(delivery()).unwrap())).unwrap();
    std::fs::copy(fixtures_dir().join("scan/bom.jsonl"), dir.join("b.jsonl")).unwrap();
    std::fs::write(dir.join("README.md"), "# Trail\n\nSynced with `aws s3 sync`: {\"Records\": [...]}\n").unwrap();
    std::fs::write(
        dir.join("rules/run_instances.yml"),
        "AnalysisType: rule\nTests:\n  - Name: x\n    Log:\n      eventName: RunInstances\n",
    )
    .unwrap();
    std::fs::write(dir.join("NOTES"), "looked at this on Monday\n").unwrap();
    // WHEN the directory is scanned
    let r = scan_with(&[dir.to_str().unwrap()]);
    // THEN the CloudTrail is read whole, and the three others are listed as skipped, not as incomplete
    assert_eq!((r.stats.rows, r.status), (52, Completeness::Complete), "{}", problems(&r));
    let skipped: Vec<&str> = r.skipped_inputs.iter().map(|s| s.input.strip_prefix(dir.to_str().unwrap()).unwrap()).collect();
    assert_eq!(skipped, ["/NOTES", "/README.md", "/rules/run_instances.yml"]);
    assert!(r.skipped_inputs.iter().all(|s| s.reason.contains("not CloudTrail")), "{:?}", r.skipped_inputs);
    // AND a file named on the command line is read whatever its name: its lines are unreadable
    let r = scan_with(&[dir.join("NOTES").to_str().unwrap()]);
    assert_eq!((r.status, r.skipped_inputs.len()), (Completeness::Incomplete, 0));
    // AND --include / --exclude narrow the walk (paths relative to the directory walked)
    let r = scan_with(&[dir.to_str().unwrap(), "--include", "*.json.gz"]);
    assert_eq!((r.inputs.listed, r.stats.rows, r.skipped_inputs.len()), (1, 26, 0));
    let r = scan_with(&[dir.to_str().unwrap(), "--exclude", "rules/**", "--exclude", "*.md", "--exclude", "NOTES"]);
    assert_eq!((r.inputs.listed, r.stats.rows, r.skipped_inputs.len()), (2, 52, 0));
    // AND a bad glob is bad usage
    let a = Cli::try_parse_from(["scan", "--include", "a[", dir.to_str().unwrap()]).unwrap().scan;
    assert!(matches!(a.source_filter(), Err(CliError::Usage(_))));
}
