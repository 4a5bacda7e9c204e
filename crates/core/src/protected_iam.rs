//! PROTECTED_PRINCIPALS as IAM `Resource` patterns: the deny in the handlers' roles that backs
//! the code's own check ([`crate::guard::Guard::check_principal`]) inside IAM.
//!
//! The two do not match alike, so the patterns are rewritten, never copied:
//! - the code compares the service and region loosely (`*`, `sts`) where IAM names a user or
//!   role only as `arn:<partition>:iam::<account>:…`: the service becomes `iam`, the region empty;
//! - the code compares the resource's kind (`User/`) without regard to case and lets a `*` stand
//!   for it (`*/breakglass-*`); IAM takes the kind literally, in lower case (a `*` there matches
//!   nothing): each pattern is given once per kind, `user/` and `role/`, with what is left of it
//!   once the kind is read (`*/bg-*` -> `user/bg-*` and `user/*/bg-*`);
//! - the code matches a principal with and without its path (CloudTrail may give no path) and a
//!   pattern with a path also by its name alone; IAM sees the real ARN, path included: every form
//!   is also given with a path (`user/x` -> `user/*/x`);
//! - `root` and `federated-user/` patterns give nothing: no handler writes to them.
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
    let mut forms = vec![resource.to_owned()];
    // the name alone, as the code also matches a pattern with a path
    forms.extend(crate::ids::without_path(resource));
    let mut out = Vec::new();
    for kind in ["user", "role"] {
        for form in &forms {
            // IAM takes the resource type (`user/`) literally, never through a `*`: what the
            // pattern leaves to match once `user/` is read, each way its `*`s can read it
            for rest in after(form, &format!("{kind}/")) {
                out.push(format!("arn:{partition}:iam::{account}:{kind}/{rest}"));
                // the same at any path (IAM's `*` spans `/`; a rest starting with `*` has it)
                if !rest.starts_with('*') {
                    out.push(format!("arn:{partition}:iam::{account}:{kind}/*/{rest}"));
                }
            }
        }
    }
    out
}

/// The rests of `pattern` (`*` any run, other characters compared without case, as the code
/// compares a resource) once `prefix` is read: every way of matching `prefix` against its start.
/// Empty when the pattern cannot start with `prefix`; a rest that is empty is left out (it would
/// match the bare `user/`, which names nobody).
fn after(pattern: &str, prefix: &str) -> Vec<String> {
    let p: Vec<char> = pattern.chars().collect();
    let closure = |mut set: Vec<usize>| {
        let mut i = 0;
        while i < set.len() {
            let q = set[i];
            if p.get(q) == Some(&'*') && !set.contains(&(q + 1)) {
                set.push(q + 1);
            }
            i += 1;
        }
        set
    };
    let mut at = closure(vec![0]);
    for c in prefix.chars() {
        let mut next = Vec::new();
        for &q in &at {
            match p.get(q) {
                Some('*') => next.push(q),
                Some(x) if x.eq_ignore_ascii_case(&c) => next.push(q + 1),
                _ => {}
            }
        }
        next.sort_unstable();
        next.dedup();
        at = closure(next);
    }
    at.sort_unstable();
    at.dedup();
    // a rest right after a `*` that is itself a rest adds nothing (`*x` already matches `x`)
    let subsumed = |q: usize| q > 0 && p[q - 1] == '*' && at.contains(&(q - 1));
    at.iter().filter(|&&q| q < p.len() && !subsumed(q)).map(|&q| p[q..].iter().collect()).collect()
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
        assert_eq!(of("arn:aws:iam::*:*breakglass*"), ["arn:aws:iam::*:user/*breakglass*", "arn:aws:iam::*:role/*breakglass*"]);
        assert_eq!(
            of("arn:aws:iam::*:*/bg-*"),
            ["arn:aws:iam::*:user/*/bg-*", "arn:aws:iam::*:user/bg-*", "arn:aws:iam::*:role/*/bg-*", "arn:aws:iam::*:role/bg-*"]
        );
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
