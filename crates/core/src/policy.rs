//! The IAM policy documents launchguard writes, and reading back the ones it wrote.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::time::parse_timestamp;

/// The stack's deny-all user policy, attached when the managed quarantine policy cannot be
/// (older versions put it inline under this name).
pub const QUARANTINE_INLINE_POLICY: &str = "launchguard-quarantine";
/// The stack's managed policy that denies a role's sessions (older versions put an inline
/// cut-off document under this name).
pub const REVOKE_SESSIONS_POLICY: &str = "launchguard-revoke-sessions";
/// The stack's managed policy put beside the managed quarantine policy: it denies the user launchguard's
/// own keys and functions (`AWSCompromisedKeyQuarantineV3` denies neither), so a contained user can
/// neither seal a release nor invoke launchguard.
pub const QUARANTINE_GUARD_POLICY: &str = "launchguard-quarantine-guard";
/// Default managed quarantine policy.
pub const DEFAULT_QUARANTINE_POLICY_ARN: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

/// The IAM path of the deny-only managed policies the stack creates (`deploy/base.template.json`,
/// documents in `policies/containment/`). The handlers attach these by ARN and never write a
/// policy document: the iam-handler's role may attach and detach only these (and the configured
/// quarantine policy), so it can grant no principal anything.
pub const CONTAINMENT_POLICY_PATH: &str = "/launchguard/";

/// A deny-only managed policy the stack creates; the handlers attach and detach it by ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Containment {
    /// The guard launchguard attaches beside the quarantine policy *it attached itself*: its
    /// presence is the handler's own record that the release may detach the quarantine policy.
    Guard,
    /// The same guard, attached when the quarantine policy was already there (a person, AWS's
    /// leaked-key response): the release removes only this, never the policy it did not attach.
    GuardBeside,
    /// Deny everything: the user's quarantine when the quarantine policy cannot be attached
    /// (a partition or emulator without it).
    DenyAll,
    /// Deny everything to every session of a role: "revoke role sessions".
    RoleSessions,
}

impl Containment {
    /// Every one, in the template's order.
    pub const ALL: [Self; 4] = [Self::Guard, Self::GuardBeside, Self::DenyAll, Self::RoleSessions];

    /// The policy's name (`policies/containment/<name>.json`, except `GuardBeside`, which is
    /// `launchguard-quarantine-guard.json` under a second name).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Guard => QUARANTINE_GUARD_POLICY,
            Self::GuardBeside => "launchguard-quarantine-guard-beside",
            Self::DenyAll => QUARANTINE_INLINE_POLICY,
            Self::RoleSessions => REVOKE_SESSIONS_POLICY,
        }
    }

    /// Its ARN in `account` of `partition` (`aws`).
    pub fn arn(self, partition: &str, account: &str) -> String {
        format!("arn:{partition}:iam::{account}:policy{CONTAINMENT_POLICY_PATH}{}", self.name())
    }
}

/// The partition of an ARN (`arn:aws-us-gov:…` → `aws-us-gov`), `aws` when it is not an ARN.
pub fn partition_of(arn: &str) -> &str {
    arn.strip_prefix("arn:").and_then(|r| r.split(':').next()).filter(|p| !p.is_empty()).unwrap_or("aws")
}

/// Deny everything: the inline quarantine.
pub fn quarantine_document() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "LaunchguardQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}]
    })
    .to_string()
}

/// The guard put beside the managed quarantine ([`QUARANTINE_GUARD_POLICY`]): no KMS MAC, no KMS
/// grant, no invocation of a launchguard function.
pub fn quarantine_guard_document() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "LaunchguardNoSealing", "Effect": "Deny", "Action": ["kms:GenerateMac", "kms:VerifyMac", "kms:CreateGrant"], "Resource": "*"},
            {"Sid": "LaunchguardNoInvocation", "Effect": "Deny", "Action": ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"],
             "Resource": "arn:*:lambda:*:*:function:launchguard-*"}
        ]
    })
    .to_string()
}

/// Whether `doc` is exactly launchguard's quarantine guard.
pub fn is_launchguard_guard(doc: &str) -> bool {
    same_document(doc, &quarantine_guard_document())
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

/// Whether two policy documents are the same document (JSON equality after URL-decoding; key
/// order and white space do not matter). An unparseable document equals nothing.
pub fn same_document(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(&decode_document(a)), serde_json::from_str::<Value>(&decode_document(b))) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The cut-off of a document that is *exactly* a launchguard revoke-sessions document (what
/// [`revoke_sessions_document`] writes), `None` for anything else, however similar.
pub fn launchguard_cutoff(doc: &str) -> Option<DateTime<Utc>> {
    let t = revoked_before(doc)?;
    same_document(doc, &revoke_sessions_document(t)).then_some(t)
}

/// Whether `doc` is exactly launchguard's inline quarantine document.
pub fn is_launchguard_quarantine(doc: &str) -> bool {
    same_document(doc, &quarantine_document())
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
        assert_eq!(launchguard_cutoff(&encoded), Some(t));
    }

    #[test]
    fn only_the_exact_documents_are_launchguards() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 7).unwrap();
        let narrow = revoke_sessions_document(t).replace("\"Action\":\"*\"", "\"Action\":\"s3:GetObject\"");
        assert_ne!(narrow, revoke_sessions_document(t));
        assert_eq!(revoked_before(&narrow), Some(t), "a look-alike has a cut-off");
        assert_eq!(launchguard_cutoff(&narrow), None, "but is not launchguard's");
        assert!(is_launchguard_quarantine(&quarantine_document()));
        let allow = quarantine_document().replace("Deny", "Allow");
        assert!(!is_launchguard_quarantine(&allow));
        assert!(!same_document("not json", "not json"));
    }

    proptest::proptest! {
        #[test]
        fn a_changed_document_is_never_launchguards(secs in 0i64..4_000_000_000, pos in 0usize..400, byte in 32u8..127) {
            let t = Utc.timestamp_opt(secs, 0).unwrap();
            let doc = revoke_sessions_document(t);
            let mut b = doc.clone().into_bytes();
            let i = pos % b.len();
            // a change inside the timestamp is another cut-off, still launchguard's document
            let stamp = t.to_rfc3339_opts(SecondsFormat::Secs, true);
            let at = doc.find(&stamp).unwrap();
            proptest::prop_assume!(!(at..at + stamp.len()).contains(&i));
            b[i] = byte;
            let changed = String::from_utf8(b).unwrap();
            if changed != doc && serde_json::from_str::<Value>(&changed).ok() != serde_json::from_str::<Value>(&doc).ok() {
                proptest::prop_assert_eq!(launchguard_cutoff(&changed), None);
            }
            proptest::prop_assert_eq!(launchguard_cutoff(&doc), Some(t));
        }
    }
}
