//! Who made a call: classification of `userIdentity`.
//!
//! The classification never invents an identity. When an ARN is built from other fields (a user
//! name and an account, or an `assumed-role` session ARN) it is marked `*_derived: true`, and the
//! responders refuse to act on a derived ARN unless they can confirm it through IAM.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::record::UserIdentity;

/// The principal behind a call. Serialised with a `type` tag; part of the payload contract.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Principal {
    /// An IAM user calling with its own credentials (long-term `AKIA` keys, or a console/`GetSessionToken` session).
    IamUser {
        /// `arn:aws:iam::<account>:user/<path/><name>`.
        arn: String,
        /// True when the ARN was built from `userName` and `accountId` (the path may be missing).
        arn_derived: bool,
        /// User name.
        user_name: String,
        /// Account id.
        account_id: String,
    },
    /// A session of an IAM role (`ASIA` keys).
    AssumedRole {
        /// The role's ARN, `arn:aws:iam::<account>:role/<path/><name>`.
        role_arn: String,
        /// True when the role ARN was built from the `assumed-role` ARN (the path may be missing).
        role_arn_derived: bool,
        /// Role name.
        role_name: String,
        /// Account id.
        account_id: String,
        /// A service-linked role (reserved path `/aws-service-role/`; the name decides nothing):
        /// never contained.
        service_linked: bool,
        /// An IAM Identity Center permission-set role (reserved path
        /// `/aws-reserved/sso.amazonaws.com/`; the name decides nothing): a person behind it.
        identity_center: bool,
    },
    /// The account's root user.
    Root {
        /// `arn:aws:iam::<account>:root`.
        arn: String,
        /// Account id.
        account_id: String,
    },
    /// A federated user (`GetFederationToken`). Its name is the caller's free choice, so calls
    /// are grouped by the IAM user (or root) whose keys minted the token, when the record names
    /// it: one user's burst split over many federation names is one principal.
    FederatedUser {
        /// `arn:aws:sts::<account>:federated-user/<name>` (the first seen, when grouped).
        arn: String,
        /// Account id.
        account_id: String,
        /// `sessionContext.sessionIssuer.arn`: the IAM user or root that called
        /// `GetFederationToken` (same account); `None` when the record does not name one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issuer_arn: Option<String>,
    },
    /// An IAM Identity Center user (`type: IdentityCenterUser`).
    IdentityCenterUser {
        /// The identity store user id or ARN as recorded.
        id: String,
        /// Account id, when recorded.
        account_id: Option<String>,
    },
    /// An AWS service acting on its own (`type: AWSService`, or only `invokedBy`).
    AwsService {
        /// The service, e.g. `autoscaling.amazonaws.com`.
        service: String,
    },
    /// Anything else, kept as recorded.
    Unknown {
        /// `userIdentity.type` as recorded.
        raw_type: Option<String>,
        /// `userIdentity.arn` as recorded.
        arn: Option<String>,
        /// `userIdentity.principalId` as recorded.
        principal_id: Option<String>,
        /// `userIdentity.accountId` as recorded.
        account_id: Option<String>,
    },
}

/// Kind of an access key, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `AKIA…`: an IAM user's long-term key; can be deactivated.
    LongTerm,
    /// `ASIA…`: an STS session key; cannot be deactivated, only its role's sessions revoked.
    Temporary,
    /// Anything else.
    Other,
}

impl KeyKind {
    /// Kind of the given key id.
    pub fn of(key: &str) -> Self {
        if key.starts_with("AKIA") {
            Self::LongTerm
        } else if key.starts_with("ASIA") {
            Self::Temporary
        } else {
            Self::Other
        }
    }

    /// `long-term`, `session` or `other`, as notifications and reports say it.
    pub fn word(self) -> &'static str {
        match self {
            Self::LongTerm => "long-term",
            Self::Temporary => "session",
            Self::Other => "other",
        }
    }
}

/// Per-call details that belong to the session rather than the principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDetails {
    /// `accessKeyId`.
    pub access_key_id: Option<String>,
    /// Role session name, for assumed roles.
    pub session_name: Option<String>,
    /// `sessionContext.sourceIdentity`.
    pub source_identity: Option<String>,
    /// `invokedBy`.
    pub invoked_by: Option<String>,
}

