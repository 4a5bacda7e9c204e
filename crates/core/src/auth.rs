//! Authenticated payloads: who may command a handler, report a finding or ask for a release.
//!
//! Lambda resource policies can only *allow*: anyone with `lambda:InvokeFunction` on a function
//! through their own IAM policy can send it anything. So every payload that makes launchguard act
//! travels sealed: a [`Sealed`] envelope carrying the exact payload text, the instant it was
//! sealed, and an HMAC made by AWS KMS (`GenerateMac`) with a key whose policy names who may make
//! MACs with it. The receiver checks the MAC with `VerifyMac` on *its own configured key* (the
//! key id written in the envelope is informational and never trusted), checks the age, and only
//! then parses the payload.
//!
//! Each [`Purpose`] has its own key, because a KMS MAC does not say who made it: whoever may
//! make MACs with a key can seal anything with it. Separate keys keep the people allowed to
//! release from commanding handlers, and a compromised detector from releasing.
//!
//! | purpose   | made by (`kms:GenerateMac`)               | checked by (`kms:VerifyMac`) |
//! |-----------|-------------------------------------------|------------------------------|
//! | `command` | the dispatcher                            | the handlers                 |
//! | `finding` | the detector (and detectors you add)      | the dispatcher               |
//! | `release` | `RELEASE_PRINCIPALS` (people, the CLI)    | the dispatcher               |
//!
//! What is MAC'd ([`mac_message`]) is a short, fixed-format text (KMS takes at most 4096 bytes):
//! a version tag, the purpose, the sealing instant and the SHA-256 of the exact payload bytes.
//! Changing any byte of the payload, the purpose or the instant invalidates the MAC.

use std::fmt;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::{MAX_PAYLOAD_BYTES, SCHEMA_VERSION};
use crate::error::{CoreError, excerpt};

/// The version tag at the start of every MAC'd message.
pub const MAC_MESSAGE_VERSION: &str = "launchguard-mac/v1";
/// Longest key id accepted in an envelope (a KMS key ARN or alias ARN is far shorter).
const MAX_KEY_ID: usize = 2048;
/// An HMAC-SHA-256 tag is 32 bytes.
const MAC_BYTES: usize = 32;

/// What a sealed payload is for. Each purpose is checked with its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A `response_request` from the dispatcher to a handler.
    Command,
    /// A `finding` from a detector to the dispatcher.
    Finding,
    /// A `release` from a person allowed to release to the dispatcher.
    Release,
}

impl Purpose {
    /// `command`, `finding`, `release`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Finding => "finding",
            Self::Release => "release",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The MAC algorithm (KMS `MacAlgorithm`). Only one is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MacAlgorithm {
    /// `HMAC_SHA_256`, with a KMS `HMAC_256` key.
    #[serde(rename = "HMAC_SHA_256")]
    HmacSha256,
}

impl MacAlgorithm {
    /// The name KMS uses.
    pub fn as_str(self) -> &'static str {
        "HMAC_SHA_256"
    }
}

/// Kind tag of a [`Sealed`] envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SealedKind {
    /// `"sealed"`
    Sealed,
}

/// An authenticated payload, as sent to the dispatcher or a handler.
///
/// ```json
/// {"schema_version":1,"kind":"sealed","purpose":"command","issued_at":"2026-11-22T10:00:00.000Z",
///  "key_id":"arn:aws:kms:...:key/...","mac_algorithm":"HMAC_SHA_256","mac":"<64 hex digits>",
///  "payload":"{\"schema_version\":1,\"kind\":\"response_request\",...}"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// Contract version.
    pub schema_version: u32,
    /// Always `"sealed"`.
    pub kind: SealedKind,
    /// What the payload is for; selects the key that must verify it.
    pub purpose: Purpose,
    /// When it was sealed (millisecond precision); MAC'd.
    pub issued_at: DateTime<Utc>,
    /// The key the sealer used. Informational: receivers verify with their own configured key.
    #[schemars(length(min = 1, max = 2048))]
    pub key_id: String,
    /// Always `HMAC_SHA_256`.
    pub mac_algorithm: MacAlgorithm,
    /// The MAC, lower-case hex.
    #[schemars(pattern("^[0-9a-f]{64}$"))]
    pub mac: String,
    /// The exact payload text that was MAC'd (a JSON document).
    pub payload: String,
}

