//! Each function's policy in `policies/` allows exactly the actions the function calls (plus
//! writing its own Lambda logs), and denies what must never happen.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeSet;

use launchguard_testkit::fixture;
use serde_json::Value;

const OWN_LOGS: &[&str] = &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"];

fn statements(function: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(&fixture(&format!("../policies/{function}.json"))).unwrap();
    assert_eq!(v["Version"], "2012-10-17");
    v["Statement"].as_array().unwrap().clone()
}

fn actions(s: &Value) -> Vec<String> {
    match &s["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
        other => panic!("bad Action {other}"),
    }
}

fn allowed(function: &str) -> BTreeSet<String> {
    // OwnLambdaLogs, OnFailureDestination and EventSourceQueue are used by the Lambda service on
    // the function's behalf (its own log group, the dead-letter queue of failed asynchronous
    // events, the SQS queue an event source mapping reads for it).
    statements(function)
        .iter()
        .filter(|s| {
            s["Effect"] == "Allow"
                && !["OwnLambdaLogs", "OnFailureDestination", "EventSourceQueue"].contains(&s["Sid"].as_str().unwrap_or(""))
        })
        .flat_map(actions)
        .collect()
}

/// The KMS actions the key policies in `deploy/base.template.json` grant to the function's role:
/// `kms:GenerateMac` where the role is among a key's generators, `kms:VerifyMac` among its
/// verifiers. KMS use is granted by the key policies only (no IAM policy can widen it).
fn granted_by_key_policies(function: &str) -> BTreeSet<String> {
    let t: Value = serde_json::from_str(&fixture("../deploy/base.template.json")).unwrap();
    let role = t["Resources"].as_object().unwrap().iter().find(|(_, r)| r["@role"] == function).map(|(n, _)| n.clone()).unwrap();
    let names =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|x| x["Fn::GetAtt"][0].as_str().unwrap().to_owned()).collect() };
    let mut out = BTreeSet::new();
    for key in t["Resources"].as_object().unwrap().values().filter_map(|r| r.get("@mac-key")) {
        if names(&key["generate"]).contains(&role) {
            out.insert("kms:GenerateMac".to_owned());
        }
        if names(&key["verify"]).contains(&role) {
            out.insert("kms:VerifyMac".to_owned());
        }
    }
    out
}

fn check(function: &str, declared: &[&str]) {
    let (kms, declared): (BTreeSet<String>, BTreeSet<String>) =
        declared.iter().map(|s| (*s).to_owned()).partition(|a| a.starts_with("kms:"));
    assert_eq!(kms, granted_by_key_policies(function), "{function}: the KMS actions it calls differ from what the key policies grant it");
    let allowed = allowed(function);
    assert!(!allowed.iter().any(|a| a.starts_with("kms:")), "{function}: KMS use is granted by the key policies, never by the role");
    let missing: Vec<_> = declared.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&declared).collect();
    assert!(missing.is_empty(), "{function} calls {missing:?} but its policy does not allow it");
    assert!(extra.is_empty(), "{function}'s policy allows {extra:?} that it never calls");
    for s in statements(function) {
        assert!(!actions(&s).iter().any(|a| a.ends_with(":*") && s["Effect"] == "Allow"), "{function}: wildcard action in an Allow");
        if s["Sid"] == "OnFailureDestination" {
            assert_eq!(actions(&s), ["sqs:SendMessage"]);
            assert!(s["Resource"].as_str().unwrap().ends_with(":launchguard-failed-events"));
        }
        if s["Sid"] == "OwnLambdaLogs" {
            assert_eq!(actions(&s), OWN_LOGS);
            assert!(s["Resource"].as_str().unwrap().contains("/aws/lambda/${FunctionName}"));
        }
    }
}

#[test]
fn the_detector_reads_and_invokes_only() {
    check("launchguard-detector", launchguard_detector::AWS_ACTIONS);
    assert!(
        allowed("launchguard-detector")
            .iter()
            .all(|a| a.starts_with("logs:") || a == "lambda:InvokeFunction" || a.starts_with("cloudwatch:DescribeAlarm"))
    );
    assert_eq!(granted_by_key_policies("launchguard-detector"), BTreeSet::from(["kms:GenerateMac".to_owned()]));
}

