//! launchguard's health topic in memory (feature `test-util`): the pages published.

use std::sync::Mutex;

use launchguard_aws::CallError;

use crate::rules::HealthPager;

/// The topic in memory.
#[derive(Debug, Default)]
pub struct MemoryHealth {
    /// Each page: subject, message.
    pub pages: Mutex<Vec<(String, String)>>,
}

impl MemoryHealth {
    /// The pages published so far.
    pub fn pages(&self) -> Vec<(String, String)> {
        self.pages.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl HealthPager for MemoryHealth {
    async fn page(&self, subject: &str, message: &str) -> Result<(), CallError> {
        self.pages.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((subject.to_owned(), message.to_owned()));
        Ok(())
    }
}
