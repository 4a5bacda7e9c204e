//! Review 30: rule files the renderer (`alarm_plan::plan`, behind `launchguard-render`) accepts
//! whose alarms cannot be deployed or cannot fire. Each test asserts the safe outcome: the
//! renderer refuses what CloudWatch would refuse, so a rule is never left without its alarm.

use launchguard_core::alarm_plan::plan;
use launchguard_core::rules::RuleSet;
use serde_json::json;

/// `PutMetricFilter`'s `filterPattern` is at most 1,024 characters; an alarm's name at most 255.
const MAX_FILTER_PATTERN: usize = 1024;
const MAX_ALARM_NAME: usize = 255;

/// A rule of 16 event names of 60 characters each (the parser takes 16 names of up to 128), and
/// a rule whose alarm prefix is 252 characters (the parser takes alarm names of up to 255): the
/// renderer accepts both; CloudFormation refuses the filter and the alarm, and deploy has by then
/// given the functions the new rules (step 2 before the wiring stack, step 3).
#[test]
fn review30_every_rendered_filter_pattern_and_alarm_name_fits_cloudwatch() {
    let names: Vec<String> = (0..16).map(|i| format!("Create{}{i:02}", "X".repeat(52))).collect();
    let long_prefix = format!("launchguard-{}*", "a".repeat(240));
    let doc = json!({"schema_version": 1, "rules": [
        {"id": "many-events", "event_source": "iam.amazonaws.com", "event_names": names, "counts": "calls",
         "horizons": [{"window_seconds": 600, "threshold": 5}], "actions": [], "alarms": ["launchguard-many-*"]},
        {"id": "long-name", "event_source": "iam.amazonaws.com", "event_names": ["CreateUser"], "counts": "calls",
         "horizons": [{"window_seconds": 600, "threshold": 5}], "actions": [], "alarms": [long_prefix]},
    ]});
    let set = RuleSet::parse(&doc.to_string(), "review30").expect("the rule parser accepts the file");
    let Ok(p) = plan(&set) else { return }; // refused with the rule named: safe
    for f in &p.filters {
        assert!(f.pattern.len() <= MAX_FILTER_PATTERN, "{}: a filter pattern of {} characters", f.logical_id, f.pattern.len());
    }
    for a in &p.alarms {
        assert!(a.name.len() <= MAX_ALARM_NAME, "{}: an alarm name of {} characters", a.rule, a.name.len());
    }
}
