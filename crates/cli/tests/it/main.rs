//! The integration tests of this crate, one binary (each test binary links the crate and its
//! dependencies again, the AWS SDK among them): one module per concern.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod aws_errors;
mod exit_codes;
mod one_pass;
mod output;
mod readme;
mod release;
mod report;
mod review2;
mod review3;
mod rules_cmd;
mod rvd;
mod scan;
mod scan_inputs;
mod scan_props;
mod schemas;
mod windows;
