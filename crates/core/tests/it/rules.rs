//! The rule set: the bundled rules, validation errors that name the rule and field, and the
//! counting of IAM calls on real CloudTrail (invictus-ir: bert-jan creates users and keys).

#![allow(clippy::unwrap_used)]

use launchguard_core::CoreError;
use launchguard_core::capacity::Route;
use launchguard_core::created::{Created, created};
use launchguard_core::record::parse_record;
use launchguard_core::rules::{EC2_MASS_LAUNCH, RuleAction, RuleSet};
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::{Counted, Thresholds, Verdict};
use launchguard_core::windows::{Horizon, Measure};
use launchguard_testkit::fixture_dir;
use proptest::prelude::*;
use serde_json::{Value, json};

fn bundled() -> RuleSet {
    RuleSet::bundled().unwrap()
}

fn set_with(rule: Value) -> String {
    json!({"schema_version": 1, "rules": [rule]}).to_string()
}

fn valid_rule() -> Value {
    json!({
        "id": "iam-user-burst", "event_source": "iam.amazonaws.com", "event_names": ["CreateUser"], "counts": "calls",
        "threshold": 5, "window_seconds": 600, "actions": ["quarantine_user"], "exclude_aws_services": true,
        "alarms": ["launchguard-iam-user-burst*"]
    })
}

fn error_of(text: &str) -> (String, String, String) {
    match RuleSet::parse(text, "test").unwrap_err() {
        CoreError::Rule { rule, field, problem, .. } => (rule, field, problem),
        other => panic!("not a rule error: {other}"),
    }
}

#[test]
fn the_bundled_rules_are_the_three_of_the_issue() {
    // GIVEN the bundled rule set
    let set = bundled();
    // THEN it holds ec2-mass-launch (the seed's 10 instances within 5 minutes first, then an hour
    // and a day), iam-user-burst and iam-access-key-burst
    assert_eq!(set.ids(), vec![EC2_MASS_LAUNCH, "iam-user-burst", "iam-access-key-burst"]);
    let ec2 = set.get(EC2_MASS_LAUNCH).unwrap();
    assert_eq!(ec2.thresholds(false), Thresholds::default());
    let h = |m: Measure, w: u64, t: u64| Horizon { measure: m, window_seconds: w, threshold: t };
    assert_eq!(ec2.horizons, vec![h(Measure::Instances, 300, 10), h(Measure::Instances, 3600, 40), h(Measure::Instances, 86_400, 150)]);
    // AND it counts the instances of every launch route: RunInstances, and the capacity a fleet,
    // a spot request or an Auto Scaling group asks AWS to launch
    let routes: Vec<(String, String)> =
        ec2.event.groups().flat_map(|(s, names)| names.iter().map(move |n| (s.to_owned(), n.clone()))).collect();
    let all: Vec<(String, String)> = Route::ALL.iter().map(|r| (r.event_source().to_owned(), r.event_name().to_owned())).collect();
    assert_eq!(routes, all);
    let users = set.get("iam-user-burst").unwrap();
    assert_eq!((users.event.counts(), users.threshold(), users.window_seconds()), (Counted::Calls, 5, 600));
    assert_eq!(set.get("iam-access-key-burst").unwrap().threshold(), 3);
    // AND the deployment's overrides change the first horizon only, failed calls a horizon of their own
    let t = Thresholds { min_instances: 12, min_failed_calls: Some(4), ..ec2.thresholds(false) };
    assert_eq!(
        ec2.horizons_with(&t),
        vec![
            h(Measure::Instances, 300, 12),
            h(Measure::Instances, 3600, 40),
            h(Measure::Instances, 86_400, 150),
            h(Measure::FailedCalls, 300, 4)
        ]
    );
    // AND each deployed alarm fires exactly its rule
    assert_eq!(set.for_alarm("launchguard-runinstances").unwrap().id, EC2_MASS_LAUNCH);
    assert_eq!(set.for_alarm("launchguard-runinstances-instances").unwrap().id, EC2_MASS_LAUNCH);
    assert_eq!(set.for_alarm("launchguard-iam-user-burst").unwrap().id, "iam-user-burst");
    assert_eq!(set.for_alarm("launchguard-iam-access-key-burst").unwrap().id, "iam-access-key-burst");
    assert!(set.for_alarm("someone-elses-alarm").is_none());
}

