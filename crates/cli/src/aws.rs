//! What every subcommand that calls AWS shares: `--region` and `--profile`, the check that a
//! region is set, and what to do about an AWS error (from AWS's error code, which
//! [`launchguard_aws::classify`] puts in every message: `op: message (Code; HTTP n)`).

use clap::Args;
use launchguard_aws::{NO_CREDENTIALS, UNREACHABLE};

use crate::CliError;

/// `--region` and `--profile`, flattened into every subcommand that calls AWS.
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// The AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, or the profile's `region`).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// A named profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, or
    /// `default`): its keys, or the role it assumes, and its region.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// What to do when no region is set anywhere.
pub const NO_REGION: &str = "no AWS region is set: give --region (--region us-east-1), set AWS_REGION, or put \
`region = us-east-1` in your profile of ~/.aws/config (the one --profile or AWS_PROFILE names)";

impl AwsArgs {
    /// The SDK configuration with these settings, refused (bad usage) when no region is set.
    pub async fn sdk_config(&self) -> Result<aws_config::SdkConfig, CliError> {
        let sdk = launchguard_aws::load_sdk_config_for(self.region.clone(), self.profile.clone()).await;
        if sdk.region().is_none() {
            return Err(CliError::Usage(NO_REGION.into()));
        }
        Ok(sdk)
    }
}

/// AWS's error code in a message of [`launchguard_aws::classify`]: `... (Code; HTTP 403)`.
pub fn error_code(message: &str) -> Option<&str> {
    let open = message.rfind(" (")?;
    let (code, rest) = message[open + 2..].split_once("; HTTP ")?;
    (rest.ends_with(')') && !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')).then_some(code)
}

/// What a person can do about an AWS error, from its code (or what failed on the way).
pub fn advice(message: &str) -> &'static str {
    match error_code(message) {
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "AuthorizationError"
            | "AuthorizationErrorException"
            | "AllAccessDisabled",
        ) => {
            "your identity (aws sts get-caller-identity) lacks this permission: use --profile with one that has it, or ask for it (SECURITY.md lists what each command needs)"
        }
        Some(
            "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidAccessKeyId"
            | "InvalidToken",
        ) => "your credentials are expired or wrong: refresh them (aws sso login, aws configure) or choose others with --profile",
        Some("NoSuchBucket") => "no such bucket: check its name, and --region",
        Some("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException") => {
            "the bucket is in another region: give its region with --region"
        }
        Some("ResourceNotFoundException" | "NoSuchKey" | "NotFoundException") => {
            "not found: check the name and --region (is launchguard deployed in this account and region?)"
        }
        Some(c) if c.contains("Throttl") || c.contains("TooManyRequests") || c == "RequestLimitExceeded" || c == "SlowDown" => {
            "AWS is throttling the calls: wait a minute and run it again"
        }
        _ if message.contains(NO_CREDENTIALS) => {
            "give credentials: --profile NAME (aws configure --profile NAME), AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        }
        _ if message.contains(UNREACHABLE) || message.contains("timed out") => {
            "check your network, --region, and AWS_ENDPOINT_URL if you set one"
        }
        _ => "read AWS's message above; `aws sts get-caller-identity` shows who you are, --region and --profile choose where and as whom",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_read_from_classifys_message_and_names_what_to_do() {
        let denied = "s3:ListObjectsV2: Access Denied (AccessDenied; HTTP 403)";
        assert_eq!(error_code(denied), Some("AccessDenied"));
        assert!(advice(denied).contains("--profile"));
        assert!(advice("s3:ListObjectsV2: The specified bucket does not exist (NoSuchBucket; HTTP 404)").contains("bucket"));
        assert!(advice("logs:FilterLogEvents: Rate exceeded (ThrottlingException; HTTP 400)").contains("wait"));
        assert!(advice(&format!("sts:GetCallerIdentity: {NO_CREDENTIALS}: no providers")).contains("AWS_ACCESS_KEY_ID"));
        assert!(advice(&format!("s3:GetObject: {UNREACHABLE}: Connection refused")).contains("network"));
        // text an attacker controls cannot pose as a code: only `(Code; HTTP n)` at the end is one
        assert_eq!(error_code("x: (AccessDenied; HTTP 403) and more"), None);
        assert_eq!(error_code("x: a b (no code; HTTP 500)"), None);
    }
}
