"""Render the CloudFormation templates: each `{"@role": "<function>"}` in base.template.json becomes
an IAM role named `<function>-role` whose inline policy is policies/<function>.json, with the
policy's `${Placeholder}`s turned into `Fn::Sub` references (one source of truth for permissions);
each `{"@containment": "<file>"}` (in wiring.template.json) becomes a deny-only managed policy under the path /launchguard/
(policies/containment/<file>.json, named by `name` or the file) that the handlers attach and never
write; each `{"@mac-key": {...}}` becomes a KMS HMAC key and its alias, whose key policy names who may
make MACs with it (and denies everyone else) and who may check them.

The metric filters and alarms are rendered from the rule file by `launchguard-render`
(crates/render over launchguard_core::alarm_plan): one alarm per threshold of every rule, and one
on counts that are not numbers per rule counting instances, into the wiring stack; the stream path's EventBridge rules (launchguard_core::stream_plan: one per event source,
IAM's under the condition InUsEast1) into the stream stack (deploy/stream.template.json); the base stack's alarm topic policy and its `AlarmArns` output name exactly those
alarms (`"@alarm-arns"`). No alarm threshold is written by hand.

    python deploy/render.py [OUT_DIR] [RULES_FILE]     # default deploy/out/, the bundled rules
"""
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# policy placeholder -> what it is in the template
SUBS = {
    "Partition": "${AWS::Partition}",
    "Region": "${AWS::Region}",
    "AccountId": "${AWS::AccountId}",
    "CloudTrailLogGroupName": "${CloudTrailLogGroupName}",
    "IncidentLogGroupName": "${IncidentLogGroup}",
    # by name, not Ref: the topic is encrypted with a key whose policy names the dispatcher role
    "NotificationTopicArn": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:launchguard-notifications",
    "QuarantinePolicyArn": "${QuarantinePolicyArn}",
    "LedgerBucketName": "${LedgerBucket}",
    "ReportBucketName": "${ReportBucket}",
}
PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")
# A list parameter spliced into a Resource list where the policy names it alone.
LIST_PARAMETERS = {"${ProtectedPrincipalArns}": "ProtectedPrincipalArns"}
# Statements that exist only under a template condition (by Sid): the ec2-handler's EC2 writes
# follow LG_EC2_ACTION (`Ec2Action`), so with `none` its role has no EC2 write at all.
CONDITIONAL_STATEMENTS = {
    "launchguard-ec2-handler": {"TagOnlyWithTheIncidentKeyNeverProtected": "Ec2Acts", "UntagOnlyTheIncidentKeyNeverProtected": "Ec2Acts",
                                "StopStartOnlyIncidentTaggedNeverProtected": "Ec2Acts", "TerminateOnlyIncidentTaggedNeverProtected": "Ec2Terminates"},
}


def sub(value, function: str):
    if isinstance(value, dict):
        return {k: sub(v, function) for k, v in value.items()}
    if isinstance(value, list):
        spliced = [LIST_PARAMETERS[v] for v in value if isinstance(v, str) and v in LIST_PARAMETERS]
        if spliced:
            rest = [sub(v, function) for v in value if not (isinstance(v, str) and v in LIST_PARAMETERS)]
            joined = [*rest, *({"Fn::Join": [",", {"Ref": p}]} for p in spliced)]
            return {"Fn::Split": [",", {"Fn::Join": [",", joined]}]}
        return [sub(v, function) for v in value]
    if isinstance(value, str) and PLACEHOLDER.search(value):
        def repl(m):
            name = m.group(1)
            if name == "FunctionName":
                return function
            if name not in SUBS:
                raise SystemExit(f"render.py: policies/{function}.json uses ${{{name}}}, which the template does not provide")
            return SUBS[name]
        text = PLACEHOLDER.sub(repl, value)
        return {"Fn::Sub": text} if "${" in text else text
    return value


def conditional(policy: dict, function: str) -> dict:
    when = CONDITIONAL_STATEMENTS.get(function, {})
    missing = set(when) - {s.get("Sid") for s in policy["Statement"]}
    assert not missing, f"render.py: policies/{function}.json has no statement {missing}"
    policy["Statement"] = [{"Fn::If": [when[s["Sid"]], s, {"Ref": "AWS::NoValue"}]} if s.get("Sid") in when else s for s in policy["Statement"]]
    return policy


