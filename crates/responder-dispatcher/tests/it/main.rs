//! The integration tests of this crate, one binary (each test binary links the crate and its
//! dependencies again, the AWS SDK among them): one module per concern.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod atk_stream;
mod bound;
mod confirm_props;
mod confirmation;
mod created_keys;
mod created_keys_review;
mod dispatch;
mod forged_records;
mod forgery;
mod horizons;
mod instances;
mod issue10;
mod issue22;
mod launch_routes;
mod ledger_attacks;
mod logs;
mod moved_into_protection;
mod notification_injection;
mod paced;
mod quarantine_slots;
mod rb;
mod redelivery;
mod rename;
mod replay_records;
mod report;
mod review2;
mod review3;
mod review3_ledger;
mod review4;
mod rules;
mod rvr;
mod rvs;
mod stream_path;
mod tag_protected;
mod two_ids;
mod world;
