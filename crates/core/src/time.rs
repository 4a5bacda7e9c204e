//! Tolerant timestamp parsing.
//!
//! The formats met in practice:
//! - CloudTrail `eventTime`: `2023-07-10T11:45:12Z` (fast path, no allocation).
//! - CloudWatch `StateChangeTime`: `2019-10-02T17:20:48.551+0000` (offset without a colon).
//! - RFC 3339 with fractional seconds or `+00:00` offsets.
//! - Logs Insights `@timestamp` and hand-sanitised test data: `2024-12-16 18:41:07.000000000`
//!   (space separator, no zone: UTC), or epoch milliseconds (LocalStack).
//! - Some published fixtures carry stray spaces after the colons (`12: 56: 46.138+0000`).
//!
//! Strict where it matters: a date that does not exist (`2023-02-31`, `2023-02-29`) is refused,
//! never rolled over into the next month. A bare number is an epoch value, told apart by its
//! magnitude: below 10^11 it is seconds (as milliseconds it would be before 3 March 1973, which
//! no CloudTrail record is), from 10^11 to below 10^14 milliseconds (up to the year 5138);
//! anything larger (micro- or nanoseconds) is refused rather than guessed.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use crate::error::{CoreError, excerpt};

/// Parse any supported timestamp into UTC.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, CoreError> {
    let bad = || CoreError::BadTimestamp { value: excerpt(s) };
    let t = s.trim();
    if t.is_empty() || t.len() > 64 {
        return Err(bad());
    }
    if let Some(ms) = fast_utc_millis(t.as_bytes()) {
        return Utc.timestamp_millis_opt(ms).single().ok_or_else(bad);
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let ms = epoch_millis(t).ok_or_else(bad)?;
        return Utc.timestamp_millis_opt(ms).single().ok_or_else(bad);
    }
    // Normalise: drop spaces that follow a colon, use 'T' as the date/time separator.
    let mut norm = String::with_capacity(t.len());
    let mut prev = '\0';
    for (i, c) in t.char_indices() {
        if c == ' ' && prev == ':' {
            continue;
        }
        if c == ' ' && i == 10 {
            norm.push('T');
        } else {
            norm.push(c);
        }
        prev = c;
    }
    let parsed = DateTime::parse_from_rfc3339(&norm)
        .or_else(|_| DateTime::parse_from_str(&norm, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|dt| dt.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(&norm, "%Y-%m-%dT%H:%M:%S%.f").map(|dt| dt.and_utc()));
    // chrono reads `:60` as a leap second; no AWS service writes one: refuse it like the fast path.
    parsed.ok().filter(|t| t.timestamp_subsec_nanos() < 1_000_000_000).ok_or_else(bad)
}

/// Below this, a bare number is epoch seconds; from it, milliseconds.
pub const EPOCH_SECONDS_BELOW: u64 = 100_000_000_000;
/// From this, a bare number is refused (micro- or nanoseconds, or garbage).
pub const EPOCH_MILLIS_BELOW: u64 = 100_000_000_000_000;

/// Epoch milliseconds of a bare number, by magnitude (see the module documentation).
fn epoch_millis(digits: &str) -> Option<i64> {
    let n: u64 = digits.parse().ok()?;
    let ms = if n < EPOCH_SECONDS_BELOW {
        n.checked_mul(1000)?
    } else if n < EPOCH_MILLIS_BELOW {
        n
    } else {
        return None;
    };
    i64::try_from(ms).ok()
}

/// Days in `month` (1-12) of `year`, proleptic Gregorian.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Epoch milliseconds of `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.fffZ`, without allocating.
/// Returns `None` for anything else (the slow path then decides).
pub fn fast_utc_millis(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || *b.last()? != b'Z' {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=days_in_month(y, mo)).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let millis = match b.len() {
        20 => 0,
        24 if b[19] == b'.' => num(20..23)?,
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Format a time the way CloudTrail does (`2023-07-10T11:45:12Z`, milliseconds when non-zero).
pub fn format_utc(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_millis() == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        parse_timestamp(s).map(|t| t.timestamp_millis()).unwrap_or(i64::MIN)
    }

    #[test]
    fn every_format_seen_in_the_data_parses_to_the_same_instant() {
        // GIVEN the same instant written in each format of the datasets
        let want = 1_570_036_848_551; // 2019-10-02T17:20:48.551Z
        for s in [
            "2019-10-02T17:20:48.551+0000",
            "2019-10-02T17:20:48.551Z",
            "2019-10-02T17:20:48.551+00:00",
            "2019-10-02 17:20:48.551",
            "2019-10-02 17:20:48.551000000",
            "2019-10-02T17: 20: 48.551+0000",
            "1570036848551",
            "2019-10-02T19:20:48.551+0200",
        ] {
            assert_eq!(ms(s), want, "{s}");
        }
    }

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in ["2023-07-10T11:45:12Z", "2000-02-29T00:00:00Z", "1970-01-01T00:00:00Z", "2099-12-31T23:59:59.999Z"] {
            let fast = fast_utc_millis(s.as_bytes());
            let slow = DateTime::parse_from_rfc3339(s).map(|d| d.timestamp_millis()).ok();
            assert_eq!(fast, slow, "{s}");
        }
    }

    #[test]
    fn garbage_is_a_typed_error() {
        for s in ["", "yesterday", "2019-13-02T17:20:48Z", "2019-10-02T25:20:48Z", &"9".repeat(100)] {
            assert!(matches!(parse_timestamp(s), Err(CoreError::BadTimestamp { .. })), "{s}");
        }
    }

    // Issue 11, case 8: a date that does not exist is refused, in every format.
    #[test]
    fn attack_impossible_dates_are_refused() {
        for s in [
            "2023-02-31T00:00:00Z",
            "2023-02-29T12:00:00Z",
            "2023-04-31T00:00:00.000Z",
            "2023-02-31T00:00:00.000+0000",
            "2023-02-31 00:00:00",
            "2023-00-10T00:00:00Z",
            "2023-01-00T00:00:00Z",
        ] {
            assert!(matches!(parse_timestamp(s), Err(CoreError::BadTimestamp { .. })), "{s} was accepted");
        }
        assert!(parse_timestamp("2024-02-29T12:00:00Z").is_ok(), "a real leap day");
    }

    // Issue 11, case 8: epoch values are told apart by magnitude.
    #[test]
    fn attack_epoch_seconds_are_not_read_as_milliseconds() {
        assert_eq!(ms("1570036848"), 1_570_036_848_000, "10 digits: seconds");
        assert_eq!(ms("1570036848551"), 1_570_036_848_551, "13 digits: milliseconds");
        for s in ["1570036848551000", "1570036848551000000", "99999999999999999999"] {
            assert!(parse_timestamp(s).is_err(), "{s}: microseconds and beyond are refused, not guessed");
        }
    }

    #[test]
    fn format_round_trips() {
        let t = parse_timestamp("2023-07-10T11:45:12Z").expect("parses");
        assert_eq!(format_utc(t), "2023-07-10T11:45:12Z");
        let t = parse_timestamp("2019-10-02T17:20:48.551+0000").expect("parses");
        assert_eq!(format_utc(t), "2019-10-02T17:20:48.551Z");
    }
}