/// Why a payload was not accepted as authentic. Nothing is done for any of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The payload is not a sealed envelope (e.g. a plain finding or request).
    NotSealed {
        /// What was found instead.
        found: String,
    },
    /// The envelope is malformed (unknown field, bad hex, oversized...).
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// Sealed for another purpose than this receiver accepts.
    WrongPurpose {
        /// The envelope's purpose.
        found: Purpose,
        /// What this receiver accepts.
        expected: Purpose,
    },
    /// Sealed too long ago.
    Stale {
        /// When it was sealed.
        issued_at: DateTime<Utc>,
        /// Largest accepted age, in seconds.
        max_age_seconds: i64,
    },
    /// Sealed in the future (beyond the allowed clock skew).
    FromTheFuture {
        /// When it claims to have been sealed.
        issued_at: DateTime<Utc>,
    },
    /// This exact sealed payload was accepted before: a replay.
    Replayed {
        /// What it is (`release`).
        what: String,
    },
    /// The MAC does not verify with this receiver's key: forged, altered, or made with another key.
    BadMac {
        /// The key it was checked with.
        key_id: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSealed { found } => write!(
                f,
                "not a sealed payload ({found}): launchguard acts only on payloads sealed with its KMS keys; send it through the dispatcher, the detector or `launchguard release` (SECURITY.md)"
            ),
            Self::Malformed { reason } => write!(f, "malformed sealed payload: {reason}"),
            Self::WrongPurpose { found, expected } => {
                write!(f, "payload sealed for {found}, but this function accepts only {expected} payloads")
            }
            Self::Stale { issued_at, max_age_seconds } => write!(
                f,
                "payload sealed at {} is older than {max_age_seconds} s: seal a new one (a stale payload is never replayed)",
                issued_at.to_rfc3339_opts(SecondsFormat::Millis, true)
            ),
            Self::FromTheFuture { issued_at } => write!(
                f,
                "payload claims to be sealed at {}, in the future: check the sender's clock",
                issued_at.to_rfc3339_opts(SecondsFormat::Millis, true)
            ),
            Self::Replayed { what } => {
                write!(f, "this sealed {what} was accepted before: a replay is never acted on again (seal a new one)")
            }
            Self::BadMac { key_id } => {
                write!(f, "the MAC does not verify with key {key_id}: the payload is forged, altered, or sealed with another key")
            }
        }
    }
}

/// How old a sealed payload may be, and how far in the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Largest accepted age.
    pub max_age: Duration,
    /// Largest accepted clock skew into the future.
    pub max_skew: Duration,
}

impl Freshness {
    /// Default for commands and releases: 15 minutes old, 1 minute ahead.
    pub fn commands() -> Self {
        Self { max_age: Duration::minutes(15), max_skew: Duration::minutes(1) }
    }

    /// Check `issued_at` against `now`.
    pub fn check(&self, issued_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
        // Checked arithmetic: no instant, however far out, can make this panic.
        if now.checked_add_signed(self.max_skew).is_none_or(|latest| issued_at > latest) {
            return Err(Refusal::FromTheFuture { issued_at });
        }
        if now.checked_sub_signed(self.max_age).is_none_or(|earliest| issued_at < earliest) {
            return Err(Refusal::Stale { issued_at, max_age_seconds: self.max_age.num_seconds() });
        }
        Ok(())
    }
}

