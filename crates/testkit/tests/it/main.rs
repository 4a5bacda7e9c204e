//! The integration tests of this crate, one binary (each test binary links the crate and its
//! dependencies again, the AWS SDK among them): one module per concern.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod alarms;
mod bursts;
mod deploy;
mod policies;
mod ra;
mod review30;
mod routes;
mod rv;
mod rvd;
