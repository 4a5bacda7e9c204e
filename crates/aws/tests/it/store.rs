//! The S3 store with the SDK's mock client (412 and 409 are conflicts, 404 is absence, listing
//! follows every page), and the in-memory store with the same semantics.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use launchguard_aws::store::{ConditionalStore, MemoryStore, Put, S3Store, StoreOp, Stored};

fn s3_error(status: u16, code: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!("<Error><Code>{code}</Code><Message>from the test</Message><RequestId>r</RequestId></Error>")),
    )
}

fn fast(c: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
    c.retry_config(RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(1)))
}

#[tokio::test]
async fn put_if_absent_sends_if_none_match_under_the_prefix_and_412_is_a_conflict() {
    let written = mock!(Client::put_object)
        .match_requests(|r| r.bucket() == Some("lg-ledger") && r.key() == Some("ledger/findings/lg-1") && r.if_none_match() == Some("*"))
        .then_output(|| PutObjectOutput::builder().e_tag("\"e1\"").build());
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&written]);
    let store = S3Store::new(client, "lg-ledger", "ledger/");
    assert_eq!(store.put_if_absent("findings/lg-1", b"{}".to_vec()).await.unwrap(), Put::Written { etag: "\"e1\"".into() });

    let taken = mock!(Client::put_object).then_http_response(|| s3_error(412, "PreconditionFailed"));
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&taken]);
    let store = S3Store::new(client, "lg-ledger", "ledger/");
    assert_eq!(store.put_if_absent("findings/lg-1", b"{}".to_vec()).await.unwrap(), Put::Conflict);
    assert_eq!(taken.num_calls(), 1, "a conflict is an answer, not something to retry");
}

#[tokio::test]
async fn put_if_match_sends_the_etag_and_409_is_a_conflict() {
    let rule = mock!(Client::put_object)
        .match_requests(|r| r.if_match() == Some("\"e1\"") && r.if_none_match().is_none())
        .then_http_response(|| s3_error(409, "ConditionalRequestConflict"));
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&rule], fast);
    let store = S3Store::new(client, "b", "ledger/");
    assert_eq!(store.put_if_match("k", b"{}".to_vec(), "\"e1\"").await.unwrap(), Put::Conflict);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn denial_is_final_and_throttling_retryable() {
    let rule = mock!(Client::put_object).then_http_response(|| s3_error(403, "AccessDenied"));
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&rule], fast);
    let e = S3Store::new(client, "b", "").put_if_absent("k", vec![]).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(e.message.contains("s3:PutObject") && e.message.contains("AccessDenied"), "{e}");

    let rule = mock!(Client::put_object).then_http_response(|| s3_error(503, "SlowDown"));
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&rule], fast);
    let e = S3Store::new(client, "b", "").put_if_match("k", vec![], "\"e\"").await.unwrap_err();
    assert!(e.retryable, "{e}");
}

#[tokio::test]
async fn get_returns_body_and_etag_and_absence_is_none() {
    let rule = mock!(Client::get_object)
        .match_requests(|r| r.key() == Some("ledger/k"))
        .then_output(|| GetObjectOutput::builder().e_tag("\"e7\"").body(ByteStream::from_static(b"{\"a\":1}")).build());
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&rule]);
    let got = S3Store::new(client, "b", "ledger/").get("k").await.unwrap();
    assert_eq!(got, Some(Stored { body: b"{\"a\":1}".to_vec(), etag: "\"e7\"".into() }));

    let rule = mock!(Client::get_object).then_http_response(|| s3_error(404, "NoSuchKey"));
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&rule]);
    assert_eq!(S3Store::new(client, "b", "ledger/").get("k").await.unwrap(), None);

    let rule = mock!(Client::get_object).then_http_response(|| s3_error(403, "AccessDenied"));
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&rule]);
    assert!(!S3Store::new(client, "b", "ledger/").get("k").await.unwrap_err().retryable);
}

#[tokio::test]
async fn list_follows_every_page_strips_the_store_prefix_and_sorts() {
    let page1 = mock!(Client::list_objects_v2)
        .match_requests(|r| r.prefix() == Some("ledger/findings/") && r.continuation_token().is_none())
        .then_output(|| {
            ListObjectsV2Output::builder()
                .contents(Object::builder().key("ledger/findings/lg-b").build())
                .contents(Object::builder().key("ledger/findings/lg-c").build())
                .is_truncated(true)
                .next_continuation_token("t2")
                .build()
        });
    let page2 = mock!(Client::list_objects_v2).match_requests(|r| r.continuation_token() == Some("t2")).then_output(|| {
        ListObjectsV2Output::builder().contents(Object::builder().key("ledger/findings/lg-a").build()).is_truncated(false).build()
    });
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&page1, &page2]);
    let keys = S3Store::new(client, "b", "ledger/").list("findings/").await.unwrap();
    assert_eq!(keys, ["findings/lg-a", "findings/lg-b", "findings/lg-c"]);
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
}

#[tokio::test]
async fn memory_store_has_the_same_semantics_and_injects_failures() {
    let m = MemoryStore::default();
    let Put::Written { etag } = m.put_if_absent("a/1", b"one".to_vec()).await.unwrap() else { panic!("first write wins") };
    assert_eq!(m.put_if_absent("a/1", b"two".to_vec()).await.unwrap(), Put::Conflict);
    assert_eq!(m.put_if_match("a/1", b"two".to_vec(), "\"stale\"").await.unwrap(), Put::Conflict);
    let Put::Written { etag: e2 } = m.put_if_match("a/1", b"two".to_vec(), &etag).await.unwrap() else { panic!("fresh etag") };
    assert_ne!(etag, e2);
    assert_eq!(m.put_if_match("a/1", b"three".to_vec(), &etag).await.unwrap(), Put::Conflict, "an old etag no longer matches");
    assert_eq!(m.get("a/1").await.unwrap().unwrap().body, b"two");
    assert_eq!(m.put_if_match("a/none", vec![], &e2).await.unwrap(), Put::Conflict, "If-Match on a missing key fails");
    m.insert("a/0", vec![]);
    m.insert("b/0", vec![]);
    assert_eq!(m.list("a/").await.unwrap(), ["a/0", "a/1"]);

    m.fail_next(StoreOp::PutIfAbsent, 2, true);
    assert!(m.put_if_absent("c", vec![]).await.unwrap_err().retryable);
    assert!(m.put_if_absent("c", vec![]).await.unwrap_err().retryable);
    assert!(matches!(m.put_if_absent("c", vec![]).await.unwrap(), Put::Written { .. }), "the third call succeeds");
    m.fail_next(StoreOp::Get, 1, false);
    assert!(!m.get("c").await.unwrap_err().retryable);
    assert_eq!(m.calls_of(StoreOp::PutIfAbsent), 5);
    assert_eq!(m.calls().last().unwrap().key, "c");
}
