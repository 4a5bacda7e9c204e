//! Issue 22, the last gap: a confirmed launcher that may call `iam:UpdateUser` moves itself into a
//! path `PROTECTED_PRINCIPALS` protects (or renames itself into a protected name) after the burst.
//! launchguard never acts on a protected principal, and does not; but the page must not read as a
//! routine "protected principal" skip: it names the likely evasion, with high severity, the IAM
//! id and both ARNs, and what a person does. The real detector, dispatcher and handlers, in-process.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::quarantine_slots::{Account, KEY, finding, iam, now, outcome, rename};
use crate::world::ACCOUNT;

const PROTECTED: &str = "arn:aws:iam::*:user/breakglass-*,arn:aws:iam::*:user/breakglass/*";

fn account() -> Account {
    Account { env: vec![("PROTECTED_PRINCIPALS", PROTECTED)], ..Account::default() }
}

/// Attack (seen passing on 1e4edc1, the defect: the page showed two ordinary REFUSED lines, "is
/// protected", and its subject said ACTION NEEDED, as for any protected principal): the launcher
/// moves itself to `/breakglass/`, or renames itself `breakglass-intern`, after the burst. Nothing
/// is written on it (it is protected now), and the page leads with the likely evasion: the id
/// CloudTrail confirmed, the ARN its records carry, IAM's ARN now, and how to contain it by hand
/// and move it back.
#[tokio::test(start_paused = true)]
async fn a_confirmed_user_that_moved_itself_into_protection_is_paged_as_a_likely_evasion() {
    for (seed, path, name, back) in
        [(911, "/breakglass/", "intern", "--new-path /"), (912, "/", "breakglass-intern", "--new-user-name intern")]
    {
        let (f, trail) = finding(seed).await;
        let iam = iam();
        iam.users.lock().unwrap().get_mut("intern").unwrap().attached.clear();
        let id = iam.user("intern").id;
        rename(&iam, "intern", path, name);
        let acct = account();
        let r = acct.send(&iam, &trail, &f, now()).await;
        let (subject, page) = (acct.last_subject(), acct.last_page());
        assert!(iam.writes().is_empty(), "launchguard acted on a protected principal: {:?}", iam.writes());
        assert!(subject.contains("LIKELY EVASION"), "{subject}\n{page}");
        assert!(page.contains("!!! LIKELY EVASION (HIGH SEVERITY)"), "{page}");
        let line = format!(
            "- IAM user {id}: CloudTrail's confirmed records carry arn:aws:iam::{ACCOUNT}:user/intern, which PROTECTED_PRINCIPALS does not protect; IAM names the same user (by its unique id) arn:aws:iam::{ACCOUNT}:user{path}{name} now, which it protects"
        );
        assert_eq!(page.matches(&line).count(), 1, "once per user, whatever refused: {page}");
        assert!(page.contains("this user is NOT CONTAINED"), "{page}");
        assert!(page.contains(&format!("aws iam update-user --user-name {name} {back})")), "{page}");
        // the evasion leads the page: before who launched what
        assert!(page.find("LIKELY EVASION (HIGH").unwrap() < page.find("WHO LAUNCHED WHAT").unwrap(), "{page}");
        // the quarantine's outcome carries it, as data the page is rendered from
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        let q = serde_json::to_value(outcome(&r, "quarantine_user").unwrap()).unwrap();
        assert_eq!(q["outcome"]["status"], "refused", "{q}");
        assert_eq!(q["moved_into_protection"]["principal_id"], id.as_str(), "{q}");
        assert_eq!(q["moved_into_protection"]["current_arn"], format!("arn:aws:iam::{ACCOUNT}:user{path}{name}"), "{q}");
    }
}

/// The control: the same launcher, not moved, is contained, and no page speaks of an evasion.
#[tokio::test(start_paused = true)]
async fn a_user_that_did_not_move_is_contained_and_no_evasion_is_paged() {
    let (f, trail) = finding(913).await;
    let iam = iam();
    iam.users.lock().unwrap().get_mut("intern").unwrap().attached.clear();
    let acct = account();
    let _ = acct.send(&iam, &trail, &f, now()).await;
    let page = acct.last_page();
    assert!(!page.contains("EVASION") && !acct.last_subject().contains("EVASION"), "{page}");
    assert!(iam.writes().iter().any(|w| w.contains(KEY)), "{:?}", iam.writes());
}
