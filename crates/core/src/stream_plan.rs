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

/// A stream rule as EventBridge describes it now (`DescribeRule`, `ListTargetsByRule`): what
/// decides the bodies it delivers to the stream's queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeenRule {
    /// `EventPattern`, as EventBridge holds it.
    pub pattern: Option<String>,
    /// `ScheduleExpression`: a stream rule has none.
    pub schedule: Option<String>,
    /// Its targets.
    pub targets: Vec<SeenTarget>,
}

/// One target of a rule, as `ListTargetsByRule` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeenTarget {
    /// `Id`.
    pub id: String,
    /// `Arn`.
    pub arn: String,
    /// `Input`: a constant body sent instead of the event.
    pub input: Option<String>,
    /// `InputPath`: a part of the event sent instead of the event.
    pub input_path: Option<String>,
    /// `InputTransformer`'s template: a body written from the event's fields.
    pub input_transformer: Option<String>,
}

impl StreamRule {
    /// The rule as rendered ([`resources`]), targeting `queue_arn`, as EventBridge would describe it.
    pub fn as_rendered(&self, queue_arn: &str) -> SeenRule {
        SeenRule {
            pattern: Some(self.pattern().to_string()),
            schedule: None,
            targets: vec![SeenTarget { id: "stream-queue".into(), arn: queue_arn.into(), ..SeenTarget::default() }],
        }
    }

    /// What differs between `seen` and this rule as rendered targeting `queue_arn`, in words (outside
    /// text escaped): empty when EventBridge can deliver to the queue only the events this rule
    /// matches, exactly as CloudTrail sent them. A pattern is compared as JSON (key order and
    /// spacing aside); the only target must be `queue_arn` with no `Input`, `InputPath` or
    /// `InputTransformer` (any of which lets the rule deliver a body AWS never sent).
    pub fn differences(&self, queue_arn: &str, seen: &SeenRule) -> Vec<String> {
        let mut out = Vec::new();
        let name = &self.name;
        match seen.pattern.as_deref().map(serde_json::from_str::<Value>) {
            // a repeated key (at any depth) is not as rendered: serde_json keeps its last value,
            // EventBridge may keep another
            Some(Ok(p)) if p == self.pattern() && seen.pattern.as_deref().is_some_and(keys_unique) => {}
            Some(_) => out.push(format!(
                "{name}: its event pattern is {}, not the rendered {}",
                crate::text::untrusted(seen.pattern.as_deref().unwrap_or_default()),
                self.pattern()
            )),
            None => out.push(format!("{name}: it has no event pattern")),
        }
        if let Some(s) = &seen.schedule {
            out.push(format!("{name}: it has a schedule ({})", crate::text::untrusted(s)));
        }
        if !seen.targets.iter().any(|t| t.arn == queue_arn) {
            out.push(format!("{name}: it does not target the stream's queue {queue_arn}"));
        }
        for t in &seen.targets {
            let id = crate::text::untrusted(&t.id);
            if t.arn != queue_arn {
                out.push(format!("{name}: target {id} sends to {}, not the stream's queue", crate::text::untrusted(&t.arn)));
            }
            if let Some(i) = &t.input {
                out.push(format!("{name}: target {id} sends a constant Input {}", crate::text::untrusted(i)));
            }
            if let Some(i) = &t.input_path {
                out.push(format!("{name}: target {id} sends only the InputPath {}", crate::text::untrusted(i)));
            }
            if let Some(i) = &t.input_transformer {
                out.push(format!("{name}: target {id} rewrites the event with an InputTransformer {}", crate::text::untrusted(i)));
            }
        }
        if seen.targets.len() > 1 {
            out.push(format!("{name}: it has {} targets, not the one stream queue", seen.targets.len()));
        }
        out
    }
}

/// True when `text` is JSON in which no object names a key twice, at any depth.
fn keys_unique(text: &str) -> bool {
    serde_json::from_str::<Unique>(text).is_ok()
}

