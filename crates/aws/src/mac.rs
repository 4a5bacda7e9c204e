//! Sealing and opening payloads with KMS HMAC keys (see `launchguard_core::auth`).
//!
//! Two capabilities, one trait each: making a MAC ([`MacSigner`], `kms:GenerateMac`) and checking
//! one ([`MacVerifier`], `kms:VerifyMac`). [`Kms`] implements both over the SDK client; the
//! `test-util` feature adds [`MemoryKms`], an in-memory KMS with real HMAC-SHA-256 keys.

use std::fmt;
use std::future::Future;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;
use chrono::{DateTime, Utc};
use launchguard_core::auth::{Freshness, Purpose, Refusal, Sealed};

use crate::{CallError, InvokeResponse, Invoker, classify};

/// `kms:GenerateMac`.
pub trait MacSigner: Send + Sync {
    /// The HMAC-SHA-256 of `message` under `key_id`.
    fn generate_mac(&self, key_id: &str, message: &[u8]) -> impl Future<Output = Result<Vec<u8>, CallError>> + Send;
}

/// `kms:VerifyMac`.
pub trait MacVerifier: Send + Sync {
    /// Whether `mac` is the HMAC-SHA-256 of `message` under `key_id`. `Ok(false)` for a wrong
    /// MAC; `Err` only when KMS could not answer.
    fn verify_mac(&self, key_id: &str, message: &[u8], mac: &[u8]) -> impl Future<Output = Result<bool, CallError>> + Send;
}

/// [`MacSigner`] and [`MacVerifier`] over the KMS SDK client.
#[derive(Debug, Clone)]
pub struct Kms(pub aws_sdk_kms::Client);

impl MacSigner for Kms {
    async fn generate_mac(&self, key_id: &str, message: &[u8]) -> Result<Vec<u8>, CallError> {
        let out = self
            .0
            .generate_mac()
            .key_id(key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(|e| classify("kms:GenerateMac", e))?;
        out.mac().map(|b| b.as_ref().to_vec()).ok_or_else(|| CallError::new("kms:GenerateMac: the answer holds no Mac", true))
    }
}

impl MacVerifier for Kms {
    async fn verify_mac(&self, key_id: &str, message: &[u8], mac: &[u8]) -> Result<bool, CallError> {
        let sent = self
            .0
            .verify_mac()
            .key_id(key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .mac(Blob::new(mac))
            .send()
            .await;
        match sent {
            Ok(out) => Ok(out.mac_valid()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_kms_invalid_mac_exception()) => Ok(false),
            Err(e) => Err(classify("kms:VerifyMac", e)),
        }
    }
}

/// Why a sealed payload was not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenFailure {
    /// Not authentic, stale, or not sealed at all: refuse, nothing done, never retry.
    Refused(Refusal),
    /// KMS could not answer: nothing done; a retry may work when `retryable`.
    Kms(CallError),
}

impl fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(r) => write!(f, "{r}"),
            Self::Kms(e) => write!(f, "could not verify the seal with KMS, nothing done: {e}"),
        }
    }
}

impl std::error::Error for OpenFailure {}

/// Seal `payload` for `purpose` with `key_id`.
pub async fn seal<S: MacSigner>(
    signer: &S,
    key_id: &str,
    purpose: Purpose,
    payload: String,
    now: DateTime<Utc>,
) -> Result<Sealed, CallError> {
    let mac = signer.generate_mac(key_id, &Sealed::message_for(purpose, now, &payload)).await?;
    Ok(Sealed::new(purpose, now, key_id, payload, &mac))
}

