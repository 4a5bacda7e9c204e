//! Identifiers: account ids, access key ids, IAM ARNs, and protected-principal patterns.
//!
//! These checks stand between a payload and an IAM call. They are strict on purpose: a value that
//! is not exactly what it claims to be is refused, never "cleaned up".

use globset::{GlobBuilder, GlobMatcher};
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

/// Check an IAM user's unique id (`UserId`, CloudTrail's `userIdentity.principalId` of an IAM
/// user): `AIDA` and 12 to 124 upper-case letters and digits (IAM's ids are 21 characters; its
/// documented limit is 128).
pub fn validate_user_id(s: &str) -> Result<(), CoreError> {
    if (16..=128).contains(&s.len()) && s.starts_with("AIDA") && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid("IAM user id", s, "expected AIDA and 12-124 upper-case letters and digits, like AIDAJQABLZS4A3QDU576Q"))
    }
}

/// Check the form of an IAM role's unique id (`RoleId`): `AROA` and upper-case letters and
/// digits, 16 to 128 characters in all (as [`validate_user_id`] for a user's).
pub fn validate_role_id(s: &str) -> Result<(), CoreError> {
    if (16..=128).contains(&s.len()) && s.starts_with("AROA") && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid("IAM role id", s, "expected AROA and 12-124 upper-case letters and digits, like AROAJQABLZS4A3QDU576Q"))
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

/// One protected-principal pattern, compiled.
///
/// The pattern is split into its ARN fields like the ARN it is matched against, so that a `*`
/// never reaches from one field into another: the partition, service, region and account are
/// compared exactly (case included, `*` standing for any run of characters inside that field);
/// the resource (`user/<path/><name>`, `role/...`) is compared without regard to case, because
/// IAM names are unique without regard to case, and there a `*` also matches `/` (paths).
#[derive(Debug, Clone)]
struct ArnPattern {
    text: String,
    head: Vec<GlobMatcher>,
    resources: Vec<GlobMatcher>,
    /// For a value that is not an ARN pattern (an own role given as a bare name in tests):
    /// matched as a whole, without regard to case.
    exact: bool,
}

/// The six fields of an ARN, `arn` included; `None` unless it has all six.
fn arn_fields(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let f = [it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?];
    (f[0] == "arn").then_some(f)
}

/// A glob where only `*` is special: every other character stands for itself.
fn glob(field: &str, case_insensitive: bool) -> Result<GlobMatcher, globset::Error> {
    // `*` is any run of characters, as in IAM: a run of stars is one star (globset would read
    // `**` as "any directories", which matches where IAM's `**` does not)
    let escaped: Vec<String> = field.split('*').map(globset::escape).collect();
    let mut pattern = escaped.join("*");
    while pattern.contains("**") {
        pattern = pattern.replace("**", "*");
    }
    GlobBuilder::new(&pattern)
        .case_insensitive(case_insensitive)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
}

/// `user/ops/breakglass-*` → `user/breakglass-*`: the same name at any path. Only when the name
/// is more than a bare `*` (`user/ops/*` would otherwise protect every user).
pub(crate) fn without_path(resource: &str) -> Option<String> {
    let lower = resource.to_ascii_lowercase();
    let kind = ["user/", "role/"].into_iter().find(|k| lower.starts_with(k))?;
    let rest = &resource[kind.len()..];
    let (_, name) = rest.rsplit_once('/')?;
    (name.chars().any(|c| c != '*')).then(|| format!("{}{name}", &resource[..kind.len()]))
}

/// The partitions AWS has; a pattern names one of them or `*`.
pub const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];