impl Principal {
    /// True when its ARN was derived from a name (no path), not read from the record.
    pub fn arn_derived(&self) -> bool {
        matches!(self, Principal::IamUser { arn_derived: true, .. } | Principal::AssumedRole { role_arn_derived: true, .. })
    }

    /// A stable identity for grouping and for finding ids.
    pub fn key(&self) -> String {
        match self {
            Self::FederatedUser { issuer_arn: Some(issuer), .. } => format!("federated-by:{issuer}"),
            Self::IamUser { arn, .. } | Self::Root { arn, .. } | Self::FederatedUser { arn, .. } => arn.clone(),
            Self::AssumedRole { role_arn, .. } => role_arn.clone(),
            Self::IdentityCenterUser { id, .. } => format!("identity-center:{id}"),
            Self::AwsService { service } => format!("service:{service}"),
            Self::Unknown { arn, principal_id, raw_type, account_id } => format!(
                "unknown:{}:{}:{}:{}",
                raw_type.as_deref().unwrap_or("-"),
                account_id.as_deref().unwrap_or("-"),
                arn.as_deref().unwrap_or("-"),
                principal_id.as_deref().unwrap_or("-")
            ),
        }
    }

    /// The account the principal belongs to, when known.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Self::IamUser { account_id, .. }
            | Self::AssumedRole { account_id, .. }
            | Self::Root { account_id, .. }
            | Self::FederatedUser { account_id, .. } => Some(account_id),
            Self::IdentityCenterUser { account_id, .. } | Self::Unknown { account_id, .. } => account_id.as_deref(),
            Self::AwsService { .. } => None,
        }
    }

    /// A short label for people: `user/alice`, `role/Dev (service-linked)`, `root`...
    pub fn label(&self) -> String {
        match self {
            Self::IamUser { user_name, .. } => format!("IAM user {user_name}"),
            Self::AssumedRole { role_name, service_linked: true, .. } => format!("service-linked role {role_name}"),
            Self::AssumedRole { role_name, identity_center: true, .. } => format!("Identity Center role {role_name}"),
            Self::AssumedRole { role_name, .. } => format!("role {role_name}"),
            Self::Root { account_id, .. } => format!("root of {account_id}"),
            Self::FederatedUser { issuer_arn: Some(issuer), .. } => format!("federated users of {issuer}"),
            Self::FederatedUser { arn, .. } => format!("federated user {}", arn.rsplit('/').next().unwrap_or(arn)),
            Self::IdentityCenterUser { id, .. } => format!("Identity Center user {id}"),
            Self::AwsService { service } => format!("AWS service {service}"),
            Self::Unknown { raw_type, arn, .. } => {
                format!("unknown principal ({}, {})", raw_type.as_deref().unwrap_or("no type"), arn.as_deref().unwrap_or("no arn"))
            }
        }
    }

    /// True for callers that are AWS itself: services and service-linked roles.
    pub fn is_aws_service(&self) -> bool {
        matches!(self, Self::AwsService { .. } | Self::AssumedRole { service_linked: true, .. })
    }
}

/// The path AWS reserves for service-linked roles: only AWS can create a role there.
pub const SERVICE_LINKED_ROLE_PATH: &str = "/aws-service-role/";
/// The path AWS reserves for IAM Identity Center permission-set roles.
pub const IDENTITY_CENTER_ROLE_PATH: &str = "/aws-reserved/sso.amazonaws.com/";

fn role_path_starts_with(role_arn: &str, reserved: &str) -> bool {
    role_arn.split_once(":role").is_some_and(|(_, rest)| rest.starts_with(reserved))
}

/// True for a service-linked role: its ARN carries the reserved path `/aws-service-role/`.
///
/// The name decides nothing (anyone can create a role called `AWSServiceRoleForBackdoor` at
/// `/`); `_role_name` is ignored and kept for the callers' signature. A role whose path is not
/// known (an ARN rebuilt from a session ARN) is not service-linked.
pub fn is_service_linked_role(role_arn: &str, _role_name: &str) -> bool {
    role_path_starts_with(role_arn, SERVICE_LINKED_ROLE_PATH)
}