/// Issue 26: the stream detector counts in its own table and invokes the dispatcher; nothing else
/// (no IAM, no table but its own, no wildcard), and reads only its own queue.
#[test]
fn the_stream_detector_counts_and_invokes_only() {
    check("launchguard-stream", launchguard_stream::AWS_ACTIONS);
    // and denies itself every other queue: a mapping from a queue that grants it reading gets nothing
    let deny = statements("launchguard-stream").into_iter().find(|s| s["Sid"] == "NoOtherQueue").unwrap();
    assert_eq!(deny["Effect"], "Deny");
    assert!(deny["NotResource"].as_str().unwrap().ends_with(":sqs:${Region}:${AccountId}:launchguard-stream-events"), "{deny}");
    assert!(actions(&deny).contains(&"sqs:ReceiveMessage".to_owned()), "{deny}");
    for s in statements("launchguard-stream").into_iter().filter(|s| s["Sid"] != "OwnLambdaLogs" && s["Effect"] == "Allow") {
        let resources: Vec<&str> = match &s["Resource"] {
            Value::Array(a) => a.iter().map(|r| r.as_str().unwrap()).collect(),
            r => vec![r.as_str().unwrap()],
        };
        assert!(resources.iter().all(|r| !r.contains('*')), "{s}");
        let resource = resources[0];
        // its own rules, read back before it vouches for what they delivered (`launchguard_stream::rules`):
        // read-only, each rule the bundled rule set renders and no other (deploy/render.py narrows it
        // to the rules a custom rule file renders)
        if s["Sid"] == "ReadOwnRules" {
            assert_eq!(actions(&s), ["events:DescribeRule", "events:ListTargetsByRule"]);
            let rendered: BTreeSet<String> = launchguard_core::stream_plan::plan(&launchguard_core::rules::RuleSet::bundled().unwrap())
                .iter()
                .map(|r| format!("arn:${{Partition}}:events:${{Region}}:${{AccountId}}:rule/{}", r.name))
                .collect();
            assert_eq!(resources.iter().map(|r| (*r).to_owned()).collect::<BTreeSet<_>>(), rendered);
        }
        if s["Sid"] == "PageHealth" {
            assert_eq!(actions(&s), ["sns:Publish"]);
            assert!(resource.ends_with(":sns:${Region}:${AccountId}:launchguard-health"), "{resource}");
        }
        for a in actions(&s) {
            // deletes: the messages it handled, and (issue 26) the event item of a front-run copy a
            // proven event replaced, in its own table only (checked below)
            assert!((!a.starts_with("iam:") && !a.contains("Delete")) || a == "sqs:DeleteMessage" || a == "dynamodb:DeleteItem", "{a}");
        }
        if actions(&s).iter().any(|a| a.starts_with("dynamodb:")) {
            assert!(resource.ends_with(":table/launchguard-stream"), "{resource}");
        }
        if s["Sid"] == "EventSourceQueue" {
            assert_eq!(actions(&s), ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]);
            assert!(resource.ends_with(":launchguard-stream-events"), "{resource}");
        }
        // the proof that a message came from its own queue (`launchguard_stream::receipts`): on
        // that queue alone
        if s["Sid"] == "ProveReceipts" {
            assert_eq!(actions(&s), ["sqs:ChangeMessageVisibility"]);
            assert!(resource.ends_with(":sqs:${Region}:${AccountId}:launchguard-stream-events"), "{resource}");
        }
    }
    assert_eq!(granted_by_key_policies("launchguard-stream"), BTreeSet::from(["kms:GenerateMac".to_owned()]));
}

#[test]
fn the_dispatcher_has_no_iam_power() {
    check("launchguard-dispatcher", launchguard_responder_dispatcher::AWS_ACTIONS);
    assert!(!allowed("launchguard-dispatcher").iter().any(|a| a.starts_with("iam:")));
    assert!(!allowed("launchguard-dispatcher").iter().any(|a| a.starts_with("s3:Delete")));
}

#[test]
fn the_accesskey_handler_can_never_delete_a_key() {
    check("launchguard-accesskey-handler", &launchguard_accesskey_handler::FUNCTION.aws_actions());
    assert!(!allowed("launchguard-accesskey-handler").contains("iam:DeleteAccessKey"));
}