/// The bytes given to KMS `GenerateMac` / `VerifyMac` for a payload.
pub fn mac_message(purpose: Purpose, issued_at: DateTime<Utc>, payload: &[u8]) -> Vec<u8> {
    let digest = hex(&Sha256::digest(payload));
    format!("{MAC_MESSAGE_VERSION}\n{purpose}\n{}\n{digest}", issued_at.to_rfc3339_opts(SecondsFormat::Millis, true)).into_bytes()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Truncate an instant to milliseconds, the precision that is sealed.
pub fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

impl Sealed {
    /// The message to MAC for `payload` sealed at `issued_at` (truncated to milliseconds).
    pub fn message_for(purpose: Purpose, issued_at: DateTime<Utc>, payload: &str) -> Vec<u8> {
        mac_message(purpose, to_millis(issued_at), payload.as_bytes())
    }

    /// An envelope for `payload` with the MAC KMS made over [`Sealed::message_for`].
    pub fn new(purpose: Purpose, issued_at: DateTime<Utc>, key_id: &str, payload: String, mac: &[u8]) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            kind: SealedKind::Sealed,
            purpose,
            issued_at: to_millis(issued_at),
            key_id: key_id.to_owned(),
            mac_algorithm: MacAlgorithm::HmacSha256,
            mac: hex(mac),
            payload,
        }
    }

    /// Read an envelope from raw bytes. Checks the form only: the caller then checks the
    /// purpose ([`Sealed::expect`]), the age ([`Freshness::check`]) and the MAC (with KMS).
    pub fn parse(bytes: &[u8]) -> Result<Self, Refusal> {
        let malformed = |reason: String| Refusal::Malformed { reason };
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(malformed(format!("{} bytes, more than the {MAX_PAYLOAD_BYTES}-byte limit", bytes.len())));
        }
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        match v.get("kind").and_then(serde_json::Value::as_str) {
            Some("sealed") => {}
            Some(other) => return Err(Refusal::NotSealed { found: format!("kind {:?}", excerpt(other)) }),
            None => return Err(Refusal::NotSealed { found: "no kind".into() }),
        }
        if v.get("schema_version").and_then(serde_json::Value::as_u64) != Some(u64::from(SCHEMA_VERSION)) {
            return Err(malformed(format!("schema_version must be {SCHEMA_VERSION}")));
        }
        let s: Self = serde_json::from_value(v).map_err(|e| malformed(e.to_string()))?;
        if s.key_id.is_empty() || s.key_id.len() > MAX_KEY_ID {
            return Err(malformed(format!("key_id must be 1-{MAX_KEY_ID} characters")));
        }
        match unhex(&s.mac) {
            Some(m) if m.len() == MAC_BYTES => {}
            _ => return Err(malformed(format!("mac must be {} lower-case hex digits", MAC_BYTES * 2))),
        }
        Ok(s)
    }

    /// Refuse an envelope sealed for another purpose.
    pub fn expect(&self, purpose: Purpose) -> Result<(), Refusal> {
        if self.purpose == purpose { Ok(()) } else { Err(Refusal::WrongPurpose { found: self.purpose, expected: purpose }) }
    }

    /// The MAC bytes (checked by [`Sealed::parse`]).
    pub fn mac_bytes(&self) -> Vec<u8> {
        unhex(&self.mac).unwrap_or_default()
    }

    /// The message that the MAC must verify against.
    pub fn message(&self) -> Vec<u8> {
        mac_message(self.purpose, self.issued_at, self.payload.as_bytes())
    }

    /// A stable id for this exact envelope (purpose, instant and payload), for replay records.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.message()))
    }

    /// Serialise.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl From<Refusal> for CoreError {
    fn from(r: Refusal) -> Self {
        CoreError::Unauthenticated(r)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

    use chrono::TimeZone;

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap() + Duration::milliseconds(123)
    }

    #[test]
    fn every_sealed_part_changes_the_message() {
        let base = mac_message(Purpose::Command, at(), b"{}");
        assert_ne!(base, mac_message(Purpose::Release, at(), b"{}"));
        assert_ne!(base, mac_message(Purpose::Command, at() + Duration::milliseconds(1), b"{}"));
        assert_ne!(base, mac_message(Purpose::Command, at(), b"{ }"));
        assert!(String::from_utf8(base).unwrap().starts_with("launchguard-mac/v1\ncommand\n2026-11-22T10:00:00.123Z\n"));
    }

    #[test]
    fn envelopes_round_trip_and_refuse_by_name() {
        let s = Sealed::new(Purpose::Finding, at(), "key-1", "{\"a\":1}".into(), &[7u8; 32]);
        let back = Sealed::parse(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.mac_bytes(), vec![7u8; 32]);
        assert!(back.expect(Purpose::Finding).is_ok());
        assert_eq!(back.expect(Purpose::Command), Err(Refusal::WrongPurpose { found: Purpose::Finding, expected: Purpose::Command }));
        let plain = br#"{"schema_version":1,"kind":"response_request"}"#;
        assert!(matches!(Sealed::parse(plain), Err(Refusal::NotSealed { .. })));
        let mut v: serde_json::Value = serde_json::from_slice(&s.to_json()).unwrap();
        v["mac"] = "ZZ".into();
        assert!(matches!(Sealed::parse(v.to_string().as_bytes()), Err(Refusal::Malformed { .. })));
        v["mac"] = hex(&[1u8; 31]).into();
        assert!(matches!(Sealed::parse(v.to_string().as_bytes()), Err(Refusal::Malformed { .. })));
        v["mac"] = hex(&[1u8; 32]).into();
        v["extra"] = 1.into();
        assert!(matches!(Sealed::parse(v.to_string().as_bytes()), Err(Refusal::Malformed { .. })));
    }

    #[test]
    fn freshness_bounds() {
        let f = Freshness::commands();
        assert!(f.check(at(), at()).is_ok());
        assert!(f.check(at() - Duration::minutes(15), at()).is_ok());
        assert!(matches!(f.check(at() - Duration::minutes(15) - Duration::milliseconds(1), at()), Err(Refusal::Stale { .. })));
        assert!(f.check(at() + Duration::seconds(60), at()).is_ok());
        assert!(matches!(f.check(at() + Duration::seconds(61), at()), Err(Refusal::FromTheFuture { .. })));
    }
}