/// Open a sealed payload: its form, its purpose, its age, then its MAC with *our* `key_id`
/// (the envelope's own key id is never used). The cheap checks run first, so a forged or stale
/// payload costs no KMS call.
pub async fn open<V: MacVerifier>(
    verifier: &V,
    key_id: &str,
    purpose: Purpose,
    freshness: Freshness,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<Sealed, OpenFailure> {
    let sealed = Sealed::parse(bytes).map_err(OpenFailure::Refused)?;
    sealed.expect(purpose).map_err(OpenFailure::Refused)?;
    freshness.check(sealed.issued_at, now).map_err(OpenFailure::Refused)?;
    match verifier.verify_mac(key_id, &sealed.message(), &sealed.mac_bytes()).await {
        Ok(true) => Ok(sealed),
        Ok(false) => Err(OpenFailure::Refused(Refusal::BadMac { key_id: key_id.to_owned() })),
        Err(e) => Err(OpenFailure::Kms(e)),
    }
}

/// An [`Invoker`] that seals every payload for `purpose` with `key_id` before sending it: how the
/// detector sends findings (`Purpose::Finding`, `FINDING_KEY_ID`).
#[derive(Debug, Clone)]
pub struct SealingInvoker<I, S> {
    /// The invoker that sends.
    pub inner: I,
    /// Who makes the MACs.
    pub signer: S,
    /// The key.
    pub key_id: String,
    /// What the payloads are.
    pub purpose: Purpose,
}

impl<I: Invoker, S: MacSigner> SealingInvoker<I, S> {
    async fn sealed(&self, payload: Vec<u8>) -> Result<Vec<u8>, CallError> {
        let text = String::from_utf8(payload).map_err(|e| CallError::new(format!("payload is not UTF-8: {e}"), false))?;
        Ok(seal(&self.signer, &self.key_id, self.purpose, text, Utc::now()).await?.to_json())
    }
}

impl<I: Invoker, S: MacSigner> Invoker for SealingInvoker<I, S> {
    async fn invoke_async(&self, function: &str, payload: Vec<u8>) -> Result<(), CallError> {
        let sealed = self.sealed(payload).await?;
        self.inner.invoke_async(function, sealed).await
    }

    async fn invoke_sync(&self, function: &str, payload: Vec<u8>) -> Result<InvokeResponse, CallError> {
        let sealed = self.sealed(payload).await?;
        self.inner.invoke_sync(function, sealed).await
    }
}

#[cfg(feature = "test-util")]
pub use memory::MemoryKms;

#[cfg(feature = "test-util")]
mod memory {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    use chrono::{DateTime, Utc};
    use hmac::{Hmac, Mac};
    use launchguard_core::auth::{Purpose, Sealed};
    use sha2::Sha256;

    use super::{MacSigner, MacVerifier};
    use crate::CallError;

    /// An in-memory KMS: named HMAC-SHA-256 keys with random-looking secrets, and a log of calls.
    #[derive(Debug, Default)]
    pub struct MemoryKms {
        keys: Mutex<BTreeMap<String, Vec<u8>>>,
        calls: Mutex<Vec<String>>,
    }

    impl MemoryKms {
        /// A KMS holding one key per id given.
        pub fn with_keys(ids: &[&str]) -> Self {
            let kms = Self::default();
            for id in ids {
                kms.add_key(id);
            }
            kms
        }

        /// Add a key. Every key of every `MemoryKms` has its own secret, so a key of the same
        /// name in another instance is another key (an attacker's account, say).
        pub fn add_key(&self, id: &str) {
            static SERIAL: AtomicU64 = AtomicU64::new(0);
            let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
            let secret: Vec<u8> = id.bytes().chain(*b"launchguard-memory-kms").chain(serial.to_le_bytes()).collect();
            self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.to_owned(), secret);
        }

        /// Every call so far: `GenerateMac <key>` / `VerifyMac <key>`.
        pub fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
        }

        /// Seal `payload` for `purpose` with `key_id` at `at`, as the real sealers do; panics on
        /// an unknown key (a test that seals with a missing key is wrong).
        pub fn sealed(&self, key_id: &str, purpose: Purpose, payload: &str, at: DateTime<Utc>) -> Vec<u8> {
            #[allow(clippy::expect_used)] // test support: an unknown key is a bug in the test
            let mac = self.mac("GenerateMac", key_id, &Sealed::message_for(purpose, at, payload)).expect("the test key exists");
            Sealed::new(purpose, at, key_id, payload.to_owned(), &mac).to_json()
        }

        fn mac(&self, op: &str, key_id: &str, message: &[u8]) -> Result<Vec<u8>, CallError> {
            self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(format!("{op} {key_id}"));
            let keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let secret = keys.get(key_id).ok_or_else(|| CallError {
                message: format!("kms:{op}: key {key_id} does not exist (NotFoundException)"),
                code: Some("NotFoundException".into()),
                retryable: false,
            })?;
            let mut m = Hmac::<Sha256>::new_from_slice(secret).map_err(|e| CallError::new(e.to_string(), false))?;
            m.update(message);
            Ok(m.finalize().into_bytes().to_vec())
        }
    }

    impl MacSigner for MemoryKms {
        async fn generate_mac(&self, key_id: &str, message: &[u8]) -> Result<Vec<u8>, CallError> {
            self.mac("GenerateMac", key_id, message)
        }
    }

    impl MacVerifier for MemoryKms {
        async fn verify_mac(&self, key_id: &str, message: &[u8], mac: &[u8]) -> Result<bool, CallError> {
            Ok(self.mac("VerifyMac", key_id, message)? == mac)
        }
    }
}