/// A pattern that can never match an ARN IAM or CloudTrail writes would protect nobody without a
/// word: refuse it. The partition is one of [`PARTITIONS`] or `*`; the service `iam`, `sts` or
/// `*`; the region empty or `*` (IAM and STS principals have none); the account 12 digits or
/// digits with `*`; the resource a `user/`, `role/`, `root`, `federated-user/` or `*`. A role session
/// pattern (`sts … assumed-role/…`) is refused too: the handlers act on the role, so a role is
/// protected as `iam … role/<name>`, which also protects every session of it.
fn check_pattern_fields(f: &[&str; 6]) -> Result<(), &'static str> {
    let [_, partition, service, region, account, resource] = *f;
    if partition != "*" && !PARTITIONS.contains(&partition) {
        return Err("the partition must be aws, aws-cn, aws-us-gov (or another AWS partition, in lower case) or *");
    }
    if !["iam", "sts", "*"].contains(&service) {
        return Err("the service must be iam, sts or * (in lower case)");
    }
    if !region.is_empty() && region != "*" {
        return Err("IAM and STS ARNs have no region: leave it empty (arn:aws:iam::<account>:...)");
    }
    let account_ok =
        if account.contains('*') { account.bytes().all(|b| b.is_ascii_digit() || b == b'*') } else { validate_account_id(account).is_ok() };
    if !account_ok {
        return Err("the account must be 12 digits, or digits and * (1111* ...)");
    }
    let lower = resource.to_ascii_lowercase();
    if lower.starts_with("assumed-role/") {
        return Err("protect the role, not its sessions: arn:<partition>:iam::<account>:role/<name> also protects every session of it");
    }
    if !["user/", "role/", "federated-user/", "root", "*"].iter().any(|k| lower.starts_with(k)) {
        return Err("the resource must be user/<name>, role/<name>, root, federated-user/<name> or *");
    }
    // what IAM names and paths are made of, and `*`: a `?` (a wildcard to IAM, a character here)
    // or a letter outside ASCII (folded to ASCII by a case-blind compare: the Kelvin sign to `k`)
    // would protect in the code and in the handlers' IAM deny two different sets of principals
    if !resource.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/*".contains(&b)) {
        return Err("the resource may hold only what IAM names and paths hold (letters, digits, + = , . @ _ - /) and * as the wildcard");
    }
    Ok(())
}

impl ArnPattern {
    fn compile(text: &str) -> Result<Self, CoreError> {
        let bad = |why| invalid("ARN pattern", text, why);
        let f = arn_fields(text).ok_or_else(|| bad("expected arn:<partition>:<service>:<region>:<account>:<resource>, * as wildcard"))?;
        check_pattern_fields(&f).map_err(bad)?;
        let compile_err = |_| bad("cannot be compiled as a glob");
        let head = f[1..5].iter().map(|x| glob(x, false)).collect::<Result<Vec<_>, _>>().map_err(compile_err)?;
        let mut resources = vec![glob(f[5], true).map_err(compile_err)?];
        if let Some(r) = without_path(f[5]) {
            resources.push(glob(&r, true).map_err(compile_err)?);
        }
        Ok(Self { text: text.to_owned(), head, resources, exact: false })
    }

    fn matches(&self, arn: &str) -> bool {
        if self.exact {
            return self.text.eq_ignore_ascii_case(arn);
        }
        let Some(f) = arn_fields(arn) else { return false };
        self.head.iter().zip(&f[1..5]).all(|(g, x)| g.is_match(x)) && self.resources.iter().any(|g| g.is_match(f[5]))
    }
}

/// A list of protected-principal ARN patterns with `*` as the only wildcard (see [`ArnPatterns::matching`]).
///
/// Serialised as the list of pattern texts.
#[derive(Debug, Clone, Default)]
pub struct ArnPatterns(Vec<ArnPattern>);

impl PartialEq for ArnPatterns {
    fn eq(&self, other: &Self) -> bool {
        self.texts().eq(other.texts())
    }
}

impl Eq for ArnPatterns {}

impl Serialize for ArnPatterns {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.texts())
    }
}

impl<'de> Deserialize<'de> for ArnPatterns {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        let mut out = Self::default();
        for t in texts {
            out.push(&t).map_err(serde::de::Error::custom)?;
        }
        Ok(out)
    }
}

impl ArnPatterns {
    /// Parse a comma-separated list; blanks are ignored. Each pattern must be an ARN with its
    /// six fields (`arn:<partition>:<service>:<region>:<account>:<resource>`), `*` allowed.
    pub fn parse_list(s: &str) -> Result<Self, CoreError> {
        let mut out = Self::default();
        for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if p.chars().any(char::is_whitespace) {
                return Err(invalid("ARN pattern", p, "expected an ARN, optionally with * wildcards"));
            }
            out.push(p)?;
        }
        Ok(out)
    }

    /// Add a pattern (validated and compiled).
    pub fn push(&mut self, p: &str) -> Result<(), CoreError> {
        self.0.push(ArnPattern::compile(p)?);
        Ok(())
    }

    /// Add a pattern; a value that is not a valid pattern is kept and matched as a whole
    /// (without regard to case) rather than dropped: protection is never lost to a typo.
    pub fn push_or_exact(&mut self, p: &str) {
        let compiled = ArnPattern::compile(p).unwrap_or_else(|_| ArnPattern {
            text: p.to_owned(),
            head: Vec::new(),
            resources: Vec::new(),
            exact: true,
        });
        self.0.push(compiled);
    }

    /// The patterns as written.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|p| p.text.as_str())
    }

    /// The first pattern matching `arn`, if any.
    ///
    /// Partition, service, region and account are compared exactly, field by field (a `*` stays
    /// inside its field); the resource without regard to case, a `*` there matching any run of
    /// characters, `/` included. A user or role pattern with a path also matches the same name
    /// without the path (a principal known only from CloudTrail may lack it), unless its name
    /// is a bare `*`.
    pub fn matching(&self, arn: &str) -> Option<&str> {
        self.0.iter().find(|p| p.matches(arn)).map(|p| p.text.as_str())
    }

    /// The first pattern matching any of `arns`.
    pub fn matching_any<'a, I: IntoIterator<Item = &'a str>>(&self, arns: I) -> Option<&str> {
        arns.into_iter().find_map(|a| self.matching(a))
    }
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
        assert!(ArnPatterns::parse_list("arn:aws:*").is_err(), "a pattern has all six ARN fields");
        assert!(ArnPatterns::parse_list("arn:aws:iam::12345678901x:user/a").is_err());
        // a * stays inside its field: it cannot stand for the account and more
        assert!(ArnPatterns::parse_list("arn:aws*:user/admin").is_err(), "a * cannot stand for missing fields");
        let p = ArnPatterns::parse_list("arn:aws:iam::1111*:user/x").expect("valid");
        assert_eq!(p.matching("arn:aws:iam::111122223333:extra:user/x"), None);
        assert_eq!(p.matching("arn:aws:iam::111122223333:user/x"), Some("arn:aws:iam::1111*:user/x"));
        // only * is special, and ? [ { (which IAM names never hold; ? is IAM's other wildcard) are refused
        for p in ["arn:aws:iam::111122223333:user/a?", "arn:aws:iam::111122223333:user/{b}", "arn:aws:iam::111122223333:user/[c]"] {
            assert!(ArnPatterns::parse_list(p).is_err(), "{p}");
        }
        let p = ArnPatterns::parse_list("arn:aws:iam::111122223333:user/a.b@c+d").expect("valid");
        assert_eq!(p.matching("arn:aws:iam::111122223333:user/aXb@c+d"), None);
        assert_eq!(p.matching("arn:aws:iam::111122223333:user/A.B@C+D"), Some("arn:aws:iam::111122223333:user/a.b@c+d"));
        // a pathological pattern stays fast
        let p = ArnPatterns::parse_list(&format!("arn:aws:iam::*:user/{}", "*a".repeat(30))).expect("valid");
        assert_eq!(p.matching(&format!("arn:aws:iam::111122223333:user/{}", "a".repeat(29))), None);
    }
}