def role(function: str) -> dict:
    policy = json.loads((ROOT / "policies" / f"{function}.json").read_text())
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": f"{function}-role",
            "Description": f"Execution role of {function} (policies/{function}.json)",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
                 "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]},
            "Policies": [{"PolicyName": "launchguard", "PolicyDocument": conditional(sub(policy, function), function)}],
        },
    }


# What the account root may do with a MAC key: administer it, never use it. Using the key
# (GenerateMac, VerifyMac) is granted by name in the key policy, and GenerateMac is denied to every
# other principal, so no IAM policy in the account can widen who may seal.
KEY_ADMIN = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
             "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
             "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]


# What only AdminPrincipals may do to a key.
KEY_GUARDED = ["kms:PutKeyPolicy", "kms:Disable*", "kms:ScheduleKeyDeletion", "kms:Update*", "kms:Delete*", "kms:CancelKeyDeletion"]


def principals(spec: dict):
    """The ARNs allowed to GenerateMac: the fixed ones plus, when set, a list parameter."""
    fixed = spec["generate"]
    more = spec.get("generate_more")
    if not more:
        return fixed
    joined = {"Fn::Join": [",", {"Ref": more["ref"]}]}
    combined = {"Fn::Split": [",", {"Fn::Join": [",", [*fixed, joined]]}]} if fixed else {"Ref": more["ref"]}
    return {"Fn::If": [more["condition"], combined, fixed]} if fixed else combined


def mac_key(spec: dict) -> dict:
    who = principals(spec)
    allow_generate = {"Sid": "GenerateMac", "Effect": "Allow", "Principal": {"AWS": who}, "Action": "kms:GenerateMac", "Resource": "*"}
    deny_others = {"Sid": "NobodyElseGeneratesMacs", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateMac", "Resource": "*",
                   "Condition": {"ArnNotEquals": {"aws:PrincipalArn": who}}}
    more = spec.get("generate_more")
    if not spec["generate"] and more:
        # Nobody is named until the parameter is set: then nobody at all may generate.
        allow_generate = {"Fn::If": [more["condition"], allow_generate, {"Ref": "AWS::NoValue"}]}
        deny_all = {"Sid": "NobodyElseGeneratesMacs", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateMac", "Resource": "*"}
        deny_others = {"Fn::If": [more["condition"], deny_others, deny_all]}
    return {
        "Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": f"launchguard {spec['alias']}: {spec['what']} (HMAC-SHA-256)",
            "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC", "Enabled": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                 "Action": KEY_ADMIN, "Resource": "*"},
                allow_generate,
                deny_others,
                {"Sid": "VerifyMac", "Effect": "Allow", "Principal": {"AWS": spec["verify"]}, "Action": "kms:VerifyMac", "Resource": "*"},
                # The account root's administration reaches every IAM principal with kms:* rights:
                # only AdminPrincipals may change the policy, disable or delete the key; nobody grants.
                {"Fn::If": ["HasAdminPrincipals", {"Sid": "OnlyAdminsAdminister", "Effect": "Deny", "Principal": "*", "Action": KEY_GUARDED,
                                                   "Resource": "*", "Condition": {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "AdminPrincipals"}}}},
                            {"Ref": "AWS::NoValue"}]},
                {"Sid": "NoGrants", "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant", "Resource": "*"},
            ]},
        },
    }


def containment(res: dict) -> dict:
    """A deny-only managed policy the handlers attach by ARN (never a document they write)."""
    doc = json.loads((ROOT / "policies/containment" / f"{res['@containment']}.json").read_text())
    assert all(s["Effect"] == "Deny" for s in doc["Statement"]), f"{res['@containment']}: a containment policy only denies"
    name = res.get("name", res["@containment"])
    return {"Type": "AWS::IAM::ManagedPolicy", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"ManagedPolicyName": name, "Path": "/launchguard/", "PolicyDocument": doc}}


FUNCTIONS = ["launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler", "launchguard-iam-handler",
             "launchguard-ec2-handler", "launchguard-stream"]


