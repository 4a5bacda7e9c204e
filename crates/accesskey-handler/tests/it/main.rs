//! The integration tests of this crate, one binary (each test binary links the crate and its
//! dependencies again, the AWS SDK among them): one module per concern.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod all_keys;
mod created_keys;
mod handler;
mod self_release;