#[test]
fn every_error_names_the_rule_and_the_field() {
    // GIVEN rules each wrong in one field; WHEN parsed; THEN the error names that rule and field
    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown field", json!({"extra": 1}), "extra"),
        ("zero threshold", json!({"threshold": 0}), "threshold"),
        ("negative threshold", json!({"threshold": -3}), "threshold"),
        ("threshold as text", json!({"threshold": "5"}), "threshold"),
        ("window too short", json!({"window_seconds": 30}), "window_seconds"),
        ("window over a day", json!({"window_seconds": 172_800}), "window_seconds"),
        ("horizons and a threshold", json!({"horizons": [{"window_seconds": 600, "threshold": 5}]}), "threshold"),
        ("no event name", json!({"event_names": []}), "event_names"),
        ("event name injection", json!({"event_names": ["CreateUser' or 1=1"]}), "event_names"),
        ("foreign source", json!({"event_source": "evil.example.com"}), "event_source"),
        ("an action outside the playbook", json!({"actions": ["delete_user"]}), "actions"),
        ("an action twice", json!({"actions": ["quarantine_user", "quarantine_user"]}), "actions"),
        ("instances of CreateUser", json!({"counts": "instances"}), "counts"),
        ("more events not a list", json!({"more_events": {"event_source": "sts.amazonaws.com"}}), "more_events"),
        ("more events empty", json!({"more_events": []}), "more_events"),
        (
            "more events of the same source",
            json!({"more_events": [{"event_source": "iam.amazonaws.com", "event_names": ["CreateRole"]}]}),
            "more_events[0]",
        ),
        (
            "more events of a foreign source",
            json!({"more_events": [{"event_source": "evil.example.com", "event_names": ["X"]}]}),
            "more_events[0]",
        ),
        (
            "more events with an unknown field",
            json!({"more_events": [{"event_source": "sts.amazonaws.com", "event_names": ["X"], "y": 1}]}),
            "more_events[0].y",
        ),
        ("more events without names", json!({"more_events": [{"event_source": "sts.amazonaws.com"}]}), "more_events[0].event_names"),
        (
            "more events over 16 names",
            json!({"more_events": [{"event_source": "sts.amazonaws.com", "event_names": (0..16).map(|i| format!("E{i}")).collect::<Vec<_>>()}]}),
            "more_events[0]",
        ),
        ("no alarm", json!({"alarms": []}), "alarms"),
        ("alarm name with a space", json!({"alarms": ["my alarm"]}), "alarms"),
        ("exclude as text", json!({"exclude_aws_services": "yes"}), "exclude_aws_services"),
    ];
    for (what, change, field) in cases {
        let mut rule = valid_rule();
        for (k, v) in change.as_object().unwrap() {
            rule[k] = v.clone();
        }
        let (r, f, problem) = error_of(&set_with(rule));
        assert_eq!((r.as_str(), f.as_str()), ("iam-user-burst", field), "{what}: {problem}");
    }
    // AND a rule without a valid id is named by its position
    let (r, f, _) = error_of(&set_with(json!({"id": "Bad Id"})));
    assert_eq!((r.as_str(), f.as_str()), ("#1", "id"));
}

