//! Property tests of the sealed envelope: no input panics the parser or the age check, and any
//! change to a sealed part changes the MAC'd message.

use chrono::{DateTime, Duration, Utc};
use launchguard_core::auth::{Freshness, Purpose, Sealed, mac_message};
use proptest::prelude::*;

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

proptest! {
    #[test]
    fn any_bytes_are_refused_or_parsed_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Sealed::parse(&bytes);
    }

    #[test]
    fn any_envelope_shaped_json_is_refused_or_parsed(
        purpose in "[a-z]{0,10}", at in "\\PC{0,40}", mac in "[0-9a-fA-F]{0,70}", key in "\\PC{0,20}", payload in "\\PC{0,60}",
        version in 0u64..3
    ) {
        let v = serde_json::json!({"schema_version": version, "kind": "sealed", "purpose": purpose, "issued_at": at,
            "key_id": key, "mac_algorithm": "HMAC_SHA_256", "mac": mac, "payload": payload});
        if let Ok(s) = Sealed::parse(v.to_string().as_bytes()) {
            prop_assert_eq!(s.mac_bytes().len(), 32);
            prop_assert!(!s.key_id.is_empty());
        }
    }

    #[test]
    fn the_age_check_never_panics(issued in any::<i64>(), now in any::<i64>(), age in 0i64..i64::MAX / 1_000_000, skew in 0i64..1_000_000) {
        let f = Freshness { max_age: Duration::seconds(age), max_skew: Duration::seconds(skew) };
        let _ = f.check(instant(issued), instant(now));
    }

    #[test]
    fn every_byte_of_the_payload_is_sealed(payload in "\\PC{1,80}", i in any::<prop::sample::Index>(), ms in 0i64..4_000_000_000_000) {
        let at = instant(ms);
        let mut changed = payload.clone().into_bytes();
        let k = i.index(changed.len());
        changed[k] ^= 0x01;
        prop_assert_ne!(mac_message(Purpose::Command, at, payload.as_bytes()), mac_message(Purpose::Command, at, &changed));
        prop_assert_ne!(mac_message(Purpose::Command, at, payload.as_bytes()), mac_message(Purpose::Finding, at, payload.as_bytes()));
    }
}
