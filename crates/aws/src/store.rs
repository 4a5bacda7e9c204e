//! A key-value store with conditional writes: the ledger's (and the replay records') storage.
//!
//! Two deliveries of the same event that race must not both act: whoever writes a key first
//! wins (`put_if_absent`), and a record is only replaced by someone who read its latest version
//! (`put_if_match`). Everything else is a [`Put::Conflict`] the caller must re-read and decide on.
//!
//! [`S3Store`] is the implementation over S3 conditional writes (`If-None-Match: *`, `If-Match`);
//! [`MemoryStore`] (feature `test-util`) is the in-memory one the tests share.

use std::future::Future;

use aws_sdk_s3::primitives::ByteStream;

use crate::{CallError, classify};

/// One stored object: its bytes and the version tag a conditional replace must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The object's content.
    pub body: Vec<u8>,
    /// The entity tag of this version (opaque; give it back to [`ConditionalStore::put_if_match`]).
    pub etag: String,
}

/// The result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// The object was written; this is its new entity tag.
    Written {
        /// The entity tag of the version just written.
        etag: String,
    },
    /// The condition did not hold (HTTP 412), or another conditional write of the same key was
    /// in flight (HTTP 409): someone else wrote first. Re-read the key and decide again.
    Conflict,
}

/// A store with conditional writes. Keys are relative to the store's own prefix.
pub trait ConditionalStore: Send + Sync {
    /// The object at `key`, or `None` when there is none.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Stored>, CallError>> + Send;
    /// Write `body` at `key` only when no object is there (`If-None-Match: *`).
    fn put_if_absent(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<Put, CallError>> + Send;
    /// Replace the object at `key` only when its entity tag is still `etag` (`If-Match`).
    fn put_if_match(&self, key: &str, body: Vec<u8>, etag: &str) -> impl Future<Output = Result<Put, CallError>> + Send;
    /// Every key under `prefix` (all pages), sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, CallError>> + Send;
}

/// Writing one object, unconditionally (a rendered report: the same key always holds the same
/// content, so a second write changes nothing).
pub trait ObjectPut: Send + Sync {
    /// `s3:PutObject` of `body` at `key` with its content type.
    fn put_object(&self, key: &str, body: Vec<u8>, content_type: &str) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// A link that lets whoever holds it read one object for a bounded time.
pub trait PresignGet: Send + Sync {
    /// A pre-signed `GET` URL of `key`, valid for `expires` (S3 allows at most 7 days; the URL
    /// stops working earlier when the signing credentials expire).
    fn presign_get(&self, key: &str, expires: std::time::Duration) -> impl Future<Output = Result<String, CallError>> + Send;
}

/// The longest a pre-signed URL may live (S3 SigV4: 7 days).
pub const MAX_PRESIGN: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// [`ConditionalStore`] over S3 conditional writes, in one bucket under one key prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// A store in `bucket` whose keys are all under `prefix` (e.g. `ledger/`; may be empty).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into(), prefix: prefix.into() }
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The object's URL for people and records: `s3://bucket/prefix/key`.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.full(key))
    }
}

impl ObjectPut for S3Store {
    async fn put_object(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), CallError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("s3:PutObject", e))
    }
}

impl PresignGet for S3Store {
    async fn presign_get(&self, key: &str, expires: std::time::Duration) -> Result<String, CallError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires.min(MAX_PRESIGN))
            .map_err(|e| CallError::new(format!("presigning {key}: {e}"), false))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .presigned(config)
            .await
            .map_err(|e| classify("s3:GetObject (presign)", e))?;
        Ok(req.uri().to_owned())
    }
}

/// HTTP 412 (`PreconditionFailed`) and 409 (`ConditionalRequestConflict`) are the store's
/// answer "someone else wrote first", not failures.
fn is_conflict(e: &CallError, status: Option<u16>) -> bool {
    matches!(status, Some(412 | 409)) || matches!(e.code.as_deref(), Some("PreconditionFailed" | "ConditionalRequestConflict"))
}

fn put_result(
    op: &str,
    r: Result<
        aws_sdk_s3::operation::put_object::PutObjectOutput,
        aws_sdk_s3::error::SdkError<
            aws_sdk_s3::operation::put_object::PutObjectError,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
) -> Result<Put, CallError> {
    match r {
        Ok(out) => Ok(Put::Written { etag: out.e_tag().unwrap_or_default().to_owned() }),
        Err(err) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let e = classify(op, err);
            if is_conflict(&e, status) { Ok(Put::Conflict) } else { Err(e) }
        }
    }
}

impl ConditionalStore for S3Store {
    async fn get(&self, key: &str) -> Result<Option<Stored>, CallError> {
        let out = match self.client.get_object().bucket(&self.bucket).key(self.full(key)).send().await {
            Ok(out) => out,
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                let e = classify("s3:GetObject", err);
                if status == Some(404) || e.code.as_deref() == Some("NoSuchKey") {
                    return Ok(None);
                }
                return Err(e);
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| CallError::new(format!("s3:GetObject {key}: the body could not be read ({e})"), true))?
            .into_bytes()
            .to_vec();
        Ok(Some(Stored { body, etag }))
    }

    async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<Put, CallError> {
        let r = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await;
        put_result("s3:PutObject (If-None-Match)", r)
    }

