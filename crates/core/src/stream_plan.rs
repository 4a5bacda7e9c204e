//! The EventBridge rules the stream path needs, rendered from a rule set (as [`crate::alarm_plan`]
//! renders the alarms): one rule on the default bus per event source, matching exactly the
//! event names the rules watch, as CloudTrail sends them ("AWS API Call via CloudTrail"),
//! targeting the stream queue. No pattern is written by hand.
//!
//! IAM is a global service: CloudTrail sends its events to EventBridge in **us-east-1 only**. A
//! rule for `iam.amazonaws.com` (or any other global service, [`GLOBAL_SOURCES`]) carries the
//! template condition [`US_EAST_1_CONDITION`]: a stack in another region does not create it,
//! and IAM bursts are caught there by the stack in us-east-1 (or by the alarm chain).

use serde_json::{Value, json};

use crate::rules::RuleSet;
use crate::stream::DETAIL_TYPE;

/// Event sources whose CloudTrail events reach EventBridge in us-east-1 only.
pub const GLOBAL_SOURCES: &[&str] = &["iam.amazonaws.com", "sts.amazonaws.com", "organizations.amazonaws.com"];
/// The template condition that holds in us-east-1.
pub const US_EAST_1_CONDITION: &str = "InUsEast1";
/// Every rendered rule's name starts with it.
pub const RULE_PREFIX: &str = "launchguard-stream-";

/// One EventBridge rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRule {
    /// CloudFormation logical id.
    pub logical_id: String,
    /// The rule's name.
    pub name: String,
    /// `eventSource`, e.g. `ec2.amazonaws.com`.
    pub event_source: String,
    /// The event names, sorted, each once.
    pub event_names: Vec<String>,
    /// Created in us-east-1 only.
    pub us_east_1_only: bool,
}

impl StreamRule {
    /// The event pattern: `source` `aws.<service>`, the detail type, the source and names.
    pub fn pattern(&self) -> Value {
        json!({
            "source": [crate::stream::eventbridge_source(&self.event_source)],
            "detail-type": [DETAIL_TYPE],
            "detail": {"eventSource": [self.event_source], "eventName": self.event_names},
        })
    }
}

fn camel(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The rules for `set`: one per event source, in the order first named.
pub fn plan(set: &RuleSet) -> Vec<StreamRule> {
    let mut out: Vec<StreamRule> = Vec::new();
    for (source, names) in set.rules.iter().flat_map(|r| r.event.groups()) {
        match out.iter_mut().find(|s| s.event_source == source) {
            Some(s) => s.event_names.extend(names.iter().cloned()),
            None => {
                let service = source.trim_end_matches(".amazonaws.com");
                out.push(StreamRule {
                    logical_id: format!("StreamRule{}", camel(service)),
                    name: format!("{RULE_PREFIX}{service}"),
                    event_source: source.to_owned(),
                    event_names: names.to_vec(),
                    us_east_1_only: GLOBAL_SOURCES.contains(&source),
                });
            }
        }
    }
    for s in &mut out {
        s.event_names.sort();
        s.event_names.dedup();
    }
    out
}

/// The CloudFormation resources: each rule targeting `queue_arn` (a template value), the IAM
/// ones under [`US_EAST_1_CONDITION`].
pub fn resources(rules: &[StreamRule], queue_arn: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for r in rules {
        let mut res = json!({"Type": "AWS::Events::Rule", "Properties": {
            "Name": r.name,
            "Description": format!("launchguard stream: {} {} as CloudTrail sends them (rendered from the rule file)",
                                   r.event_source, r.event_names.join(", ")),
            "EventBusName": "default",
            "State": "ENABLED",
            "EventPattern": r.pattern(),
            "Targets": [{"Id": "stream-queue", "Arn": queue_arn}]}});
        if r.us_east_1_only {
            res["Condition"] = json!(US_EAST_1_CONDITION);
        }
        out.insert(r.logical_id.clone(), res);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_bundled_rules_render_one_rule_per_source_and_iam_in_us_east_1_only() {
        let set = RuleSet::bundled().unwrap();
        let p = plan(&set);
        let ec2 = p.iter().find(|r| r.event_source == "ec2.amazonaws.com").unwrap();
        assert_eq!(
            ec2.event_names,
            ["CreateFleet", "ModifyFleet", "ModifySpotFleetRequest", "RequestSpotFleet", "RequestSpotInstances", "RunInstances"]
        );
        assert!(!ec2.us_east_1_only);
        let asg = p.iter().find(|r| r.event_source == "autoscaling.amazonaws.com").unwrap();
        assert_eq!(
            asg.event_names,
            ["CreateAutoScalingGroup", "PutScheduledUpdateGroupAction", "SetDesiredCapacity", "UpdateAutoScalingGroup"]
        );
        assert!(!asg.us_east_1_only);
        let eks = p.iter().find(|r| r.event_source == "eks.amazonaws.com").unwrap();
        assert_eq!(eks.event_names, ["CreateNodegroup", "UpdateNodegroupConfig"]);
        assert!(!eks.us_east_1_only);
        let iam = p.iter().find(|r| r.event_source == "iam.amazonaws.com").unwrap();
        assert_eq!(iam.event_names, ["CreateAccessKey", "CreateUser"]);
        assert!(iam.us_east_1_only);
        let res = resources(&p, &json!({"Ref": "Q"}));
        assert_eq!(res[&iam.logical_id]["Condition"], US_EAST_1_CONDITION);
        assert!(res[&ec2.logical_id].get("Condition").is_none());
        assert_eq!(res[&ec2.logical_id]["Properties"]["EventPattern"]["source"], json!(["aws.ec2"]));
        assert_eq!(res[&ec2.logical_id]["Properties"]["EventPattern"]["detail-type"], json!([DETAIL_TYPE]));
        assert_eq!(res[&eks.logical_id]["Properties"]["EventPattern"]["source"], json!(["aws.eks"]));
    }

    #[test]
    fn every_watched_event_is_matched_by_a_pattern() {
        let set = RuleSet::bundled().unwrap();
        let p = plan(&set);
        for r in &set.rules {
            for (source, n) in r.event.groups().flat_map(|(s, names)| names.iter().map(move |n| (s, n))) {
                assert!(
                    p.iter().any(|s| s.pattern()["detail"]["eventSource"][0] == source
                        && s.pattern()["detail"]["eventName"].as_array().unwrap().iter().any(|v| v == n)),
                    "{} {n}",
                    r.id
                );
            }
        }
    }
}
