//! [`Source`] over an S3 prefix (`s3://bucket/prefix`): every object under it, listed page by
//! page, each fetched when a worker reaches it (one object in memory per worker: a delivery file
//! is a few megabytes at most). The endpoint, region and credentials come from the usual AWS
//! settings (`AWS_ENDPOINT_URL_S3` for an emulator, which also turns on path-style addressing).

use std::io::{Cursor, Read};

use aws_sdk_s3::Client;
use tokio::runtime::Runtime;

use super::source::{Input, Source, is_digest};
use crate::CliError;

/// `s3://bucket/prefix` split into its bucket and prefix.
pub fn parse_url(url: &str) -> Result<(String, String), CliError> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| CliError::Usage(format!("{url}: expected s3://bucket/prefix")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(CliError::Usage(format!("{url}: no bucket; expected s3://bucket/prefix")));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// The objects under one S3 prefix.
#[derive(Debug)]
pub struct S3Source {
    client: Client,
    runtime: Runtime,
    bucket: String,
    prefix: String,
}

impl S3Source {
    /// A source for `s3://bucket/prefix`, with the SDK configuration of the environment and of
    /// `--region`/`--profile` (refused when no region is set).
    pub fn new(url: &str, aws: &crate::aws::AwsArgs) -> Result<Self, CliError> {
        let (bucket, prefix) = parse_url(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| CliError::Input { source_name: url.into(), reason: format!("cannot start the AWS client runtime: {e}") })?;
        let client = runtime.block_on(async { aws.sdk_config().await.map(|sdk| launchguard_aws::s3_client(&sdk)) })?;
        Ok(Self { client, runtime, bucket, prefix })
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl Source for S3Source {
    fn list(&self) -> Result<Vec<Input>, CliError> {
        self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(&self.prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| CliError::Aws {
                    what: format!("listing s3://{}/{}", self.bucket, self.prefix),
                    reason: launchguard_aws::classify("s3:ListObjectsV2", e).message,
                })?;
                for o in page.contents() {
                    let Some(key) = o.key() else { continue };
                    if key.ends_with('/') || is_digest(&format!("/{key}")) {
                        continue;
                    }
                    out.push(Input { name: self.url(key), size: o.size().and_then(|s| u64::try_from(s).ok()), ..Input::default() });
                }
            }
            Ok(out)
        })
    }

    fn open(&self, input: &Input) -> Result<Box<dyn Read + Send>, CliError> {
        let key = input.name.strip_prefix(&format!("s3://{}/", self.bucket)).unwrap_or(&input.name).to_owned();
        let bytes = self.runtime.handle().block_on(async {
            let obj = self.client.get_object().bucket(&self.bucket).key(&key).send().await.map_err(|e| CliError::Aws {
                what: format!("reading {}", input.name),
                reason: launchguard_aws::classify("s3:GetObject", e).message,
            })?;
            obj.body
                .collect()
                .await
                .map(|b| b.into_bytes())
                .map_err(|e| CliError::Input { source_name: input.name.clone(), reason: format!("the download stopped: {e}") })
        })?;
        Ok(Box::new(Cursor::new(bytes)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse_url("s3://trail/AWSLogs/1/").unwrap(), ("trail".into(), "AWSLogs/1/".into()));
        assert_eq!(parse_url("s3://trail").unwrap(), ("trail".into(), String::new()));
        assert!(parse_url("s3:///x").is_err());
        assert!(parse_url("/tmp/x").is_err());
    }
}