/// Issue 32: the iam-handler writes no policy document and attaches only deny-only policies (the
/// stack's, and AWS's quarantine policy), every attach and detach keyed on `iam:PolicyARN`.
#[test]
fn the_iam_handler_attaches_only_deny_policies_and_writes_no_document() {
    check("launchguard-iam-handler", &launchguard_iam_handler::FUNCTION.aws_actions());
    let st = statements("launchguard-iam-handler");
    for s in st.iter().filter(|s| s["Effect"] == "Allow") {
        let acts = actions(s);
        for a in &acts {
            assert!(
                !a.starts_with("iam:Put") && !a.starts_with("iam:Delete") && !a.starts_with("iam:Create"),
                "{a} writes a document: {s}"
            );
        }
        if acts.iter().any(|a| a.starts_with("iam:Attach") || a.starts_with("iam:Detach")) {
            let arns: Vec<String> = match &s["Condition"]["ArnEquals"]["iam:PolicyARN"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
                other => panic!("an attach without an iam:PolicyARN condition: {other} in {s}"),
            };
            for a in arns {
                let ours = a.starts_with("arn:${Partition}:iam::${AccountId}:policy/launchguard/");
                assert!(ours || a == "${QuarantinePolicyArn}", "{a} is neither the stack's deny-only policy nor the quarantine policy");
                if let Some(name) = a.strip_prefix("arn:${Partition}:iam::${AccountId}:policy/launchguard/") {
                    let known = launchguard_core::policy::Containment::ALL.iter().any(|c| c.name() == name);
                    assert!(known, "{name} is not one of the stack's containment policies");
                }
            }
        }
    }
    let never = st.iter().find(|s| s["Sid"] == "NeverTouchLaunchguardOrProtected").unwrap();
    assert_eq!(never["Effect"], "Deny");
    assert!(never["Resource"].as_array().unwrap().iter().any(|r| r == "arn:${Partition}:iam::${AccountId}:role/launchguard-*"));
    let slr = st.iter().find(|s| s["Sid"] == "NeverServiceLinkedRoles").unwrap();
    assert_eq!(slr["Effect"], "Deny");
    for forbidden in
        ["iam:DeleteUser", "iam:DeleteRole", "iam:DeleteAccessKey", "iam:DeletePolicy", "iam:PutUserPolicy", "iam:PutRolePolicy"]
    {
        assert!(!allowed("launchguard-iam-handler").contains(forbidden), "{forbidden}");
    }
}

/// The stack's containment policies only deny: attaching one can take, never give.
#[test]
fn the_containment_policies_only_deny() {
    for c in launchguard_core::policy::Containment::ALL {
        let file = match c {
            launchguard_core::policy::Containment::GuardBeside => "launchguard-quarantine-guard",
            other => other.name(),
        };
        let v: Value = serde_json::from_str(&fixture(&format!("../policies/containment/{file}.json"))).unwrap();
        for s in v["Statement"].as_array().unwrap() {
            assert_eq!(s["Effect"], "Deny", "{file}: {s}");
        }
    }
}

#[test]
fn the_ec2_handler_acts_only_on_incident_tagged_unprotected_instances() {
    check("launchguard-ec2-handler", &launchguard_ec2_handler::FUNCTION.aws_actions());
    // IAM only to read the principal whose instances it acts on (GetUser, GetRole: issue 22; a
    // bound user's current name through its key, GetAccessKeyLastUsed: review 4)
    let iam: Vec<String> = allowed("launchguard-ec2-handler").into_iter().filter(|a| a.starts_with("iam:")).collect();
    assert_eq!(iam, ["iam:GetAccessKeyLastUsed", "iam:GetRole", "iam:GetUser"]);
    assert!(allowed("launchguard-ec2-handler").iter().all(|a| a.starts_with("ec2:") || a.starts_with("s3:") || iam.contains(a)));
    for s in statements("launchguard-ec2-handler") {
        let acts = actions(&s);
        let cond = &s["Condition"];
        if acts.iter().any(|a| ["ec2:StopInstances", "ec2:StartInstances", "ec2:TerminateInstances"].contains(&a.as_str())) {
            assert_eq!(cond["StringLike"]["aws:ResourceTag/launchguard:incident"], "lg-*", "{s}");
            assert_eq!(cond["StringNotEqualsIgnoreCase"]["aws:ResourceTag/launchguard:protected"], "true", "{s}");
        }
        if acts.iter().any(|a| a == "ec2:CreateTags" || a == "ec2:DeleteTags") {
            assert_eq!(cond["ForAllValues:StringEquals"]["aws:TagKeys"], serde_json::json!(["launchguard:incident"]), "{s}");
        }
        if acts.iter().any(|a| a.starts_with("ec2:") && a != "ec2:DescribeInstances") {
            assert!(s["Resource"].as_str().unwrap().ends_with(":instance/*"), "{s}");
        }
    }
}

