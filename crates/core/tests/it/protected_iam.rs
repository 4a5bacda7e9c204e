//! The handlers' IAM deny covers every user and role the code protects: for any pattern the code
//! accepts and any IAM user or role ARN, when `Guard::check_principal` refuses the ARN, one of
//! `iam_deny_resources` matches it as IAM matches a `Resource` (case-sensitive, `*` spanning `/`,
//! never `:`). Names are drawn in one case: IAM's case-sensitive names are closed by the tag
//! `launchguard:protected=true`, not by the deny (protected_iam.rs).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::guard::Guard;
use launchguard_core::ids::ArnPatterns;
use launchguard_core::protected_iam::iam_deny_resources;
use proptest::prelude::*;

/// IAM's wildcard match of one ARN field: `*` any run of characters, case-sensitive.
fn field_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| field_matches(rest, &text[i..])),
        Some((c, rest)) => text.first() == Some(c) && field_matches(rest, &text[1..]),
    }
}

/// IAM's match of a `Resource`: field by field, and in the resource, its type (up to the first
/// `/`) literally (a `*` there is a character, as IAM reads it), the rest with wildcards.
fn iam_matches(resource: &str, arn: &str) -> bool {
    let p: Vec<&str> = resource.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 || !p[..5].iter().zip(&a[..5]).all(|(p, a)| field_matches(p.as_bytes(), a.as_bytes())) {
        return false;
    }
    let product = p[5].find('/').map_or("", |i| &p[5][..=i]);
    a[5].starts_with(product) && field_matches(&p[5].as_bytes()[product.len()..], &a[5].as_bytes()[product.len()..])
}

fn pattern() -> impl Strategy<Value = String> {
    let head = (
        prop::sample::select(vec!["iam", "*", "sts"]),
        prop::sample::select(vec!["", "*"]),
        prop::sample::select(vec!["111122223333", "*", "1111*"]),
    );
    let typed = (
        prop::sample::select(vec!["user", "User", "role", "ROLE"]),
        prop::sample::select(vec!["", "ops/", "ops/x/", "*/", "o*/"]),
        "[ab*-]{1,5}",
    )
        .prop_map(|(k, p, n)| format!("{k}/{p}{n}"));
    let starred = "\\*[ab/*r-]{0,6}".prop_map(String::from);
    (head, prop_oneof![typed, starred]).prop_map(|((s, r, a), res)| format!("arn:aws:{s}:{r}:{a}:{res}"))
}