/// True for an IAM Identity Center permission-set role: its ARN carries the reserved path
/// `/aws-reserved/sso.amazonaws.com/`. The name (`AWSReservedSSO_*`) decides nothing.
pub fn is_identity_center_role(role_arn: &str, _role_name: &str) -> bool {
    role_path_starts_with(role_arn, IDENTITY_CENTER_ROLE_PATH)
}

/// `invokedBy` values that are a person's own front end, not a service acting of its own accord:
/// the console (`signin.amazonaws.com`), CloudShell, and the services that launch exactly what the
/// caller told them to, with the caller's credentials, at once (a CloudFormation stack or a
/// Service Catalog product with 500 instances is the caller's launch).
pub const FRONT_END_INVOKERS: &[&str] = &[
    "signin.amazonaws.com",
    "console.amazonaws.com",
    "console.ec2.amazonaws.com",
    "cloudshell.amazonaws.com",
    "cloudformation.amazonaws.com",
    "servicecatalog.amazonaws.com",
];

/// True when a call was made by AWS itself through a service: a service-linked role's session
/// with `invokedBy` a service principal (`autoscaling.amazonaws.com` launching for
/// `AWSServiceRoleForAutoScaling`). Such calls are reported apart, and counted towards the
/// thresholds only when configured (`contain_invoked_by_aws_service`, and a rule that does not
/// exclude AWS services).
///
/// The one place every path (the detector's aggregate and tracker, `scan`, the stream path)
/// decides it. Fails towards counting: a call whose identity is a customer's own principal is
/// that principal's, whatever `invokedBy` says. A service that acts with the caller's own
/// credentials (forward access sessions: SSM, EMR, CloudFormation, the console...) leaves the
/// caller's role session or user as the identity, so its launches count towards that
/// principal's thresholds; only a service-linked role (whose path only AWS can create) is AWS
/// acting on its own. A front end a person drives ([`FRONT_END_INVOKERS`]), `AWS Internal` and
/// anything that is not a lower-case `<name>.amazonaws.com` service principal are never a
/// service's calls.
pub fn is_made_by_aws_service_for(principal: &Principal, invoked_by: &str) -> bool {
    let Some(service) = invoked_by.strip_suffix(".amazonaws.com") else { return false };
    matches!(principal, Principal::AssumedRole { service_linked: true, .. })
        && !service.is_empty()
        && service.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !FRONT_END_INVOKERS.iter().any(|f| f.eq_ignore_ascii_case(invoked_by))
}

