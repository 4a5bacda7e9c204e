//! Identifiers: account ids, access key ids, IAM ARNs, and protected-principal patterns.
//!
//! These checks stand between a payload and an IAM call. They are strict on purpose: a value that
//! is not exactly what it claims to be is refused, never "cleaned up".

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, excerpt};

fn invalid(what: &'static str, value: &str, why: &'static str) -> CoreError {
    CoreError::InvalidId { what, value: excerpt(value), why }
}

/// Check a 12-digit AWS account id.
pub fn validate_account_id(s: &str) -> Result<(), CoreError> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid("account id", s, "expected exactly 12 digits"))
    }
}

/// Check the form of an access key id: 16 to 128 upper-case letters and digits (IAM's rule).
pub fn validate_access_key_id(s: &str) -> Result<(), CoreError> {
    if (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid("access key id", s, "expected 16-128 upper-case letters and digits, like AKIAIOSFODNN7EXAMPLE"))
    }
}

/// Check an IAM user or role name (IAM's character set, 1 to 64 characters).
pub fn validate_iam_name(s: &str) -> Result<(), CoreError> {
    if (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)) {
        Ok(())
    } else {
        Err(invalid("IAM name", s, "expected 1-64 characters from [A-Za-z0-9+=,.@_-]"))
    }
}

/// The kind of IAM entity an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IamEntity {
    /// `user/...`
    User,
    /// `role/...`
    Role,
}

/// A parsed IAM user or role ARN: `arn:<partition>:iam::<account>:<user|role>/<path/><name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamArn {
    /// `aws`, `aws-cn`, `aws-us-gov`...
    pub partition: String,
    /// 12-digit account id.
    pub account_id: String,
    /// User or role.
    pub entity: IamEntity,
    /// Path, `/` when none, always starting and ending with `/`.
    pub path: String,
    /// The name.
    pub name: String,
}

impl IamArn {
    /// Parse and validate an IAM user or role ARN.
    pub fn parse(arn: &str) -> Result<Self, CoreError> {
        let bad = |why| invalid("IAM ARN", arn, why);
        if arn.len() > 2048 {
            return Err(bad("longer than 2048 characters"));
        }
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected arn:<partition>:iam::<account>:<user|role>/<name>"));
        };
        if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") && !partition.starts_with("aws-iso") {
            return Err(bad("unknown partition"));
        }
        validate_account_id(account).map_err(|_| bad("account is not 12 digits"))?;
        let (entity, rest) = if let Some(r) = resource.strip_prefix("user/") {
            (IamEntity::User, r)
        } else if let Some(r) = resource.strip_prefix("role/") {
            (IamEntity::Role, r)
        } else {
            return Err(bad("resource is neither user/... nor role/..."));
        };
        let (path, name) = match rest.rsplit_once('/') {
            Some((p, n)) => (format!("/{p}/"), n),
            None => ("/".to_owned(), rest),
        };
        validate_iam_name(name).map_err(|_| bad("name has characters IAM does not allow"))?;
        if path.contains("//") || !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("malformed path"));
        }
        Ok(Self { partition: partition.to_owned(), account_id: account.to_owned(), entity, path, name: name.to_owned() })
    }

    /// The ARN as text.
    pub fn to_arn(&self) -> String {
        let kind = match self.entity {
            IamEntity::User => "user",
            IamEntity::Role => "role",
        };
        format!("arn:{}:iam::{}:{kind}{}{}", self.partition, self.account_id, self.path, self.name)
    }

    /// The same ARN without its path: protections are matched against both forms.
    pub fn without_path(&self) -> String {
        Self { path: "/".into(), ..self.clone() }.to_arn()
    }
}

/// A list of ARN patterns where `*` matches any run of characters (`/` and `:` included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArnPatterns(pub Vec<String>);

impl ArnPatterns {
    /// Parse a comma-separated list; blanks are ignored. Each pattern must look like an ARN.
    pub fn parse_list(s: &str) -> Result<Self, CoreError> {
        let mut out = Vec::new();
        for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !p.starts_with("arn:") || p.chars().any(char::is_whitespace) {
                return Err(invalid("ARN pattern", p, "expected an ARN, optionally with * wildcards"));
            }
            out.push(p.to_owned());
        }
        Ok(Self(out))
    }

    /// Add a pattern.
    pub fn push(&mut self, p: impl Into<String>) {
        self.0.push(p.into());
    }

    /// The first pattern matching `arn`, if any.
    pub fn matching(&self, arn: &str) -> Option<&str> {
        self.0.iter().find(|p| glob_match(p, arn)).map(String::as_str)
    }

    /// The first pattern matching any of `arns`.
    pub fn matching_any<'a, I: IntoIterator<Item = &'a str>>(&self, arns: I) -> Option<&str> {
        arns.into_iter().find_map(|a| self.matching(a))
    }
}

/// `*` wildcard match, linear time (no backtracking blow-up on hostile patterns).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_arns_are_parsed_strictly() {
        let a = IamArn::parse("arn:aws:iam::111122223333:user/division/alice").expect("valid");
        assert_eq!((a.entity, a.path.as_str(), a.name.as_str()), (IamEntity::User, "/division/", "alice"));
        assert_eq!(a.to_arn(), "arn:aws:iam::111122223333:user/division/alice");
        assert_eq!(a.without_path(), "arn:aws:iam::111122223333:user/alice");
        let r = IamArn::parse("arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
            .expect("valid");
        assert_eq!(r.entity, IamEntity::Role);
        for bad in [
            "arn:aws:iam::11112222333:user/alice",
            "arn:aws:iam::111122223333:group/admins",
            "arn:aws:sts::111122223333:assumed-role/R/s",
            "arn:aws:iam:us-east-1:111122223333:user/alice",
            "arn:evil:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:user/al ice",
            "arn:aws:iam::111122223333:user/",
            "arn:aws:iam::111122223333:user//alice",
            "",
        ] {
            assert!(IamArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_account_id("000000000000").is_ok());
        assert!(validate_account_id("00000000000a").is_err());
        assert!(validate_access_key_id("AKIAIOSFODNN7EXAMPLE").is_ok());
        assert!(validate_access_key_id("akiaiosfodnn7example").is_err());
        assert!(validate_access_key_id("AKIA").is_err());
        assert!(validate_access_key_id("AKIAIOSFODNN7EXAMPLE'; DROP").is_err());
    }

    #[test]
    fn patterns_match_with_wildcards_only_where_written() {
        let p = ArnPatterns::parse_list(" arn:aws:iam::*:role/BreakGlass* , arn:aws:iam::111122223333:user/admin ").expect("valid");
        assert_eq!(p.matching("arn:aws:iam::999999999999:role/BreakGlassAdmin"), Some("arn:aws:iam::*:role/BreakGlass*"));
        assert_eq!(p.matching("arn:aws:iam::111122223333:user/admin"), Some("arn:aws:iam::111122223333:user/admin"));
        assert_eq!(p.matching("arn:aws:iam::111122223333:user/admin2"), None);
        assert_eq!(p.matching("arn:aws:iam::111122223333:role/Dev"), None);
        assert!(ArnPatterns::parse_list("not-an-arn").is_err());
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("*", ""));
        // pathological pattern stays linear
        assert!(!glob_match(&"*a".repeat(50), &"a".repeat(40)));
    }
}
