//! The stream's EventBridge rules in memory (feature `test-util`): each rule as `DescribeRule` and
//! `ListTargetsByRule` would describe it, changed as `PutRule`/`PutTargets` would change it.
//! Outages (throttling) may be injected.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use launchguard_aws::CallError;
use launchguard_core::stream_plan::SeenRule;

use crate::Config;
use crate::rules::RuleReader;

/// The event bus in memory.
#[derive(Debug, Default)]
pub struct MemoryRules {
    rules: Mutex<BTreeMap<String, SeenRule>>,
    /// The next this-many reads fail as throttled.
    pub outages: AtomicU64,
    /// Reads made.
    pub reads: AtomicU64,
}

impl MemoryRules {
    /// The bus as `make deploy` leaves it: every rule of `cfg` as rendered, targeting its queue.
    pub fn rendered(cfg: &Config) -> Self {
        let rules = cfg.stream_rules.iter().map(|r| (r.name.clone(), r.as_rendered(&cfg.queue_arn))).collect();
        Self { rules: Mutex::new(rules), ..Self::default() }
    }

    /// Change the rule `name` (creating it if absent) as `PutRule`/`PutTargets` would.
    pub fn change(&self, name: &str, f: impl FnOnce(&mut SeenRule)) {
        let mut rules = self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(rules.entry(name.to_owned()).or_default());
    }

    /// Delete the rule `name` (`DeleteRule`).
    pub fn delete(&self, name: &str) {
        self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(name);
    }
}

impl RuleReader for MemoryRules {
    async fn read(&self, name: &str) -> Result<Option<SeenRule>, CallError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.outages.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(CallError {
                message: "events:DescribeRule: Rate exceeded (ThrottlingException; HTTP 400)".into(),
                code: Some("ThrottlingException".into()),
                retryable: true,
            });
        }
        Ok(self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(name).cloned())
    }
}

/// The stream's rules as `make deploy` leaves them, and a health topic, in memory.
pub fn intact(cfg: &Config) -> crate::Guard<MemoryRules, crate::memory_health::MemoryHealth> {
    crate::Guard { rules: MemoryRules::rendered(cfg), health: crate::memory_health::MemoryHealth::default() }
}