fn owned(s: &Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The account id in an ARN (`arn:partition:service:region:account:resource`).
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Classify a `userIdentity`. `None` (no `userIdentity` at all) is [`Principal::Unknown`].
pub fn classify(identity: Option<&UserIdentity<'_>>) -> (Principal, SessionDetails) {
    let Some(id) = identity else {
        return (Principal::Unknown { raw_type: None, arn: None, principal_id: None, account_id: None }, SessionDetails::default());
    };
    let arn = owned(&id.arn);
    let issuer = id.session_context.as_ref().and_then(|c| c.session_issuer.as_ref());
    let mut details = SessionDetails {
        access_key_id: owned(&id.access_key_id),
        session_name: None,
        source_identity: id.session_context.as_ref().and_then(|c| owned(&c.source_identity)),
        invoked_by: owned(&id.invoked_by),
    };
    let account = owned(&id.account_id).or_else(|| arn.as_deref().and_then(arn_account).map(str::to_owned));
    let unknown = || Principal::Unknown {
        raw_type: owned(&id.identity_type),
        arn: arn.clone(),
        principal_id: owned(&id.principal_id),
        account_id: owned(&id.account_id),
    };
    let principal = match id.identity_type.as_deref() {
        Some("IAMUser") => {
            let from_arn = arn.as_deref().filter(|a| a.contains(":user/"));
            let name = owned(&id.user_name).or_else(|| from_arn.and_then(|a| a.rsplit('/').next()).map(str::to_owned));
            match (from_arn, name, account.clone()) {
                (Some(a), Some(n), acct) => Principal::IamUser {
                    arn: a.to_owned(),
                    arn_derived: false,
                    user_name: n,
                    account_id: arn_account(a).map(str::to_owned).or(acct).unwrap_or_default(),
                },
                (None, Some(n), Some(acct)) => {
                    Principal::IamUser { arn: format!("arn:aws:iam::{acct}:user/{n}"), arn_derived: true, user_name: n, account_id: acct }
                }
                _ => unknown(),
            }
        }
        Some("AssumedRole") => {
            // arn:aws:sts::<acct>:assumed-role/<role>/<session>
            let mut parts = arn.as_deref().and_then(|a| a.split_once(":assumed-role/")).map(|(_, rest)| rest.splitn(2, '/'));
            let role_from_arn = parts.as_mut().and_then(|p| p.next()).map(str::to_owned);
            details.session_name = parts.as_mut().and_then(|p| p.next()).map(str::to_owned);
            let acct = account.clone().or_else(|| issuer.and_then(|i| owned(&i.account_id)));
            // The session ARN names the role. An issuer naming another role (names compared as
            // IAM compares them) or another account than the session ARN's contradicts it: a
            // forged copy of a record cannot move the call to another role by its
            // `sessionIssuer`; the session ARN decides (a derived role ARN, which the responders
            // confirm through IAM).
            let session_account = arn.as_deref().and_then(arn_account).or(acct.as_deref());
            let agrees = |name: &str| role_from_arn.as_deref().is_none_or(|r| r.eq_ignore_ascii_case(name));
            let issuer_arn = issuer.and_then(|i| owned(&i.arn)).filter(|a| {
                a.contains(":role/")
                    && agrees(a.rsplit('/').next().unwrap_or_default())
                    && session_account.is_none_or(|ac| arn_account(a) == Some(ac))
            });
            let issuer_name = issuer.and_then(|i| owned(&i.user_name)).filter(|n| agrees(n));
            let role_name = issuer_name
                .or_else(|| issuer_arn.as_deref().and_then(|a| a.rsplit('/').next()).map(str::to_owned))
                .or_else(|| role_from_arn.clone());
            match (issuer_arn, role_name, acct) {
                (Some(ra), Some(rn), Some(acct)) => role(ra, false, rn, acct),
                (None, Some(rn), Some(acct)) if role_from_arn.is_some() => role(format!("arn:aws:iam::{acct}:role/{rn}"), true, rn, acct),
                _ => unknown(),
            }
        }
        Some("Root") => match account {
            Some(acct) => Principal::Root { arn: arn.clone().unwrap_or_else(|| format!("arn:aws:iam::{acct}:root")), account_id: acct },
            None => unknown(),
        },
        Some("FederatedUser") => match (arn.clone(), account) {
            (Some(a), Some(acct)) => {
                let issuer_arn = issuer
                    .and_then(|i| owned(&i.arn))
                    .filter(|i| (i.contains(":user/") || i.ends_with(":root")) && arn_account(i) == Some(acct.as_str()));
                Principal::FederatedUser { arn: a, account_id: acct, issuer_arn }
            }
            _ => unknown(),
        },
        Some("IdentityCenterUser") => match owned(&id.principal_id).or_else(|| arn.clone()) {
            Some(pid) => Principal::IdentityCenterUser { id: pid, account_id: account },
            None => unknown(),
        },
        Some("AWSService") => {
            Principal::AwsService { service: owned(&id.invoked_by).or_else(|| owned(&id.principal_id)).unwrap_or_else(|| "unknown".into()) }
        }
        None if id.invoked_by.is_some() && arn.is_none() => Principal::AwsService { service: owned(&id.invoked_by).unwrap_or_default() },
        _ => unknown(),
    };
    (principal, details)
}

fn role(role_arn: String, derived: bool, role_name: String, account_id: String) -> Principal {
    // The account that owns the role is the one in its ARN: that is where any action would land.
    let account_id = arn_account(&role_arn).map(str::to_owned).unwrap_or(account_id);
    Principal::AssumedRole {
        service_linked: is_service_linked_role(&role_arn, &role_name),
        identity_center: is_identity_center_role(&role_arn, &role_name),
        role_arn,
        role_arn_derived: derived,
        role_name,
        account_id,
    }
}
