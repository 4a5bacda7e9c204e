//! Proof that the stream's own rules deliver only what CloudTrail sent, before a finding carries
//! any record as delivered by AWS. The queue takes messages from the stream's rendered rules only
//! (`aws:SourceArn`), but whoever may `events:PutTargets` or `events:PutRule` on one of them can
//! make the genuine rule deliver a body AWS never sent: a constant `Input`, an `InputPath`, an
//! `InputTransformer`, or a pattern widened to a `source` anyone may `PutEvents`. So before a
//! finding's records are vouched for (crossings are rare: this is cheap), every stream rule is
//! read back (`DescribeRule`, `ListTargetsByRule`) and compared with the one rendered from the
//! same rule set ([`launchguard_core::stream_plan::StreamRule::differences`]). A rule tampered
//! with, or one that cannot be read, vouches for nothing: the records go unproven (the dispatcher
//! confirms them in CloudTrail's event history) and launchguard's health topic is paged with
//! what differs.
//!
//! What this cannot see: a rule rewritten, used and restored before the check reads it. The
//! example SCP's deny of `events:PutRule`/`PutTargets` on `rule/launchguard-*` closes that.

use launchguard_aws::CallError;
use launchguard_core::stream_plan::SeenRule;
use launchguard_core::text::untrusted;
use tracing::{error, warn};

use crate::Config;

/// Read one of the stream's rules on its bus: `DescribeRule` and `ListTargetsByRule`.
pub trait RuleReader: Send + Sync {
    /// The rule named `name`, or `None` when the bus has no such rule. `Err` when it could not be read.
    fn read(&self, name: &str) -> impl Future<Output = Result<Option<SeenRule>, CallError>> + Send;
}

/// Page launchguard's health topic (`LG_HEALTH_TOPIC_ARN`).
pub trait HealthPager: Send + Sync {
    /// Publish one page.
    fn page(&self, subject: &str, message: &str) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// What the rules' check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesCheck {
    /// Every stream rule is as rendered: what the queue delivered is what CloudTrail sent.
    Intact,
    /// A rule differs from its rendering, is missing, or could not be read: nothing is vouched for.
    Untrusted(Vec<String>),
}

/// The rules and the health topic, as the stream function uses them.
#[derive(Debug, Clone, Default)]
pub struct Guard<R, P> {
    /// The stream's rules on its bus.
    pub rules: R,
    /// launchguard's health topic.
    pub health: P,
}

/// The subject of the page a tampered rule makes.
pub const PAGE_SUBJECT: &str = "launchguard health: a stream rule is not as rendered; its records were not trusted";

impl<R: RuleReader, P: HealthPager> Guard<R, P> {
    /// Read every rule of `cfg.stream_rules` and compare it with its rendering (no cache: each
    /// finding reads them again).
    pub async fn check(&self, cfg: &Config) -> RulesCheck {
        let mut differ = Vec::new();
        for rule in &cfg.stream_rules {
            match self.rules.read(&rule.name).await {
                Ok(Some(seen)) => differ.extend(rule.differences(&cfg.queue_arn, &seen)),
                Ok(None) => differ.push(format!("{}: no such rule on the event bus {}", rule.name, untrusted(&cfg.event_bus))),
                Err(e) => differ.push(format!("{}: could not be read ({e})", rule.name)),
            }
        }
        if differ.is_empty() { RulesCheck::Intact } else { RulesCheck::Untrusted(differ) }
    }

    /// [`Guard::check`], and on anything but [`RulesCheck::Intact`] a page to the health topic
    /// naming what differs and the finding whose records were left to CloudTrail. True when the
    /// records may be vouched for.
    pub async fn vouch(&self, cfg: &Config, finding_id: &str, principal: &str) -> bool {
        match self.check(cfg).await {
            RulesCheck::Intact => true,
            RulesCheck::Untrusted(differ) => {
                warn!(finding_id, differ = ?differ, "a stream rule is not as rendered: no record carried as delivered by AWS");
                let message = format!(
                    "launchguard-stream did not vouch for the records of finding {finding_id} (principal {}): the dispatcher confirms them \
                     in CloudTrail's event history instead, and contains only what CloudTrail holds.\n\nWhat differs from the rules \
                     rendered from the rule file (deploy/render.py):\n- {}\n\nWhoever changed a launchguard-stream-* rule (its pattern \
                     or its targets' Input, InputPath, InputTransformer) can deliver bodies AWS never sent to the stream's queue. Read \
                     CloudTrail for events:PutRule, events:PutTargets and events:RemoveTargets on these rules, restore them with \
                     `make deploy`, and deny those actions on rule/launchguard-* with the example SCP (examples/scp-launchguard.json).",
                    untrusted(principal),
                    differ.join("\n- ")
                );
                if let Err(e) = self.health.page(PAGE_SUBJECT, &message).await {
                    error!(error = %e, finding_id, "the health topic could not be paged about a stream rule not as rendered: check \
                        LG_HEALTH_TOPIC_ARN and the stream role's sns:Publish on it");
                }
                false
            }
        }
    }
}
