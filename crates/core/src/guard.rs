//! The checks every responder makes before it touches IAM: the account, and protected principals.
//!
//! The dispatcher checks before it invokes a handler, and each handler checks again with the
//! real ARN it resolved through IAM: a principal is protected when any of its ARN forms matches
//! a pattern: as given, with and without its path, and for a role session from CloudTrail
//! (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) the role's own ARN. Names are
//! compared without regard to case (see [`ArnPatterns::matching`]): the check fails closed.

use serde::{Deserialize, Serialize};

use crate::ids::{ArnPatterns, IamArn};

/// Patterns that are always protected: launchguard's own roles, in every partition, whatever
/// the configuration.
pub const ALWAYS_PROTECTED: &[&str] = &["arn:*:iam::*:role/launchguard-*", "arn:*:iam::*:role/*/launchguard-*"];

/// Who may be acted on, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guard {
    /// The function's own account.
    pub own_account: String,
    /// Other accounts that may be acted on (`ALLOWED_ACCOUNTS`).
    pub allowed_accounts: Vec<String>,
    /// Protected principals (`PROTECTED_PRINCIPALS`, the functions' own roles, [`ALWAYS_PROTECTED`]).
    pub protected: ArnPatterns,
}

impl Guard {
    /// A guard for `own_account` with the configured patterns; the always-protected ones and
    /// `own_roles` are added.
    /// An own role is protected as written (an ARN with a `*` in it is a pattern).
    pub fn new(own_account: &str, allowed_accounts: Vec<String>, mut protected: ArnPatterns, own_roles: &[String]) -> Self {
        for p in ALWAYS_PROTECTED.iter().copied().chain(own_roles.iter().map(String::as_str)) {
            protected.push_or_exact(p);
        }
        Self { own_account: own_account.to_owned(), allowed_accounts, protected }
    }

    /// `Err(reason)` when `account` is neither the own account nor an allowed one.
    pub fn check_account(&self, account: &str) -> Result<(), String> {
        if account == self.own_account || self.allowed_accounts.iter().any(|a| a == account) {
            Ok(())
        } else {
            Err(format!("account {account} is not this function's account ({}) nor listed in ALLOWED_ACCOUNTS", self.own_account))
        }
    }

    /// `Err(reason)` when the principal is protected. `arn` is checked as given, for IAM ARNs
    /// also without its path, and for role sessions as the role.
    pub fn check_principal(&self, arn: &str) -> Result<(), String> {
        let mut forms = vec![arn.to_owned()];
        let role = role_of_caller(arn);
        if role != arn {
            forms.push(role.clone());
        }
        if let Ok(parsed) = IamArn::parse(&role) {
            forms.push(parsed.without_path());
            forms.push(parsed.to_arn());
        }
        match self.protected.matching_any(forms.iter().map(String::as_str)) {
            Some(p) => Err(format!("{arn} is protected (matches {p})")),
            None => Ok(()),
        }
    }
}

