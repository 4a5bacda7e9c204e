//! What the dispatcher accepts, and how it seals what it sends.
//!
//! - A finding must be sealed with the finding key (`FINDING_KEY_ID`, `kms:GenerateMac` for the
//!   detector and the detectors you add) or with the stream detector's own key
//!   (`STREAM_FINDING_KEY_ID`, `kms:GenerateMac` for the stream's role alone), a release with the
//!   release key (`RELEASE_KEY_ID`, `kms:GenerateMac` for `RELEASE_PRINCIPALS` only). The payload
//!   inside must be of the kind its seal says: a finding sealed as a release is refused.
//! - Which key sealed a finding is a [`Sealer`]: only a finding the stream key verifies may have
//!   its `delivered_by_aws` records trusted in place of CloudTrail's event history
//!   ([`crate::confirm`]). The envelope's `key_id` only chooses which key to verify with; the MAC
//!   is what proves it, and no other key verifies a MAC the stream key made.
//! - Each request to a handler is sealed with the command key (`COMMAND_KEY_ID`), which only the
//!   dispatcher may use to make MACs.
//!
//! See `launchguard_core::auth` for the envelope and SECURITY.md for the threat model.

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::CallError;
use launchguard_aws::mac::{MacSigner, MacVerifier, OpenFailure, open, seal};
use launchguard_aws::store::{ConditionalStore, Put};
use launchguard_core::CoreError;
use launchguard_core::auth::{Freshness, Purpose, Refusal, Sealed};
use launchguard_core::config::{self, Env};
use launchguard_core::contract::{DispatcherInput, ResponseRequest, decode_payload};

use crate::{DispatcherError, Failure, Part};

/// The keys and age limits the dispatcher works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seals {
    /// `FINDING_KEY_ID`: findings must verify with it (or with `stream_finding_key_id`).
    pub finding_key_id: String,
    /// `STREAM_FINDING_KEY_ID` (optional): the stream detector's own key. A finding sealed with it
    /// is a [`Sealer::Stream`] finding.
    pub stream_finding_key_id: Option<String>,
    /// `RELEASE_KEY_ID`: releases must verify with it.
    pub release_key_id: String,
    /// `COMMAND_KEY_ID`: requests to handlers are sealed with it.
    pub command_key_id: String,
    /// `LG_MAX_FINDING_AGE_SECONDS` (default 3600, the wiring stack's `MaximumEventAgeInSeconds`
    /// for the dispatcher; at most 21600, Lambda's longest asynchronous retry).
    pub finding_freshness: Freshness,
    /// `LG_MAX_RELEASE_AGE_SECONDS` (default 900).
    pub release_freshness: Freshness,
}

impl Seals {
    /// From the environment; errors name the variable.
    pub fn from_env(env: &dyn Env) -> Result<Self, CoreError> {
        let age = |name: &str, default: u64, max: u64| -> Result<Freshness, CoreError> {
            let s = config::u64_var(env, name, default, 60, max)?;
            Ok(Freshness { max_age: Duration::seconds(i64::try_from(s).unwrap_or(900)), ..Freshness::commands() })
        };
        let finding_key_id = config::required(env, "FINDING_KEY_ID", "the KMS HMAC key that detectors seal findings with")?;
        let stream_finding_key_id = env.get("STREAM_FINDING_KEY_ID").filter(|k| !k.trim().is_empty());
        if stream_finding_key_id.as_deref() == Some(finding_key_id.as_str()) {
            return Err(CoreError::Config {
                name: "STREAM_FINDING_KEY_ID".into(),
                problem: "is FINDING_KEY_ID: the stream detector's findings are trusted without CloudTrail's event history, so \
                         they need a key of their own that no other detector may seal with; set it to the stack's StreamFindingKeyArn"
                    .into(),
            });
        }
        Ok(Self {
            finding_key_id,
            stream_finding_key_id,
            release_key_id: config::required(env, "RELEASE_KEY_ID", "the KMS HMAC key that people allowed to release seal releases with")?,
            command_key_id: config::required(env, "COMMAND_KEY_ID", "the KMS HMAC key the dispatcher seals handler requests with")?,
            finding_freshness: age("LG_MAX_FINDING_AGE_SECONDS", 3_600, 21_600)?,
            release_freshness: age("LG_MAX_RELEASE_AGE_SECONDS", 900, 3_600)?,
        })
    }
}

