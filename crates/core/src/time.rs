//! Tolerant timestamp parsing.
//!
//! The formats met in practice:
//! - CloudTrail `eventTime`: `2023-07-10T11:45:12Z` (fast path, no allocation).
//! - CloudWatch `StateChangeTime`: `2019-10-02T17:20:48.551+0000` (offset without a colon).
//! - RFC 3339 with fractional seconds or `+00:00` offsets.
//! - Logs Insights `@timestamp` and hand-sanitised test data: `2024-12-16 18:41:07.000000000`
//!   (space separator, no zone: UTC), or epoch milliseconds (LocalStack).
//! - Some published fixtures carry stray spaces after the colons (`12: 56: 46.138+0000`).

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
        let ms: i64 = t.parse().map_err(|_| bad())?;
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
    if let Ok(dt) = DateTime::parse_from_rfc3339(&norm) {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_str(&norm, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(&norm, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(dt.and_utc());
    }
    Err(bad())
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
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
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

    #[test]
    fn format_round_trips() {
        let t = parse_timestamp("2023-07-10T11:45:12Z").expect("parses");
        assert_eq!(format_utc(t), "2023-07-10T11:45:12Z");
        let t = parse_timestamp("2019-10-02T17:20:48.551+0000").expect("parses");
        assert_eq!(format_utc(t), "2019-10-02T17:20:48.551Z");
    }
}