/// The role ARN behind a caller identity ARN: `arn:aws:sts::<acct>:assumed-role/<role>/<session>`
/// gives `arn:aws:iam::<acct>:role/<role>`; an IAM user or root ARN is returned as is.
pub fn role_of_caller(caller_arn: &str) -> String {
    if let Some((head, rest)) = caller_arn.split_once(":assumed-role/") {
        let role = rest.split('/').next().unwrap_or(rest);
        let head = head.replacen(":sts:", ":iam:", 1);
        return format!("{head}:role/{role}");
    }
    caller_arn.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        let p = ArnPatterns::parse_list("arn:aws:iam::*:user/breakglass-*,arn:aws:iam::111122223333:role/Admin").expect("valid");
        Guard::new("111122223333", vec!["444455556666".into()], p, &["arn:aws:iam::111122223333:role/custom-lambda-role".into()])
    }

    #[test]
    fn accounts() {
        let g = guard();
        assert!(g.check_account("111122223333").is_ok());
        assert!(g.check_account("444455556666").is_ok());
        let e = g.check_account("999999999999").unwrap_err();
        assert!(e.contains("999999999999") && e.contains("ALLOWED_ACCOUNTS"), "{e}");
    }

    #[test]
    fn protections_cover_paths_own_roles_and_launchguard() {
        let g = guard();
        assert!(g.check_principal("arn:aws:iam::111122223333:user/breakglass-admin").is_err());
        // a path does not hide a protected name
        assert!(g.check_principal("arn:aws:iam::111122223333:role/ops/Admin").is_err());
        assert!(g.check_principal("arn:aws:iam::111122223333:role/custom-lambda-role").is_err());
        assert!(g.check_principal("arn:aws:iam::111122223333:role/launchguard-iam-handler").is_err());
        assert!(g.check_principal("arn:aws:iam::111122223333:role/service/launchguard-detector").is_err());
        assert!(g.check_principal("arn:aws:iam::111122223333:user/alice").is_ok());
        assert!(g.check_principal("arn:aws:iam::111122223333:role/Administrator").is_ok());
    }

    // Issue 11, case 7: IAM names are case-insensitive; a pattern in lower case protects the
    // user whatever the case of its name.
    #[test]
    fn attack_protected_user_with_other_case_is_still_protected() {
        let g = guard();
        for arn in [
            "arn:aws:iam::111122223333:user/BreakGlass-Admin",
            "arn:aws:iam::111122223333:user/BREAKGLASS-ADMIN",
            "arn:aws:iam::111122223333:user/ops/BreakGlass-Admin",
            "arn:aws:iam::111122223333:role/admin",
            "arn:aws:iam::111122223333:role/LaunchGuard-Detector",
        ] {
            assert!(g.check_principal(arn).is_err(), "{arn} escaped the protection");
        }
    }

    // Issue 11, case 7: launchguard's own roles are protected in every partition.
    #[test]
    fn attack_own_roles_are_protected_in_every_partition() {
        let g = Guard::new("111122223333", vec![], ArnPatterns::default(), &[]);
        for partition in ["aws", "aws-cn", "aws-us-gov"] {
            for arn in [
                format!("arn:{partition}:iam::111122223333:role/launchguard-iam-handler"),
                format!("arn:{partition}:iam::111122223333:role/service/launchguard-detector"),
            ] {
                assert!(g.check_principal(&arn).is_err(), "{arn} escaped the protection");
            }
        }
    }

    // A role known only from CloudTrail (a session ARN, or a role ARN rebuilt without its
    // path) is the same role as the protected one.
    #[test]
    fn attack_cloudtrail_forms_of_a_protected_role_are_protected() {
        let p = ArnPatterns::parse_list("arn:aws:iam::111122223333:role/ops/Admin").expect("valid");
        let g = Guard::new("111122223333", vec![], p, &[]);
        for arn in [
            "arn:aws:sts::111122223333:assumed-role/Admin/session-1",
            "arn:aws:iam::111122223333:role/Admin",
            "arn:aws:iam::111122223333:role/ops/admin",
            "arn:aws:sts::111122223333:assumed-role/launchguard-dispatcher-role/launchguard-dispatcher",
        ] {
            assert!(g.check_principal(arn).is_err(), "{arn} escaped the protection");
        }
        // the account and the partition are compared exactly
        assert!(g.check_principal("arn:aws:iam::111122223334:role/ops/Admin").is_ok());
        assert!(g.check_principal("arn:aws-cn:iam::111122223333:role/ops/Admin").is_ok());
    }

    #[test]
    fn caller_roles() {
        assert_eq!(
            role_of_caller("arn:aws:sts::111122223333:assumed-role/launchguard-dispatcher-role/launchguard-dispatcher"),
            "arn:aws:iam::111122223333:role/launchguard-dispatcher-role"
        );
        assert_eq!(role_of_caller("arn:aws:iam::000000000000:root"), "arn:aws:iam::000000000000:root");
    }
}