fn principal() -> impl Strategy<Value = String> {
    (prop::sample::select(vec!["user", "role"]), prop::sample::select(vec!["/", "/ops/", "/ops/x/", "/b/", "/a-b/"]), "[ab-]{1,4}")
        .prop_map(|(k, p, n)| format!("arn:aws:iam::111122223333:{k}{p}{n}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn every_principal_the_code_protects_is_denied_in_iam(patterns in prop::collection::vec(pattern(), 1..3), arn in principal()) {
        let Ok(parsed) = ArnPatterns::parse_list(&patterns.join(",")) else { return Ok(()) };
        let guard = Guard::new("111122223333", Vec::new(), parsed.clone(), &[]);
        let resources = iam_deny_resources(&parsed);
        let only_users_patterns = Guard::new("111122223333", Vec::new(), ArnPatterns::default(), &[]);
        // what the code refuses for these patterns (not for the always-protected AWS forms)
        if guard.check_principal(&arn).is_err() && only_users_patterns.check_principal(&arn).is_ok() {
            prop_assert!(resources.iter().any(|r| iam_matches(r, &arn)), "{arn} is protected by {patterns:?} in code, but no IAM resource of {resources:?} matches it");
        }
    }
}

#[test]
fn the_patterns_review3_found_dropped_each_deny_an_unpathed_and_a_pathed_user() {
    for pattern in [
        "arn:aws:*::*:user/breakglass-*",
        "arn:aws:iam:*:*:user/breakglass-*",
        "arn:aws:iam::*:*/breakglass-*",
        "arn:aws:iam::*:*breakglass*",
        "arn:aws:iam::*:User/breakglass-*",
    ] {
        let resources = iam_deny_resources(&ArnPatterns::parse_list(pattern).unwrap());
        for arn in ["arn:aws:iam::111122223333:user/breakglass-1", "arn:aws:iam::111122223333:user/ops/breakglass-1"] {
            assert!(resources.iter().any(|r| iam_matches(r, arn)), "{pattern}: {arn} not denied by {resources:?}");
        }
        assert!(
            !resources.iter().any(|r| iam_matches(r, "arn:aws:iam::111122223333:user/alice")),
            "{pattern} must not deny alice: {resources:?}"
        );
    }
}

// Review 30. What the property test above leaves out: its patterns are drawn from `[ab*-]`, its
// oracle knows only `*`, and its names are ASCII. IAM also reads `?` in a `Resource` as a wildcard
// (any one character); the code reads it as itself.

/// IAM's match of one field with both of its wildcards: `*` any run, `?` any one character.
fn field_matches_iam(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| field_matches_iam(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && field_matches_iam(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && field_matches_iam(rest, &text[1..]),
    }
}

/// [`iam_matches`] with `?` read as IAM reads it.
fn iam_matches_with_question_marks(resource: &str, arn: &str) -> bool {
    let p: Vec<&str> = resource.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 || !p[..5].iter().zip(&a[..5]).all(|(p, a)| field_matches_iam(p.as_bytes(), a.as_bytes())) {
        return false;
    }
    let product = p[5].find('/').map_or("", |i| &p[5][..=i]);
    a[5].starts_with(product) && field_matches_iam(&p[5].as_bytes()[product.len()..], &a[5].as_bytes()[product.len()..])
}

/// `arn:aws:iam::*:user/?*` protects in code only a user whose name starts with a literal `?`
/// (none can: IAM names have no `?`); rendered as it is, IAM's deny reads `?` as any character and
/// denies every user to the handlers: no user can be contained, while the code believes it can.
/// `deploy/settings.py` refuses `?` in PROTECTED_PRINCIPALS, but `launchguard-render --protected`
/// and the functions accept it.
#[test]
fn review30_a_question_mark_in_a_pattern_denies_in_iam_only_whom_the_code_protects() {
    for pattern in ["arn:aws:iam::*:user/?*", "arn:aws:iam::*:*/?*", "arn:aws:iam::111122223333:role/???????????*"] {
        // refused (IAM names hold no `?`): safe; accepted, it must protect alike in both places
        let Ok(parsed) = ArnPatterns::parse_list(pattern) else { continue };
        let guard = Guard::new("111122223333", Vec::new(), parsed.clone(), &[]);
        let resources = iam_deny_resources(&parsed);
        for arn in ["arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/ops/attacker-role"] {
            assert!(guard.check_principal(arn).is_ok(), "{pattern}: the code does not protect {arn}");
            assert!(
                !resources.iter().any(|r| iam_matches_with_question_marks(r, arn)),
                "{pattern}: IAM denies {arn}, whom the code would contain, through {resources:?}"
            );
        }
    }
}

/// A name written with a character that Unicode case folding maps onto ASCII (`K`, the Kelvin
/// sign, folds to `k`; `ſ`, the long s, to `s`): the code compares a resource without regard to
/// case and would protect `kate` for `user/\u{212a}ate`; the IAM deny names `user/\u{212a}ate`
/// byte for byte, which no IAM name is. Python's `\w` in deploy/settings.py accepts both.
#[test]
fn review30_a_non_ascii_letter_in_a_pattern_protects_in_code_only_whom_iam_denies() {
    for (pattern, arn) in [
        ("arn:aws:iam::*:user/\u{212a}ate", "arn:aws:iam::111122223333:user/kate"),
        ("arn:aws:iam::*:role/breakgla\u{17f}\u{17f}-*", "arn:aws:iam::111122223333:role/breakglass-1"),
    ] {
        let Ok(parsed) = ArnPatterns::parse_list(pattern) else { continue }; // refused: safe
        let guard = Guard::new("111122223333", Vec::new(), parsed.clone(), &[]);
        if guard.check_principal(arn).is_err() {
            let resources = iam_deny_resources(&parsed);
            assert!(
                resources.iter().any(|r| iam_matches(r, arn)),
                "{pattern}: the code protects {arn}, but no IAM resource of {resources:?} denies it"
            );
        }
    }
}