def alarm(name: str, what: str, namespace: str, metric: str, dimension: tuple[str, str], **how) -> dict:
    props = {"AlarmName": f"launchguard-health-{name}", "AlarmDescription": f"launchguard health: {what}", "Namespace": namespace,
             "MetricName": metric, "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}], "Statistic": "Sum", "Period": 300,
             "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
             "AlarmActions": [{"Ref": "HealthTopic"}], "OKActions": [{"Ref": "HealthTopic"}], **how}
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def health() -> dict:
    """Item 10 of issue 32: launchguard's own health pages a person (SECURITY.md, silencing paths)."""
    out = {
        "HealthTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "launchguard-health"}},
        "HealthTopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": [{"Ref": "HealthTopic"}], "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [
                {"Sid": "OnlyTheHealthAlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
                 "Resource": {"Ref": "HealthTopic"}, "Condition": {"ArnLike": {"aws:SourceArn": {
                     "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:launchguard-health-*"}}}},
                # but the stream function's role, which pages when one of its rules is not as rendered (crates/stream/src/rules.rs)
                {"Sid": "NobodyElsePublishes", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": {"Ref": "HealthTopic"},
                 "Condition": {"ArnNotLike": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:launchguard-health-*"}},
                               "ArnNotEquals": {"aws:PrincipalArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/launchguard-stream-role"}}}},
                {"Fn::If": ["HasAdminPrincipals", {"Sid": "OnlyAdminsSubscribeOrChangeTheTopic", "Effect": "Deny", "Principal": "*",
                 "Action": ["sns:Subscribe", "sns:SetTopicAttributes", "sns:AddPermission", "sns:RemovePermission", "sns:DeleteTopic"],
                 "Resource": {"Ref": "HealthTopic"}, "Condition": {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "AdminPrincipals"}}}}, {"Ref": "AWS::NoValue"}]}]}}},
        "HealthEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasEmail",
                                    "Properties": {"TopicArn": {"Ref": "HealthTopic"}, "Protocol": "email", "Endpoint": {"Ref": "NotificationEmail"}}},
        "DeadLettersAlarm": alarm("dead-letters", "an event launchguard failed to handle is in launchguard-failed-events (read it, then redrive or delete it)",
                                  "AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName", "launchguard-failed-events"), Statistic="Maximum"),
        # The re-check rule invokes the detector every RecheckRateMinutes (at most 60): no invocation in
        # two hours means the rule was disabled, the function deleted or its concurrency set to 0.
        "DetectorSilentAlarm": alarm("detector-silent", "the detector was not invoked for two hours (re-check rule disabled, function deleted or throttled to 0?)",
                                     "AWS/Lambda", "Invocations", ("FunctionName", "launchguard-detector"), Period=3600, EvaluationPeriods=2,
                                     ComparisonOperator="LessThanThreshold", TreatMissingData="breaching"),
    }
    for f in FUNCTIONS:
        short = "".join(w.capitalize() for w in f.removeprefix("launchguard-").split("-"))
        out[f"{short}ErrorsAlarm"] = alarm(f"{f.removeprefix('launchguard-')}-errors", f"{f} failed", "AWS/Lambda", "Errors", ("FunctionName", f))
        out[f"{short}ThrottlesAlarm"] = alarm(f"{f.removeprefix('launchguard-')}-throttles", f"{f} was throttled (reserved concurrency 0?)",
                                              "AWS/Lambda", "Throttles", ("FunctionName", f))
    return out


def rendered(rules_file: str | None = None) -> dict:
    """What launchguard-render renders from `rules_file` (the bundled rules when None): origin,
    digest, rule ids, alarm names, the filters' and alarms' resources. Run with `cargo run` in the
    workspace (LG_RENDER_BIN names a built binary instead). A rule file it refuses stops here."""
    path = str(Path(rules_file).resolve()) if rules_file else None
    return _rendered(path, Path(path).read_bytes() if path and Path(path).is_file() else None)


@functools.lru_cache(maxsize=8)
def _rendered(path: str | None, _content: bytes | None) -> dict:
    cmd = _render_cmd()
    if path:
        cmd.append(path)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"render.py: the rule file cannot be rendered: {out.stderr.strip()}")
    return json.loads(out.stdout)


def _render_cmd() -> list[str]:
    binary = os.environ.get("LG_RENDER_BIN")
    return [binary] if binary else ["cargo", "run", "--quiet", "--locked", "-p", "launchguard-render", "--"]


@functools.lru_cache(maxsize=32)
def protected_resources(patterns: str) -> list[str]:
    """PROTECTED_PRINCIPALS as the IAM `Resource` patterns of the handlers' deny, rendered by the
    functions' own pattern code (`launchguard-render --protected`, core::protected_iam): every
    user and role the code protects is denied in IAM too. A pattern the functions refuse stops here."""
    out = subprocess.run([*_render_cmd(), "--protected", patterns], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"render.py: {out.stderr.strip()}")
    return json.loads(out.stdout)


