//! The IAM policy documents launchguard writes, and reading back the ones it wrote.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::time::parse_timestamp;

/// Inline user policy used when the managed quarantine policy cannot be attached.
pub const QUARANTINE_INLINE_POLICY: &str = "launchguard-quarantine";
/// Inline role policy that revokes older sessions.
pub const REVOKE_SESSIONS_POLICY: &str = "launchguard-revoke-sessions";
/// Default managed quarantine policy.
pub const DEFAULT_QUARANTINE_POLICY_ARN: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

/// Deny everything: the inline quarantine.
pub fn quarantine_document() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "LaunchguardQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}]
    })
    .to_string()
}

/// Deny everything to sessions issued before `before` (the console's "revoke active sessions").
pub fn revoke_sessions_document(before: DateTime<Utc>) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "LaunchguardRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": before.to_rfc3339_opts(SecondsFormat::Secs, true)}}
        }]
    })
    .to_string()
}

/// IAM returns policy documents URL-encoded (RFC 3986); decode when needed.
pub fn decode_document(doc: &str) -> String {
    if !doc.trim_start().starts_with('%') {
        return doc.to_owned();
    }
    let b = doc.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) =
                (b.get(i + 1).and_then(|c| (*c as char).to_digit(16)), b.get(i + 2).and_then(|c| (*c as char).to_digit(16)))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `aws:TokenIssueTime` cut-off of a revoke-sessions document, if it is one.
pub fn revoked_before(doc: &str) -> Option<DateTime<Utc>> {
    let v: Value = serde_json::from_str(&decode_document(doc)).ok()?;
    let stmts = match &v["Statement"] {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => return None,
    };
    stmts
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .filter_map(|s| s["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str())
        .filter_map(|t| parse_timestamp(t).ok())
        .max()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn revoke_document_round_trips_even_url_encoded() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 7).unwrap();
        let doc = revoke_sessions_document(t);
        assert_eq!(revoked_before(&doc), Some(t));
        let encoded: String =
            doc.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
        assert_eq!(decode_document(&encoded), doc);
        assert_eq!(revoked_before(&encoded), Some(t));
        assert_eq!(revoked_before(&quarantine_document()), None);
        assert_eq!(revoked_before("%7B%"), None);
    }
}
