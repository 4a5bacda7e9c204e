//! The integration tests of this crate, one binary (each test binary links the crate and its
//! dependencies again, the AWS SDK among them): one module per concern.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod alarm;
mod attacks;
mod auth_props;
mod burst;
mod classify;
mod contract;
mod created_keys_review;
mod ec2_contract;
mod evidence_props;
mod fit_launches;
mod launch_routes;
mod limits;
mod paced_evidence;
mod props;
mod protected_iam;
mod ra;
mod rc;
mod records;
mod resize_attacks;
mod review3;
mod review30;
mod rules;
mod rv;
mod rvd;
mod schemas;
mod stream;
mod text;
mod verdict_props;
