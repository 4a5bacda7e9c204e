//! What the detector's in-process tests share: the account, the configured alarm, the
//! configuration, and Lambda in memory (the findings sent to the dispatcher).

#![allow(dead_code, clippy::unwrap_used)] // each test file uses part of it; a test that cannot unwrap has failed

use std::sync::Mutex;

use launchguard_aws::InvokeResponse;
use launchguard_core::contract::Finding;
use launchguard_detector::{CallError, Config, Invoker};

pub const ACCOUNT: &str = "218007301253";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:218007301253:function:launchguard-detector";
pub const ALARM_ARN: &str = "arn:aws:cloudwatch:us-east-1:218007301253:alarm:launchguard-runinstances";

/// Lambda in memory: what the detector sends (function, payload); `fails` makes every send throttled.
#[derive(Default)]
pub struct FakeLambda {
    pub sent: Mutex<Vec<(String, Vec<u8>)>>,
    pub fails: bool,
}

impl Invoker for FakeLambda {
    async fn invoke_async(&self, function: &str, payload: Vec<u8>) -> Result<(), CallError> {
        if self.fails {
            return Err(CallError::new("lambda:Invoke: Rate exceeded (TooManyRequestsException; HTTP 429)", true));
        }
        self.sent.lock().unwrap().push((function.to_owned(), payload));
        Ok(())
    }
    async fn invoke_sync(&self, function: &str, _p: Vec<u8>) -> Result<InvokeResponse, CallError> {
        Err(CallError::new(format!("the detector never waits for {function}"), false))
    }
}

impl FakeLambda {
    /// The findings sent, parsed.
    pub fn findings(&self) -> Vec<Finding> {
        self.sent.lock().unwrap().iter().map(|(_, p)| Finding::parse(serde_json::from_slice(p).unwrap()).unwrap()).collect()
    }
}

/// The detector's configuration for the test account and alarm; `extra` values win.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> = vec![
        ("CLOUDTRAIL_LOG_GROUP_NAME".into(), "cloudtrail-logs".into()),
        ("DISPATCHER_LAMBDA_NAME".into(), "launchguard-dispatcher".into()),
        ("LG_POLL_INITIAL_MS".into(), "100".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("ALARM_ARNS".into(), ALARM_ARN.into()),
    ];
    vars.splice(0..0, extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Config::from_env(&env).expect("valid config")
}

/// The detector's configuration from `env`, with the test's log group, dispatcher and region
/// unless `env` sets them.
pub fn config_with(env: &dyn launchguard_core::config::Env) -> Config {
    let defaults = [
        ("CLOUDTRAIL_LOG_GROUP_NAME", "cloudtrail-logs"),
        ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher"),
        ("LG_POLL_INITIAL_MS", "100"),
        ("AWS_REGION", "us-east-1"),
    ];
    let both = |k: &str| env.get(k).or_else(|| defaults.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()));
    Config::from_env(&both).expect("valid config")
}