#[test]
fn a_rule_counting_instances_names_launch_routes_only() {
    let instances = |source: &str, names: Value, more: Value| {
        let mut rule = json!({"id": "launches", "event_source": source, "event_names": names, "counts": "instances",
            "threshold": 10, "window_seconds": 300, "actions": [], "alarms": ["launchguard-launches*"]});
        if !more.is_null() {
            rule["more_events"] = more;
        }
        RuleSet::parse(&set_with(rule), "test")
    };
    // GIVEN the Auto Scaling routes next to EC2's THEN the rule is accepted and matches both
    let asg = json!([{"event_source": "autoscaling.amazonaws.com", "event_names": ["SetDesiredCapacity"]}]);
    let set = instances("ec2.amazonaws.com", json!(["RunInstances", "CreateFleet"]), asg).unwrap();
    let r = &set.rules[0];
    assert_eq!(r.event.label(), "ec2.amazonaws.com/RunInstances,CreateFleet;autoscaling.amazonaws.com/SetDesiredCapacity");
    assert_eq!(
        r.event.filter_pattern(),
        "{ (($.eventSource = \"ec2.amazonaws.com\") && (($.eventName = \"RunInstances\") || ($.eventName = \"CreateFleet\"))) \
         || (($.eventSource = \"autoscaling.amazonaws.com\") && ($.eventName = \"SetDesiredCapacity\")) }"
    );
    assert!(r.event.insights_query(10).contains(
        "filter (eventSource = 'ec2.amazonaws.com' and eventName in ['RunInstances', 'CreateFleet']) or \
         (eventSource = 'autoscaling.amazonaws.com' and eventName = 'SetDesiredCapacity')"
    ));
    // GIVEN an event that launches nothing, or a launch name under another source, THEN refused
    for (source, names, more) in [
        ("ec2.amazonaws.com", json!(["RunInstances", "StartInstances"]), Value::Null),
        ("autoscaling.amazonaws.com", json!(["RunInstances"]), Value::Null),
        (
            "ec2.amazonaws.com",
            json!(["RunInstances"]),
            json!([{"event_source": "autoscaling.amazonaws.com", "event_names": ["CreateLaunchConfiguration"]}]),
        ),
    ] {
        let e = instances(source, names.clone(), more).unwrap_err();
        let CoreError::Rule { field, problem, .. } = &e else { panic!("{e}") };
        assert_eq!(field, "counts", "{names}: {problem}");
        assert!(problem.contains("autoscaling.amazonaws.com SetDesiredCapacity"), "{problem}");
    }
}

