//! The integration tests of this crate, one binary (each test binary links the crate and its
//! dependencies again, the AWS SDK among them): one module per concern.

mod adapter;
mod registry;
mod resolution;
