//! Every rule fed from one read of an input: the reader ([`super::input`]) hands each record
//! once to [`EveryRule`], which hands it to each rule's [`Scanner`] (the rule's own pre-filter,
//! parse, time range and `eventID` de-duplication), so a rule's counters and matching records
//! are those it has when replayed alone. What the reader could not read is noted in every rule;
//! a record that one rule or more could not parse is one unreadable record of the input.

use launchguard_core::error::cut;
use launchguard_core::scan::{LaunchSink, MAX_ERROR_SAMPLES, Scanner};

use super::input::Feed;

/// Each rule's scanner, fed the same records.
#[derive(Debug)]
pub struct EveryRule<K> {
    /// One scanner a rule, in the rules' order.
    pub scanners: Vec<Scanner<K>>,
    rows: u64,
    unreadable: u64,
    samples: Vec<String>,
}

impl<K: LaunchSink> EveryRule<K> {
    /// Feed these scanners.
    pub fn new(scanners: Vec<Scanner<K>>) -> Self {
        Self { scanners, rows: 0, unreadable: 0, samples: Vec::new() }
    }

    fn count_unreadable(&mut self, why: Option<String>) {
        self.unreadable += 1;
        if let Some(why) = why
            && self.samples.len() < MAX_ERROR_SAMPLES
        {
            self.samples.push(cut(&why, 256));
        }
    }
}

impl<K: LaunchSink> Feed for EveryRule<K> {
    fn push_message(&mut self, message: &str) {
        self.rows += 1;
        let (mut failed, mut why) = (false, None);
        for s in &mut self.scanners {
            let (before, samples) = (s.stats.unparseable, s.stats.error_samples.len());
            s.push_message(message);
            if s.stats.unparseable > before {
                failed = true;
                if why.is_none() && s.stats.error_samples.len() > samples {
                    why = s.stats.error_samples.last().cloned();
                }
            }
        }
        if failed {
            self.count_unreadable(why);
        }
    }

    fn note_error(&mut self, why: String) {
        for s in &mut self.scanners {
            s.note_error(why.clone());
        }
        self.count_unreadable(Some(why));
    }

    fn rows(&self) -> u64 {
        self.rows
    }

    fn unreadable(&self) -> u64 {
        self.unreadable
    }

    fn error_samples(&self) -> &[String] {
        &self.samples
    }
}
