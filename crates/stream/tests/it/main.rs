//! The integration tests of this crate, one binary: one module per concern.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod atk;
mod attacks;
mod common;
mod dead_letters;
mod faults;
mod fr;
mod path;
mod proof;
mod rv;
mod tgt;
