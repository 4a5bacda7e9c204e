//! PROTECTED_PRINCIPALS as IAM `Resource` patterns: the deny in the handlers' roles that backs
//! the code's own check ([`crate::guard::Guard::check_principal`]) inside IAM.
//!
//! The two do not match alike, so the patterns are rewritten, never copied:
//! - the code compares the service and region loosely (`*`, `sts`) where IAM names a user or
//!   role only as `arn:<partition>:iam::<account>:…`: the service becomes `iam`, the region empty;
//! - the code compares the resource's kind (`User/`) without regard to case, IAM with it: the
//!   kind is written in lower case;
//! - the code matches a principal with and without its path (CloudTrail may give no path) and a
//!   pattern with a path also by its name alone; IAM sees the real ARN, path included: every form
//!   is also given with a path (`user/x` -> `user/*/x`);
//! - `root` and `federated-user/` patterns are left out: no handler writes to them.
//!
//! What stays open, by design: the case of a *name* (IAM compares `user/Alice` and
//! `user/alice` as different resources, IAM names are unique without case). The tag
//! `launchguard:protected=true` closes it (SECURITY.md).
//!
//! Pure; imports only [`crate::ids`].

use crate::ids::ArnPatterns;

/// The IAM `Resource` patterns that deny the handlers every user and role the code protects
/// (names in the case written), in the order first written, without repeats.
pub fn iam_deny_resources(patterns: &ArnPatterns) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in patterns.texts() {
        for r in resources_of(text) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

fn resources_of(text: &str) -> Vec<String> {
    let f: Vec<&str> = text.splitn(6, ':').collect();
    let [_, partition, _service, _region, account, resource] = f[..] else { return Vec::new() };
    let lower = resource.to_ascii_lowercase();
    if lower.starts_with("root") || lower.starts_with("federated-user/") {
        return Vec::new();
    }
    let resource = match ["user/", "role/"].into_iter().find(|k| lower.starts_with(k)) {
        Some(kind) => format!("{kind}{}", &resource[kind.len()..]),
        None if resource.starts_with('*') => resource.to_owned(),
        None => return Vec::new(),
    };
    let mut forms = vec![resource.clone()];
    if let Some(name_only) = name_only(&resource) {
        forms.push(name_only);
    }
    let mut out = Vec::new();
    for form in forms {
        out.push(format!("arn:{partition}:iam::{account}:{form}"));
        // the same with any path: a `*` right after the resource's first `/` (IAM's `*` spans `/`)
        if let Some((kind, rest)) = form.split_once('/') {
            out.push(format!("arn:{partition}:iam::{account}:{kind}/*/{rest}"));
        }
    }
    out
}

/// `user/ops/x*` -> `user/x*`, as the code also matches it (only when the name is more than `*`).
fn name_only(resource: &str) -> Option<String> {
    let (kind, rest) = resource.split_once('/')?;
    if kind != "user" && kind != "role" {
        return None;
    }
    let (_, name) = rest.rsplit_once('/')?;
    name.chars().any(|c| c != '*').then(|| format!("{kind}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(s: &str) -> Vec<String> {
        iam_deny_resources(&ArnPatterns::parse_list(s).expect("valid patterns"))
    }

    #[test]
    fn every_form_the_code_accepts_becomes_an_iam_user_or_role_resource() {
        assert_eq!(of("arn:aws:*::*:user/breakglass-*"), ["arn:aws:iam::*:user/breakglass-*", "arn:aws:iam::*:user/*/breakglass-*"]);
        assert_eq!(of("arn:aws:iam::*:User/bg"), ["arn:aws:iam::*:user/bg", "arn:aws:iam::*:user/*/bg"]);
        assert_eq!(of("arn:aws:iam::*:*breakglass*"), ["arn:aws:iam::*:*breakglass*"]);
        assert_eq!(
            of("arn:aws:iam::111122223333:role/admins/Data*"),
            [
                "arn:aws:iam::111122223333:role/admins/Data*",
                "arn:aws:iam::111122223333:role/*/admins/Data*",
                "arn:aws:iam::111122223333:role/Data*",
                "arn:aws:iam::111122223333:role/*/Data*",
            ]
        );
        assert!(of("arn:aws:iam::*:root,arn:aws:sts::*:federated-user/x").is_empty());
    }
}