#[test]
fn duplicate_ids_and_overlapping_alarms_are_refused() {
    // GIVEN two rules with the same id
    let twice = json!({"schema_version": 1, "rules": [valid_rule(), valid_rule()]}).to_string();
    // THEN the second is named
    assert_eq!(error_of(&twice).1, "id");
    // GIVEN two rules whose alarm patterns can name the same alarm
    let mut other = valid_rule();
    other["id"] = json!("iam-user-burst-2");
    other["alarms"] = json!(["launchguard-iam-user-burst-eu"]);
    let overlap = json!({"schema_version": 1, "rules": [valid_rule(), other]}).to_string();
    // THEN it is refused: an alarm fires one rule
    let (rule, field, problem) = error_of(&overlap);
    assert_eq!((rule.as_str(), field.as_str()), ("iam-user-burst-2", "alarms"), "{problem}");
    // AND an unknown top-level field or version is refused
    assert_eq!(error_of(r#"{"schema_version": 1, "rules": [], "x": 1}"#).1, "x");
    assert_eq!(error_of(r#"{"schema_version": 2, "rules": []}"#).1, "schema_version");
}

#[test]
fn the_environment_chooses_inline_or_file_never_both() {
    let env = |pairs: &[(&str, &str)]| {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k: &str| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    let no_file = |_: &str| -> Result<String, String> { Err("no such file".into()) };
    // GIVEN nothing set: the bundled rules
    assert_eq!(RuleSet::from_env(&env(&[]), no_file).unwrap().rules, bundled().rules);
    // GIVEN LG_RULES: those
    let inline = set_with(valid_rule());
    let set = RuleSet::from_env(&env(&[("LG_RULES", &inline)]), no_file).unwrap();
    assert_eq!((set.ids(), set.origin.as_str()), (vec!["iam-user-burst"], "LG_RULES"));
    // GIVEN LG_RULES_FILE: read through the caller, named in errors
    let set = RuleSet::from_env(&env(&[("LG_RULES_FILE", "/etc/lg.json")]), |p| {
        Ok(if p == "/etc/lg.json" { inline.clone() } else { String::new() })
    })
    .unwrap();
    assert_eq!(set.origin, "/etc/lg.json");
    let err = RuleSet::from_env(&env(&[("LG_RULES_FILE", "/nope")]), no_file).unwrap_err().to_string();
    assert!(err.contains("LG_RULES_FILE") && err.contains("/nope"), "{err}");
    // GIVEN both: refused
    assert!(RuleSet::from_env(&env(&[("LG_RULES", &inline), ("LG_RULES_FILE", "/x")]), no_file).is_err());
    // AND the actions are the playbook's
    assert_eq!(set.rules[0].actions, vec![RuleAction::QuarantineUser]);
}

/// The invictus-ir records of one event name, as `@message` texts.
fn invictus(event_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (_, text) in fixture_dir("cloudtrail/invictus") {
        let doc: Value = serde_json::from_str(&text).unwrap();
        for r in doc["Records"].as_array().unwrap() {
            if r["eventName"] == event_name {
                out.push(r.to_string());
            }
        }
    }
    assert!(!out.is_empty(), "no {event_name} in the invictus fixtures");
    out
}

#[test]
fn real_create_access_key_records_name_the_keys_and_their_users() {
    // GIVEN invictus-ir's CreateAccessKey records (bert-jan creates keys for other users)
    let set = bundled();
    let rule = set.get("iam-access-key-burst").unwrap();
    let mut scan = Scanner::new(rule.event.clone(), None);
    // WHEN scanned with the rule's event
    for m in invictus("CreateAccessKey") {
        scan.push_message(&m);
    }
    for m in invictus("RunInstances") {
        scan.push_message(&m);
    }
    // THEN only the CreateAccessKey calls count, as calls, and the read is complete
    assert_eq!(scan.incompleteness(), None);
    let principals = scan.aggregate.into_sorted();
    assert_eq!(principals.len(), 1);
    let bert = &principals[0];
    assert_eq!(bert.principal.label(), "IAM user bert-jan");
    assert_eq!((bert.activity.calls, bert.activity.instances_requested), (2, 0));
    // AND what was created is each key with the user it is for
    assert!(bert.activity.created.iter().any(|c| matches!(c,
        Created::AccessKey { access_key_id, user_name, created_at }
            if access_key_id == "AKIATFQR7NSCQLA2F4OD" && user_name == "malicious-iam-user" && *created_at >= bert.activity.first_seen
    )));
    assert!(bert.activity.created.iter().all(|c| matches!(c, Created::AccessKey { .. })));
    // AND two calls are below the rule's 3, while a rule of 2 flags bert-jan
    assert_eq!(rule.thresholds(false).evaluate(&bert.principal, &bert.activity), Verdict::BelowThreshold);
    let two = Thresholds { min_calls: Some(2), ..rule.thresholds(false) };
    assert!(matches!(two.evaluate(&bert.principal, &bert.activity), Verdict::Flagged { .. }));
}

#[test]
fn failed_calls_are_attempts_and_create_nothing() {
    // GIVEN bert-jan's real CreateUser records, one of them turned into a failed call
    let mut records = invictus("CreateUser");
    let mut failed: Value = serde_json::from_str(&records[0]).unwrap();
    failed["errorCode"] = json!("AccessDenied");
    failed["eventID"] = json!("failed-1");
    failed["responseElements"] = Value::Null;
    records.push(failed.to_string());
    let set = bundled();
    let rule = set.get("iam-user-burst").unwrap();
    let mut scan = Scanner::new(rule.event.clone(), None);
    for m in &records {
        scan.push_message(m);
    }
    let p = &scan.aggregate.into_sorted()[0];
    // THEN the failed call is counted as a call, and as failed, but created no user
    assert_eq!(p.activity.calls as usize, records.len());
    assert_eq!(p.activity.failed_calls, 1);
    assert_eq!(p.activity.created.len(), records.len() - 1);
    assert!(p.activity.created.iter().any(|c| matches!(c, Created::User { user_name, .. } if user_name == "malicious-iam-user")));
}

#[test]
fn created_reads_only_iam_success_in_iams_form() {
    let base = json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "eventTime": "2023-07-10T12:24:50Z",
        "responseElements": {"accessKey": {"accessKeyId": "AKIATFQR7NSCQLA2F4OD", "userName": "victim"}}});
    let read = |v: &Value| created(&parse_record(&v.to_string()).unwrap());
    let at = "2023-07-10T12:24:50Z".parse().unwrap();
    assert_eq!(
        read(&base),
        Some(Created::AccessKey { access_key_id: "AKIATFQR7NSCQLA2F4OD".into(), user_name: "victim".into(), created_at: at })
    );
    // a key id or user name not in IAM's form, another source, a failed call: nothing
    for (k, v) in [
        ("/responseElements/accessKey/accessKeyId", json!("akia-lower; rm -rf")),
        ("/responseElements/accessKey/userName", json!("bad name\n")),
        ("/eventSource", json!("evil.amazonaws.com")),
        ("/errorCode", json!("LimitExceeded")),
        ("/eventTime", json!("not a time")),
    ] {
        let mut v2 = base.clone();
        match v2.pointer_mut(k) {
            Some(slot) => *slot = v.clone(),
            None => {
                v2["errorCode"] = v.clone();
            }
        }
        assert_eq!(read(&v2), None, "{k}");
    }
}

#[test]
fn horizons_are_validated_and_named_in_errors() {
    let with = |horizons: Value| {
        let mut r = valid_rule();
        let o = r.as_object_mut().unwrap();
        o.remove("threshold");
        o.remove("window_seconds");
        o.insert("horizons".into(), horizons);
        set_with(r)
    };
    // GIVEN two horizons, shortest first: accepted, in order
    let ok =
        RuleSet::parse(&with(json!([{"window_seconds": 600, "threshold": 5}, {"window_seconds": 86400, "threshold": 20}])), "t").unwrap();
    assert_eq!(ok.rules[0].horizons.iter().map(|h| (h.window_seconds, h.threshold)).collect::<Vec<_>>(), vec![(600, 5), (86_400, 20)]);
    // AND each wrong horizon list is refused, naming the horizon and its field
    for (bad, field) in [
        (json!([]), "horizons"),
        (json!([{"window_seconds": 600}]), "horizons[0].threshold"),
        (json!([{"window_seconds": 600, "threshold": 0}]), "horizons[0].threshold"),
        (json!([{"window_seconds": 30, "threshold": 5}]), "horizons[0].window_seconds"),
        (json!([{"window_seconds": 600, "threshold": 5}, {"window_seconds": 600, "threshold": 9}]), "horizons[1].window_seconds"),
        (json!([{"window_seconds": 600, "threshold": 5, "extra": 1}]), "horizons[0].extra"),
        (json!(["600"]), "horizons[0]"),
    ] {
        let (_, f, problem) = error_of(&with(bad.clone()));
        assert_eq!(f, field, "{bad}: {problem}");
    }
}

proptest! {
    #[test]
    fn no_rule_set_text_panics(text in ".{0,400}") {
        let _ = RuleSet::parse(&text, "prop");
    }

    #[test]
    fn no_rule_value_panics(
        id in prop_oneof![Just(json!("r")), Just(json!(5)), ".{0,20}".prop_map(Value::from)],
        threshold in prop_oneof![Just(json!(null)), any::<i64>().prop_map(Value::from), any::<f64>().prop_map(Value::from)],
        window in any::<u64>(),
        names in proptest::collection::vec(".{0,12}", 0..4),
        alarms in proptest::collection::vec(".{0,12}", 0..3),
        counts in prop_oneof![Just("calls"), Just("instances"), Just("x")],
    ) {
        let rule = json!({"id": id, "event_source": "iam.amazonaws.com", "event_names": names, "counts": counts,
            "threshold": threshold, "window_seconds": window, "actions": [], "alarms": alarms});
        if let Ok(set) = RuleSet::parse(&set_with(rule), "prop") {
            // what is accepted is bounded
            let r = &set.rules[0];
            prop_assert!(r.threshold() > 0 && (60..=86_400).contains(&r.window_seconds()) && !r.event.event_names().is_empty());
        }
    }

    #[test]
    fn no_create_record_panics(
        name in prop_oneof![Just("CreateUser"), Just("CreateAccessKey")],
        response in prop_oneof![
            Just(json!(null)),
            ".{0,40}".prop_map(Value::from),
            (".{0,30}", ".{0,30}").prop_map(|(a, b)| json!({"accessKey": {"accessKeyId": a, "userName": b}, "user": {"userName": b}})),
            any::<i64>().prop_map(|n| json!({"accessKey": n, "user": [n]})),
        ],
    ) {
        let text = json!({"eventSource": "iam.amazonaws.com", "eventName": name, "responseElements": response}).to_string();
        if let Ok(r) = parse_record(&text)
            && let Some(c) = created(&r)
        {
            // anything read is in IAM's form
            let ok = match &c {
                Created::User { user_name, .. } => launchguard_core::ids::validate_iam_name(user_name).is_ok(),
                Created::AccessKey { access_key_id, user_name, .. } => {
                    launchguard_core::ids::validate_access_key_id(access_key_id).is_ok()
                        && launchguard_core::ids::validate_iam_name(user_name).is_ok()
                }
            };
            prop_assert!(ok);
        }
        let mut s = Scanner::new(bundled().get("iam-user-burst").unwrap().event.clone(), None);
        s.push_message(&text);
    }
}