fn refused(r: Refusal) -> DispatcherError {
    DispatcherError::InvalidInput(CoreError::Unauthenticated(r))
}

/// Which key verified a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealer {
    /// The finding key: the alarm chain's detector, or a detector you add.
    Detector,
    /// The stream detector's own key: its findings' `delivered_by_aws` records are trusted.
    Stream,
    /// The release key.
    Release,
}

/// Open a sealed finding or release, verify it with the key of its purpose, and parse it.
/// Returns the input, the envelope (whose digest identifies this exact release) and which key
/// verified it.
pub async fn open_input<K: MacVerifier>(
    seals: &Seals,
    kms: &K,
    payload: &[u8],
    now: DateTime<Utc>,
) -> Result<(DispatcherInput, Sealed, Sealer), DispatcherError> {
    let envelope = Sealed::parse(payload).map_err(refused)?;
    let purpose = envelope.purpose;
    let (key, freshness, sealer) = match purpose {
        Purpose::Finding => match &seals.stream_finding_key_id {
            Some(stream) if envelope.key_id == *stream => (stream, seals.finding_freshness, Sealer::Stream),
            _ => (&seals.finding_key_id, seals.finding_freshness, Sealer::Detector),
        },
        Purpose::Release => (&seals.release_key_id, seals.release_freshness, Sealer::Release),
        Purpose::Command => return Err(refused(Refusal::WrongPurpose { found: Purpose::Command, expected: Purpose::Finding })),
    };
    let sealed = open(kms, key, purpose, freshness, payload, now).await.map_err(|f| match f {
        OpenFailure::Refused(r) => refused(r),
        OpenFailure::Kms(error) => DispatcherError::Incomplete {
            failures: vec![Failure {
                part: Part::Seal,
                what: format!("KMS key {key} could not verify the seal, nothing done: {error}"),
                retryable: error.retryable,
            }],
        },
    })?;
    let input = DispatcherInput::parse(decode_payload(sealed.payload.as_bytes(), "dispatcher input")?)?;
    let kind_matches =
        matches!((&input, purpose), (DispatcherInput::Finding(_), Purpose::Finding) | (DispatcherInput::Release(_), Purpose::Release));
    if !kind_matches {
        return Err(refused(Refusal::Malformed { reason: format!("a {purpose} seal must hold a {purpose}, not another kind of payload") }));
    }
    Ok((input, sealed, sealer))
}

/// Seal one handler request with the command key.
pub async fn seal_request<K: MacSigner>(seals: &Seals, kms: &K, req: &ResponseRequest, now: DateTime<Utc>) -> Result<Vec<u8>, CallError> {
    let payload = serde_json::to_string(req).map_err(|e| CallError::new(format!("could not encode the request: {e}"), false))?;
    Ok(seal(kms, &seals.command_key_id, Purpose::Command, payload, now).await?.to_json())
}

/// Key prefix, in the ledger bucket, of the releases already accepted.
pub const RELEASES_PREFIX: &str = "releases/";

/// Accept a sealed release once: the envelope's digest is recorded with a conditional put, and a
/// second delivery of the same envelope (a replay, by anyone) is refused. A person who wants to
/// release again runs `launchguard release` again, which seals a new envelope.
pub async fn accept_release_once<S: ConditionalStore>(store: &S, sealed: &Sealed, now: DateTime<Utc>) -> Result<(), DispatcherError> {
    let key = format!("{RELEASES_PREFIX}{}", sealed.digest());
    let body = serde_json::json!({"accepted_at": now, "issued_at": sealed.issued_at}).to_string().into_bytes();
    match store.put_if_absent(&key, body).await {
        Ok(Put::Written { .. }) => Ok(()),
        Ok(Put::Conflict) => Err(refused(Refusal::Replayed { what: "release".into() })),
        Err(e) => Err(DispatcherError::Incomplete {
            failures: vec![Failure {
                part: Part::Seal,
                what: format!("could not record the release before acting, nothing done: {e}"),
                retryable: e.retryable,
            }],
        }),
    }
}