def alarm_arn(name: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{name}"}


def alarm_arns(value, names: list[str]):
    """Every `"@alarm-arns"` becomes the list of the rendered alarms' ARNs (by name: the alarms
    live in the wiring stack)."""
    if value == "@alarm-arns":
        return [alarm_arn(n) for n in names]
    if isinstance(value, dict):
        return {k: alarm_arns(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [alarm_arns(v, names) for v in value]
    return value


def expand(template: dict) -> dict:
    for name, res in list(template["Resources"].items()):
        if "@role" in res:
            template["Resources"][name] = role(res["@role"])
        if "@containment" in res:
            template["Resources"][name] = containment(res)
        if "@health" in res:
            del template["Resources"][name]
            template["Resources"].update(health())
            continue
        if "@mac-key" in res:
            spec = res["@mac-key"]
            template["Resources"][name] = mac_key(spec)
            template["Resources"][f"{name}Alias"] = {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": spec["alias"], "TargetKeyId": {"Ref": name}}}
    return template


def rule_arns(resources: dict) -> list:
    """The ARN of each rendered stream rule, under the rule's own condition (IAM's exists in us-east-1
    only): the only senders the stream queue takes (`aws:SourceArn`). Exact ARNs, never a pattern:
    a rule someone else names `launchguard-stream-…` (with an input transformer, it can write any
    body, `source: aws.ec2` included) must not match."""
    arns = []
    for lid, res in resources.items():
        if res.get("Type") != "AWS::Events::Rule":
            continue
        arn = {"Fn::GetAtt": [lid, "Arn"]}
        arns.append({"Fn::If": [res["Condition"], arn, {"Ref": "AWS::NoValue"}]} if "Condition" in res else arn)
    if not arns:
        raise SystemExit("render: the rule file renders no stream rule; the stream queue would take no sender")
    return arns


def with_rule_arns(node, arns: list):
    """`node` with each `{"@stream-rule-arns": ...}` replaced by `arns`."""
    if isinstance(node, dict):
        if "@stream-rule-arns" in node:
            return list(arns)
        return {k: with_rule_arns(v, arns) for k, v in node.items()}
    if isinstance(node, list):
        return [with_rule_arns(x, arns) for x in node]
    return node


def with_own_rule_reads(base: dict, stream_resources: dict) -> dict:
    """The stream role's `ReadOwnRules` (policies/launchguard-stream.json allows at most
    `rule/launchguard-stream-*`) narrowed to the exact ARN of each rendered stream rule on the
    default bus: the role reads its own rules (DescribeRule, ListTargetsByRule) and no other."""
    names = [r["Properties"]["Name"] for r in stream_resources.values() if r.get("Type") == "AWS::Events::Rule"]
    assert names and all(n.startswith("launchguard-stream-") for n in names), names
    statements = base["Resources"]["StreamRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    reads = [s for s in statements if isinstance(s, dict) and s.get("Sid") == "ReadOwnRules"]
    assert len(reads) == 1, "render.py: policies/launchguard-stream.json has no statement ReadOwnRules"
    reads[0]["Resource"] = [{"Fn::Sub": f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{n}"} for n in names]
    return base


def render(out: Path, rules_file: str | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    alarms = rendered(rules_file)
    base = alarm_arns(expand(json.loads((ROOT / "deploy/base.template.json").read_text())), alarms["alarm_names"])
    base = with_own_rule_reads(base, alarms["stream_resources"])
    wiring = expand(json.loads((ROOT / "deploy/wiring.template.json").read_text()))
    wiring["Resources"].update(alarms["resources"])
    stream = expand(json.loads((ROOT / "deploy/stream.template.json").read_text()))
    del stream["Resources"]["StreamRules"]
    stream["Resources"].update(alarms["stream_resources"])
    stream = with_rule_arns(stream, rule_arns(alarms["stream_resources"]))
    paths = [out / "base.json", out / "wiring.json", out / "stream.json"]
    # compact: CloudFormation takes at most 51,200 bytes of TemplateBody (e2e/test_documents.py)
    for path, template in zip(paths, (base, wiring, stream)):
        path.write_text(json.dumps(template, separators=(",", ":")) + "\n")
    return paths


if __name__ == "__main__":
    for p in render(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "deploy/out", sys.argv[2] if len(sys.argv) > 2 else None):
        print(p)