/// `pattern` (IAM's `*` and `?`) matches `s` whole.
fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// Issue 22: only the dispatcher appends to the incident log group (anyone else who may
/// `logs:PutLogEvents` there can forge an incident or release record). Among launchguard's roles
/// only the dispatcher's allows it; CloudWatch Logs does not enforce a resource policy on IAM
/// principals, so the templates cannot deny the others; the SCP example does: it denies appending
/// to the group (and removing it) to everyone but the dispatcher's role and the admin role.
#[test]
fn only_the_dispatcher_may_append_incident_records() {
    let template: Value = serde_json::from_str(&fixture("../deploy/base.template.json")).unwrap();
    let group = template["Resources"]["IncidentLogGroup"]["Properties"]["LogGroupName"].as_str().unwrap().to_owned();
    // the role as deploy/render.py names it: `<function>-role` (the SCP must exempt that name)
    let dispatcher_role = format!("{}-role", template["Resources"]["DispatcherRole"]["@role"].as_str().unwrap());
    let append = ["logs:PutLogEvents", "logs:CreateLogStream"];
    for f in [
        "launchguard-detector",
        "launchguard-dispatcher",
        "launchguard-iam-handler",
        "launchguard-accesskey-handler",
        "launchguard-ec2-handler",
    ] {
        for s in statements(f).iter().filter(|s| s["Effect"] == "Allow") {
            let acts = actions(s);
            if !append.iter().any(|a| acts.iter().any(|x| glob(x, a))) {
                continue;
            }
            for r in strings(&s["Resource"]) {
                let r = r.replace("${IncidentLogGroupName}", &group).replace("${FunctionName}", f);
                let hits = glob(&r, &format!("arn:aws:logs:us-east-1:111122223333:log-group:{group}:*"));
                assert!(!hits || f == "launchguard-dispatcher", "{f} may append to {group}: {s}");
            }
        }
    }
    let scp: Value = serde_json::from_str(&fixture("../examples/scp-launchguard.json")).unwrap();
    let deny = scp["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["Effect"] == "Deny"
                && append.iter().all(|a| actions(s).iter().any(|x| glob(x, a)))
                && strings(&s["Resource"])
                    .iter()
                    .any(|r| glob(r, &format!("arn:aws:logs:eu-west-1:111122223333:log-group:{group}:log-stream:x")))
        })
        .unwrap_or_else(|| panic!("examples/scp-launchguard.json denies nobody appending to {group}"));
    assert!(actions(deny).iter().any(|a| a == "logs:DeleteLogGroup"), "{deny}");
    let except = strings(&deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]);
    assert!(except.contains(&format!("arn:aws:iam::*:role/{dispatcher_role}")), "{deny}");
    for e in &except {
        assert!(e.ends_with(&format!("role/{dispatcher_role}")) || e.contains("ADMIN-ROLE"), "{e} may append incident records: {deny}");
    }
    // SCPs are at most 5,120 characters
    assert!(fixture("../examples/scp-launchguard.json").len() <= 5120);
}

/// Issue 22, defect 7: SECURITY.md says what the code does with a created key: it acts on the
/// user IAM says owns it, not on the name in the record.
#[test]
fn security_md_says_a_created_key_is_judged_by_its_iam_owner() {
    let doc = fixture("../SECURITY.md");
    assert!(!doc.contains("still owned by the user the record names"));
    assert!(doc.contains("whichever user IAM says owns it now"));
}

/// Issue 22: a flagged user that may `iam:UpdateUser` moves (`--new-path`) or renames itself into
/// a protected path or name after its burst, and launchguard never acts on a protected principal.
/// IAM has no condition key on `NewPath` or `NewUserName`; IAM authorizes a rename on the source
/// and on the target user, so the SCP example denies `iam:UpdateUser` on every user form of the
/// default `PROTECTED_PRINCIPALS` (as the handlers' deny renders it) and on a protected path of
/// yours, to everyone but the admin role. Roles cannot change path or name (no such API).
#[test]
fn the_scp_denies_moving_or_renaming_a_user_into_the_protected_principals() {
    let env = fixture("../deploy/config.env");
    let default = env.lines().find_map(|l| l.strip_prefix("PROTECTED_PRINCIPALS=")).unwrap();
    let patterns = launchguard_core::ids::ArnPatterns::parse_list(default).unwrap();
    let users: Vec<String> =
        launchguard_core::protected_iam::iam_deny_resources(&patterns).into_iter().filter(|r| r.contains(":user/")).collect();
    assert!(!users.is_empty(), "{default}");
    let scp: Value = serde_json::from_str(&fixture("../examples/scp-launchguard.json")).unwrap();
    let deny = scp["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Effect"] == "Deny" && actions(s).iter().any(|a| a == "iam:UpdateUser"))
        .unwrap_or_else(|| panic!("examples/scp-launchguard.json denies nobody iam:UpdateUser"));
    let resources = strings(&deny["Resource"]);
    for u in &users {
        assert!(resources.contains(u), "{u} (from {default}) is not denied: {deny}");
    }
    // a move to a protected path, and a rename into a protected name, at any path
    for target in ["arn:aws:iam::111122223333:user/breakglass-9", "arn:aws:iam::111122223333:user/ops/team/breakglass-9"] {
        assert!(resources.iter().any(|r| glob(r, target)), "{target}: {deny}");
    }
    assert!(resources.iter().any(|r| r.contains("REPLACE-WITH-PROTECTED-PATH")), "{deny}");
    assert!(!resources.iter().any(|r| glob(r, "arn:aws:iam::111122223333:user/intern")), "every user denied: {deny}");
    let except = strings(&deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]);
    assert!(!except.is_empty() && except.iter().all(|e| e.contains("ADMIN-ROLE")), "{deny}");
    assert!(fixture("../examples/scp-launchguard.json").len() <= 5120);
}
