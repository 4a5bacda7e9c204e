//! `launchguard-render [RULES_FILE]`: the rule set (the bundled one without a file) validated,
//! and what deploy renders from it, as one JSON document on stdout:
//! `{"origin", "digest", "rules", "alarm_names", "resources", "describe", "stream_resources"}`. `resources` are the
//! metric filters and alarms (CloudFormation), on the log group parameter
//! `CloudTrailLogGroupName` and the alarm topic parameter `AlarmTopicArn`; `stream_resources` are
//! the stream path's EventBridge rules (`launchguard_core::stream_plan`), targeting the stream
//! stack's `StreamQueue`. A rule set that
//! cannot be rendered exits 2 with the rule, the field and the fix on stderr.
//!
//! `launchguard-render --protected PATTERNS`: PROTECTED_PRINCIPALS (comma-separated) as the IAM
//! `Resource` patterns of the handlers' deny, a JSON list on stdout
//! (`launchguard_core::protected_iam`); a pattern the functions would refuse exits 2.

use std::process::ExitCode;

use launchguard_core::alarm_plan::{describe, plan};
use launchguard_core::ids::ArnPatterns;
use launchguard_core::protected_iam::iam_deny_resources;
use launchguard_core::rules::{RuleSet, digest};
use serde_json::json;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--protected") {
        return protected(&std::env::args().nth(2).unwrap_or_default());
    }
    let path = std::env::args().nth(1);
    let (text, origin) = match &path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => (t, p.clone()),
            Err(e) => {
                eprintln!("launchguard-render: cannot read the rule file {p}: {e}");
                return ExitCode::from(2);
            }
        },
        None => (launchguard_core::rules::BUNDLED.to_owned(), "bundled rules/default.json".to_owned()),
    };
    let rendered = RuleSet::parse(&text, &origin).and_then(|set| plan(&set).map(|p| (set, p)));
    match rendered {
        Ok((set, p)) => {
            let doc = json!({
                "origin": origin,
                "digest": digest(&text),
                "rules": set.ids(),
                "alarm_names": p.names(),
                "resources": p.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"})),
                "describe": describe(&p),
                "stream_resources": launchguard_core::stream_plan::resources(
                    &launchguard_core::stream_plan::plan(&set),
                    &json!({"Fn::GetAtt": ["StreamQueue", "Arn"]})
                ),
            });
            println!("{doc}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("launchguard-render: {e}");
            ExitCode::from(2)
        }
    }
}

fn protected(patterns: &str) -> ExitCode {
    match ArnPatterns::parse_list(patterns) {
        Ok(p) => {
            println!("{}", json!(iam_deny_resources(&p)));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("launchguard-render: PROTECTED_PRINCIPALS: {e}");
            ExitCode::from(2)
        }
    }
}
