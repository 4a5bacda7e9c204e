//! An AWS error is one line a person can act on: the service and operation, AWS's code and
//! message, or what failed on the way (the network, the credentials), never a debug dump of
//! the SDK's types (issue 31: about 900 characters of `DispatchFailure { source: ... }`).

use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;
use launchguard_aws::{NO_CREDENTIALS, UNREACHABLE, classify};

fn one_line_without_dump(msg: &str) {
    assert!(!msg.contains('\n'), "{msg}");
    for dump in ["DispatchFailure {", "ConnectorError {", "source:", "Some(", "kind:"] {
        assert!(!msg.contains(dump), "a debug dump: {msg}");
    }
    assert!(msg.len() < 300, "{} characters: {msg}", msg.len());
}

#[test]
fn a_service_error_names_the_operation_and_aws_code_and_message() {
    let meta = ErrorMetadata::builder().code("AccessDenied").message("Access Denied").build();
    let raw = HttpResponse::new(StatusCode::try_from(403).unwrap(), SdkBody::empty());
    let e = classify("s3:ListObjectsV2", SdkError::service_error(ListObjectsV2Error::generic(meta), raw));
    assert_eq!(e.message, "s3:ListObjectsV2: Access Denied (AccessDenied; HTTP 403)");
    assert_eq!((e.code.as_deref(), e.retryable), (Some("AccessDenied"), false));
    one_line_without_dump(&e.message);
}

#[test]
fn an_unreachable_endpoint_is_one_line_from_the_chain_of_causes() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "tcp connect error: Connection refused (os error 111)");
    let err: SdkError<ListObjectsV2Error, HttpResponse> = SdkError::dispatch_failure(ConnectorError::io(Box::new(io)));
    let e = classify("s3:ListObjectsV2", err);
    assert!(e.message.starts_with(&format!("s3:ListObjectsV2: {UNREACHABLE}: ")), "{}", e.message);
    assert!(e.message.contains("Connection refused"), "{}", e.message);
    assert!(e.retryable);
    one_line_without_dump(&e.message);
}

#[test]
fn missing_credentials_are_named_as_such() {
    let why = std::io::Error::other("no providers in chain provided credentials");
    let err: SdkError<ListObjectsV2Error, HttpResponse> = SdkError::dispatch_failure(ConnectorError::user(Box::new(why)));
    let e = classify("s3:ListObjectsV2", err);
    assert!(e.message.starts_with(&format!("s3:ListObjectsV2: {NO_CREDENTIALS}: ")), "{}", e.message);
    assert!(!e.retryable);
    one_line_without_dump(&e.message);
}