    async fn put_if_match(&self, key: &str, body: Vec<u8>, etag: &str) -> Result<Put, CallError> {
        let r = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .if_match(etag)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await;
        put_result("s3:PutObject (If-Match)", r)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut keys = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(self.full(prefix)).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("s3:ListObjectsV2", e))?;
            for o in page.contents() {
                if let Some(k) = o.key().and_then(|k| k.strip_prefix(self.prefix.as_str())) {
                    keys.push(k.to_owned());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(feature = "test-util")]
pub use memory::{MemoryStore, StoreCall, StoreOp};

#[cfg(feature = "test-util")]
mod memory {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex, MutexGuard};

    use super::{ConditionalStore, ObjectPut, PresignGet, Put, Stored};
    use crate::CallError;

    /// An operation of [`ConditionalStore`], for recording calls and injecting failures.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum StoreOp {
        /// [`ConditionalStore::get`]
        Get,
        /// [`ConditionalStore::put_if_absent`]
        PutIfAbsent,
        /// [`ConditionalStore::put_if_match`]
        PutIfMatch,
        /// [`ConditionalStore::list`]
        List,
        /// [`ObjectPut::put_object`](super::ObjectPut::put_object)
        Put,
        /// [`PresignGet::presign_get`](super::PresignGet::presign_get)
        Presign,
    }

    /// One call the store received (failed ones included).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoreCall {
        /// Which operation.
        pub op: StoreOp,
        /// Its key (the prefix, for `list`).
        pub key: String,
    }

    #[derive(Debug, Default)]
    struct State {
        objects: BTreeMap<String, Stored>,
        calls: Vec<StoreCall>,
        failures: HashMap<StoreOp, (usize, bool)>,
        version: u64,
    }

    /// An in-memory [`ConditionalStore`] with S3's semantics. Clones share the same objects.
    /// It records every call and can be told to fail the next calls of an operation.
    #[derive(Debug, Clone, Default)]
    pub struct MemoryStore(Arc<Mutex<State>>);

    impl MemoryStore {
        fn state(&self) -> MutexGuard<'_, State> {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        /// Fail the next `n` calls of `op` with a retryable (throttling) or final (access denied)
        /// error; the store is not changed by a failed call.
        pub fn fail_next(&self, op: StoreOp, n: usize, retryable: bool) {
            self.state().failures.insert(op, (n, retryable));
        }

        /// Every call so far, in order.
        pub fn calls(&self) -> Vec<StoreCall> {
            self.state().calls.clone()
        }

        /// The calls of one operation so far.
        pub fn calls_of(&self, op: StoreOp) -> usize {
            self.state().calls.iter().filter(|c| c.op == op).count()
        }

        /// The object at `key`, without recording a call.
        pub fn object(&self, key: &str) -> Option<Stored> {
            self.state().objects.get(key).cloned()
        }

        /// Every key, sorted, without recording a call.
        pub fn keys(&self) -> Vec<String> {
            self.state().objects.keys().cloned().collect()
        }

        /// Write `body` at `key` unconditionally, without recording a call (someone else's
        /// write, e.g. tampering in a test). Returns the new entity tag.
        pub fn insert(&self, key: &str, body: Vec<u8>) -> String {
            let mut s = self.state();
            Self::write(&mut s, key, body)
        }

        fn write(s: &mut State, key: &str, body: Vec<u8>) -> String {
            s.version += 1;
            let etag = format!("\"m{}\"", s.version);
            s.objects.insert(key.to_owned(), Stored { body, etag: etag.clone() });
            etag
        }

        /// Record the call; the injected failure, if one is due.
        fn enter(&self, op: StoreOp, key: &str) -> Result<MutexGuard<'_, State>, CallError> {
            let mut s = self.state();
            s.calls.push(StoreCall { op, key: key.to_owned() });
            if let Some((n, retryable)) = s.failures.get_mut(&op)
                && *n > 0
            {
                *n -= 1;
                let retryable = *retryable;
                let (code, what) = if retryable { ("SlowDown", "HTTP 503") } else { ("AccessDenied", "HTTP 403") };
                return Err(CallError {
                    message: format!("memory store {op:?} {key}: injected failure ({code}; {what})"),
                    code: Some(code.to_owned()),
                    retryable,
                });
            }
            Ok(s)
        }
    }

    impl ConditionalStore for MemoryStore {
        async fn get(&self, key: &str) -> Result<Option<Stored>, CallError> {
            let s = self.enter(StoreOp::Get, key)?;
            Ok(s.objects.get(key).cloned())
        }

        async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<Put, CallError> {
            let mut s = self.enter(StoreOp::PutIfAbsent, key)?;
            if s.objects.contains_key(key) {
                return Ok(Put::Conflict);
            }
            Ok(Put::Written { etag: Self::write(&mut s, key, body) })
        }

        async fn put_if_match(&self, key: &str, body: Vec<u8>, etag: &str) -> Result<Put, CallError> {
            let mut s = self.enter(StoreOp::PutIfMatch, key)?;
            match s.objects.get(key) {
                Some(o) if o.etag == etag => Ok(Put::Written { etag: Self::write(&mut s, key, body) }),
                _ => Ok(Put::Conflict),
            }
        }

        async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
            let s = self.enter(StoreOp::List, prefix)?;
            Ok(s.objects.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
        }
    }

    impl ObjectPut for MemoryStore {
        /// The content type is not kept; the body is, at `key`.
        async fn put_object(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), CallError> {
            let mut s = self.enter(StoreOp::Put, key)?;
            Self::write(&mut s, key, body);
            Ok(())
        }
    }

    impl PresignGet for MemoryStore {
        /// `memory:///<key>?X-Amz-Expires=<seconds>`: the shape of a pre-signed URL, for tests.
        async fn presign_get(&self, key: &str, expires: std::time::Duration) -> Result<String, CallError> {
            let _s = self.enter(StoreOp::Presign, key)?;
            Ok(format!("memory:///{key}?X-Amz-Expires={}", expires.min(super::MAX_PRESIGN).as_secs()))
        }
    }
}
