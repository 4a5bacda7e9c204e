//! Classification throughput: `cargo bench -p launchguard-core --bench classify`.
//!
//! Windows of 100,000 `@message` records built from the real invictus-ir background with injected
//! RunInstances bursts: a mixed window (about 10% launches) and a launch-only window. For each:
//! the full pipeline (`Scanner::push_message`: pre-filter, parse, re-check, aggregate), and two
//! baselines on the same bytes: a plain `serde_json` parse of every record (`IgnoredAny`) and a
//! `memchr` scan for the event name. One thread; best of 7 runs after a warm-up.

#![allow(clippy::unwrap_used)] // a benchmark whose setup cannot unwrap has failed

use std::hint::black_box;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use launchguard_core::query::EventRule;
use launchguard_core::scan::Scanner;
use launchguard_core::window::TimeWindow;
use launchguard_testkit::{Actor, Burst, invictus_background, messages, run_instances_template, shift_to};
use memchr::memmem;
use serde::de::IgnoredAny;

const N: usize = 100_000;

fn launches(n: usize, start: chrono::DateTime<Utc>) -> Vec<String> {
    let t = run_instances_template();
    let mut out = Vec::with_capacity(n);
    let mut seed = 0u32;
    while out.len() < n {
        let actor = match seed % 3 {
            0 => Actor::IamUser {
                account: "111122223333".into(),
                name: format!("user{}", seed % 50),
                key: format!("AKIAEXAMPLE{:09}", seed % 50),
            },
            1 => Actor::AssumedRole {
                account: "111122223333".into(),
                role: format!("role{}", seed % 20),
                session: "s".into(),
                key: format!("ASIAEXAMPLE{:09}", seed % 20),
            },
            _ => Actor::AutoScaling { account: "111122223333".into() },
        };
        let b = Burst::new(actor, 10, 1 + seed % 4, start + Duration::seconds(i64::from(seed)));
        out.extend(messages(&b.records(&t, seed)));
        seed += 1;
    }
    out.truncate(n);
    out
}

fn mixed(start: chrono::DateTime<Utc>) -> Vec<String> {
    let mut bg = invictus_background();
    shift_to(&mut bg, start);
    let bg = messages(&bg);
    let burst = launches(N / 10, start);
    let mut out = Vec::with_capacity(N);
    let mut b = burst.into_iter();
    let mut i = 0;
    while out.len() < N {
        if out.len() % 10 == 9
            && let Some(m) = b.next()
        {
            out.push(m);
            continue;
        }
        out.push(bg[i % bg.len()].clone());
        i += 1;
    }
    out
}

fn best<F: FnMut() -> u64>(mut f: F) -> (f64, u64) {
    let check = f();
    let mut best = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        assert_eq!(black_box(f()), check);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, check)
}

fn report(name: &str, rows: &[String]) {
    let bytes: usize = rows.iter().map(String::len).sum();
    let mb = bytes as f64 / 1e6;
    let window =
        TimeWindow::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap()).unwrap();
    let (t_scan, matched) = best(|| {
        let mut s = Scanner::new(EventRule::run_instances(), Some(window));
        for r in rows {
            s.push_message(r);
        }
        s.stats.matched
    });
    let (t_serde, _) = best(|| rows.iter().filter(|r| serde_json::from_str::<IgnoredAny>(r).is_ok()).count() as u64);
    let finder = memmem::Finder::new(b"\"RunInstances\"");
    let (t_memchr, _) = best(|| rows.iter().filter(|r| finder.find(r.as_bytes()).is_some()).count() as u64);
    println!(
        "{name:<22} {:>7} records {:>7.1} MB  launches {:>6}  pipeline {:>7.0} MB/s {:>9.0} rec/s | serde_json IgnoredAny {:>6.0} MB/s | memchr {:>6.0} MB/s",
        rows.len(),
        mb,
        matched,
        mb / t_scan,
        rows.len() as f64 / t_scan,
        mb / t_serde,
        mb / t_memchr
    );
}

fn main() {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
    let mixed = mixed(start);
    let only = launches(N, start);
    report("mixed (~10% launches)", &mixed);
    report("launches only", &only);
}