/// Any JSON value; deserialising it fails on an object with a repeated key.
struct Unique;

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON without a repeated key")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Unique, A::Error> {
        while a.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Unique, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(k) = a.next_key::<String>()? {
            if !keys.insert(k) {
                return Err(serde::de::Error::custom("a repeated key"));
            }
            a.next_value::<Unique>()?;
        }
        Ok(Unique)
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
    use proptest::prelude::*;

    proptest! {
        /// An object's text with one of its keys written again (at any depth) is refused;
        /// the text as serde_json renders it (keys unique) is not.
        #[test]
        fn a_repeated_key_at_any_depth_is_refused(
            keys in proptest::collection::btree_set("[a-z\"\\\\]{1,6}", 1..5),
            depth in 0usize..4,
            pick in any::<prop::sample::Index>(),
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            let mut inner = Value::Object(keys.iter().map(|k| (k.clone(), json!([1, "x"]))).collect());
            for _ in 0..depth {
                inner = json!({"outer": [inner], "other": null});
            }
            let text = inner.to_string();
            prop_assert!(keys_unique(&text));
            // the innermost object gains a copy of one of its keys, first
            let k = serde_json::to_string(pick.get(&keys)).unwrap();
            let at = text.rfind('{').unwrap();
            let repeated = format!("{}{{{k}:\"again\",{}", &text[..at], &text[at + 1..]);
            prop_assert!(serde_json::from_str::<Value>(&repeated).is_ok());
            prop_assert!(!keys_unique(&repeated), "{}", repeated);
        }
    }

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

    fn ec2() -> StreamRule {
        plan(&RuleSet::bundled().unwrap()).into_iter().find(|r| r.event_source == "ec2.amazonaws.com").unwrap()
    }

    const Q: &str = "arn:aws:sqs:us-east-1:218007301253:launchguard-stream-events";

    #[test]
    fn a_rule_as_rendered_differs_in_nothing_whatever_its_key_order_and_spacing() {
        let r = ec2();
        assert!(r.differences(Q, &r.as_rendered(Q)).is_empty());
        let p = r.pattern();
        let reordered = format!("{{ \"detail\": {},\n \"detail-type\": {}, \"source\": {} }}", p["detail"], p["detail-type"], p["source"]);
        let seen = SeenRule { pattern: Some(reordered), ..r.as_rendered(Q) };
        assert!(r.differences(Q, &seen).is_empty());
    }

    #[test]
    fn a_widened_pattern_or_a_rewritten_target_is_named() {
        let r = ec2();
        let mut wide = r.pattern();
        wide["source"] = json!(["aws.ec2", "custom.anyone"]);
        let seen = SeenRule { pattern: Some(wide.to_string()), ..r.as_rendered(Q) };
        let d = r.differences(Q, &seen);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("custom.anyone") && d[0].contains("not the rendered"), "{d:?}");
        let mut seen = r.as_rendered(Q);
        seen.targets[0].input_transformer = Some("{\"source\":\"aws.ec2\"}".into());
        let d = r.differences(Q, &seen);
        assert!(d.len() == 1 && d[0].contains("InputTransformer"), "{d:?}");
        let seen = SeenRule { targets: vec![], ..r.as_rendered(Q) };
        assert!(r.differences(Q, &seen)[0].contains("does not target"));
    }

    proptest::proptest! {
        /// Any one change to a rendered rule that can alter what reaches the queue is named.
        #[test]
        fn any_change_to_what_the_rule_delivers_is_named(which in 0usize..7, text in "[a-z.$]{1,12}") {
            let r = ec2();
            let mut seen = r.as_rendered(Q);
            match which {
                0 => seen.pattern = None,
                1 => { let mut p = r.pattern(); p["source"] = json!([format!("custom.{text}")]); seen.pattern = Some(p.to_string()); }
                2 => seen.schedule = Some(text.clone()),
                3 => seen.targets[0].input = Some(text.clone()),
                4 => seen.targets[0].input_path = Some(text.clone()),
                5 => seen.targets[0].input_transformer = Some(text.clone()),
                _ => seen.targets.push(SeenTarget { id: text.clone(), arn: format!("arn:aws:sqs:us-east-1:1:{text}"), ..SeenTarget::default() }),
            }
            proptest::prop_assert!(!r.differences(Q, &seen).is_empty(), "{which} {text}");
        }
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
