"""launchguard's roles grant no power: every rendered role and resource policy, evaluated by a real
IAM evaluator (`@cloud-copilot/iam-simulate`, pinned in tools/iam-simulate/package-lock.json and
installed by scripts/node.sh; AGPL-3.0, used by the tests only).

The base template is rendered as `make deploy` renders it (deploy/render.py) and its intrinsics
resolved for one example account (`Stack`, e2e/test_documents.py). Each row of `MUST_DENY` is a
request that an attacker holding a launchguard role (a changed function, `lambda:UpdateFunctionCode`)
or an outsider in the account would make; the evaluator must not allow it. `MUST_ALLOW` holds what
the functions need, so that a policy that denies everything cannot pass. Needs Node.js 18+ and npm;
no LocalStack.
"""
import json
import subprocess
from pathlib import Path

import pytest

from test_documents import ACCOUNT, NOTIFICATION_TOPIC, REGION, Stack, render

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "tools/iam-simulate"
IAM = f"arn:aws:iam::{ACCOUNT}"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
V3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
OURS = f"{IAM}:policy/launchguard/"
HANDLERS = ("AccessKeyHandlerRole", "IamHandlerRole", "Ec2HandlerRole")
EVERY_ROLE = ("DetectorRole", "DispatcherRole", *HANDLERS)


@pytest.fixture(scope="module")
def simulate():
    subprocess.run([str(ROOT / "scripts/node.sh"), "iam-simulate"], check=True)

    def run(cases: list[dict]) -> list[str]:
        out = subprocess.run(["node", str(SIM / "simulate.mjs")], input=json.dumps(cases), capture_output=True, text=True, check=True)
        results = json.loads(out.stdout)
        for c, r in zip(cases, results):
            assert "error" not in r, f"the evaluator rejected {c['request']}: {r['error']}"
        return [r["result"] for r in results]
    return run


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    return Stack(tmp_path_factory.mktemp("stack"))


def role_policy(stack: Stack, resource: str) -> dict:
    return stack.value(stack.resources[resource]["Properties"]["Policies"][0]["PolicyDocument"])


def request(stack: Stack, role: str, action: str, resource: str, context: dict | None = None) -> dict:
    principal = f"{IAM}:role/{stack.resources[role]['Properties']['RoleName']}"
    return {"identityPolicies": [{"name": "launchguard", "policy": role_policy(stack, role)}],
            "request": {"action": action, "principal": principal, "resource": {"accountId": ACCOUNT, "resource": resource},
                        # AWS sets aws:PrincipalArn on every request of an IAM principal: without it, every
                        # `ArnNotEquals aws:PrincipalArn` deny of a resource policy binds everyone (review 3)
                        "contextVariables": {"aws:PrincipalArn": principal, **(context or {})}}}


# (roles, action, resource, context): requests no launchguard role may make.
MUST_DENY = [
    # item 1: no inline document on anyone
    (EVERY_ROLE, "iam:PutUserPolicy", f"{IAM}:user/alice", {}),
    (EVERY_ROLE, "iam:PutRolePolicy", f"{IAM}:role/Admin", {}),
    (EVERY_ROLE, "iam:PutGroupPolicy", f"{IAM}:group/Admins", {}),
    # item 1: no policy but the stack's deny-only ones (and AWS's quarantine policy)
    (EVERY_ROLE, "iam:AttachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": ADMIN_POLICY}),
    (EVERY_ROLE, "iam:AttachRolePolicy", f"{IAM}:role/Admin", {"iam:PolicyARN": ADMIN_POLICY}),
    (EVERY_ROLE, "iam:AttachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": f"{IAM}:policy/launchguard-lookalike"}),
    # item 2: no removal of what launchguard did not place
    (EVERY_ROLE, "iam:DeleteUserPolicy", f"{IAM}:user/alice", {}),
    (EVERY_ROLE, "iam:DeleteRolePolicy", f"{IAM}:role/Admin", {}),
    (EVERY_ROLE, "iam:DetachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": f"{IAM}:policy/deny-prod-delete"}),
    (EVERY_ROLE, "iam:DetachRolePolicy", f"{IAM}:role/Admin", {"iam:PolicyARN": f"{IAM}:policy/deny-prod-delete"}),
    (EVERY_ROLE, "iam:DetachRolePolicy", f"{IAM}:role/Admin", {"iam:PolicyARN": V3}),
    # no other way to a permission
    (EVERY_ROLE, "iam:CreatePolicyVersion", f"{IAM}:policy/launchguard/launchguard-quarantine-guard", {}),
    (EVERY_ROLE, "iam:PutUserPermissionsBoundary", f"{IAM}:user/alice", {"iam:PermissionsBoundary": ADMIN_POLICY}),
    (EVERY_ROLE, "iam:UpdateAssumeRolePolicy", f"{IAM}:role/Admin", {}),
    (EVERY_ROLE, "iam:CreateAccessKey", f"{IAM}:user/alice", {}),
    # deactivate_user_access_keys (a quarantine IAM refused) sets statuses only: no key deleted
    (EVERY_ROLE, "iam:DeleteAccessKey", f"{IAM}:user/alice", {}),
    (EVERY_ROLE, "iam:AddUserToGroup", f"{IAM}:group/Admins", {}),
    (EVERY_ROLE, "iam:PassRole", f"{IAM}:role/Admin", {}),
    (EVERY_ROLE, "sts:AssumeRole", f"{IAM}:role/Admin", {}),
    # launchguard's own roles
    (EVERY_ROLE, "iam:AttachRolePolicy", f"{IAM}:role/launchguard-dispatcher-role", {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions"}),
    (EVERY_ROLE, "iam:DetachRolePolicy", f"{IAM}:role/launchguard-iam-handler-role", {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions"}),
]

# (role, action, resource, context): what the functions need.
MUST_ALLOW = [
    ("IamHandlerRole", "iam:AttachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": V3}),
    ("IamHandlerRole", "iam:AttachUserPolicy", f"{IAM}:user/ops/alice", {"iam:PolicyARN": f"{OURS}launchguard-quarantine-guard"}),
    ("IamHandlerRole", "iam:DetachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": f"{OURS}launchguard-quarantine-guard-beside"}),
    ("IamHandlerRole", "iam:AttachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": f"{OURS}launchguard-quarantine"}),
    ("IamHandlerRole", "iam:AttachRolePolicy", f"{IAM}:role/Admin", {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions"}),
    ("IamHandlerRole", "iam:DetachRolePolicy", f"{IAM}:role/Admin", {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions"}),
    ("IamHandlerRole", "iam:ListAttachedRolePolicies", f"{IAM}:role/Admin", {}),
    ("AccessKeyHandlerRole", "iam:UpdateAccessKey", f"{IAM}:user/alice", {}),
    # deactivate_user_access_keys and its reversal: the user resolved, its keys listed, each set
    ("AccessKeyHandlerRole", "iam:GetUser", f"{IAM}:user/ops/alice", {}),
    ("AccessKeyHandlerRole", "iam:ListAccessKeys", f"{IAM}:user/ops/alice", {}),
    ("AccessKeyHandlerRole", "iam:UpdateAccessKey", f"{IAM}:user/ops/alice", {}),
]


# Item 11: each handler writes only its own replay records (`requests/<handler>/`), by its role's
# policy and by the ledger bucket's policy; it still reads the records from before the split
# (`requests/<request_id>.json`), which a release retried across the upgrade needs.
LEDGER = "arn:aws:s3:::ledger-bucket"
HANDLER_FUNCTIONS = {"AccessKeyHandlerRole": "launchguard-accesskey-handler", "IamHandlerRole": "launchguard-iam-handler",
                     "Ec2HandlerRole": "launchguard-ec2-handler"}
RECORD = "lgr-0123456789abcdef01234567.json"


def replay_rows() -> tuple[list, list]:
    """(role, action, key) requests that must be denied, and that must be allowed."""
    deny, allow = [], []
    for role, own in HANDLER_FUNCTIONS.items():
        for other in HANDLER_FUNCTIONS.values():
            if other != own:
                deny += [(role, "s3:PutObject", f"requests/{other}/{RECORD}"), (role, "s3:DeleteObject", f"requests/{other}/{RECORD}")]
        deny += [(role, "s3:PutObject", f"requests/{RECORD}"), (role, "s3:PutObject", "ledger/findings/lg-1/entries/x")]
        allow += [(role, "s3:PutObject", f"requests/{own}/{RECORD}"), (role, "s3:GetObject", f"requests/{own}/{RECORD}"),
                  (role, "s3:GetObject", f"requests/{RECORD}")]
    return deny, allow


def ledger_request(stack: Stack, role: str, action: str, key: str) -> dict:
    r = request(stack, role, action, f"{LEDGER}/{key}", {"aws:SecureTransport": "true"})
    r["resourcePolicy"] = stack.value(stack.resources["LedgerBucketPolicy"]["Properties"]["PolicyDocument"])
    return r


def test_each_handler_writes_only_its_own_replay_records(stack, simulate):
    """Handler X may not put requests/<Y>/* (nor the old shared requests/*): one handler in an
    attacker's hands cannot make another answer "already applied"."""
    deny, allow = replay_rows()
    results = simulate([ledger_request(stack, *row) for row in deny])
    allowed = [" ".join(row) for row, r in zip(deny, results) if r == "Allowed"]
    assert allowed == [], "allowed:\n" + "\n".join(allowed)
    results = simulate([ledger_request(stack, *row) for row in allow])
    denied = [f"{' '.join(row)}: {r}" for row, r in zip(allow, results) if r != "Allowed"]
    assert denied == [], "denied:\n" + "\n".join(denied)
    # the bucket's policy alone holds too: a role policy widened to s3:* on the bucket
    s3_star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    cases = []
    for role, action, key in deny:
        c = ledger_request(stack, role, action, key)
        c["identityPolicies"] = [{"name": "s3-star", "policy": s3_star}]
        cases.append(c)
    results = simulate(cases)
    allowed = [" ".join(row) for row, r in zip(deny, results) if r == "Allowed"]
    assert allowed == [], "the ledger bucket's policy allows:\n" + "\n".join(allowed)


# Item 5: PROTECTED_PRINCIPALS, users and roles, with their path variants, as `make deploy` passes
# them (deploy.py `protected_arns`); case is closed by the tag `launchguard:protected=true`.
PROTECTED = "arn:aws:iam::*:user/breakglass-*,arn:aws:iam::*:role/OrgAdmin*"
PROTECTED_WRITES = [
    ("IamHandlerRole", "iam:AttachUserPolicy", {"iam:PolicyARN": V3}, "user"),
    ("IamHandlerRole", "iam:DetachUserPolicy", {"iam:PolicyARN": f"{OURS}launchguard-quarantine-guard"}, "user"),
    ("AccessKeyHandlerRole", "iam:UpdateAccessKey", {}, "user"),
    ("IamHandlerRole", "iam:AttachRolePolicy", {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions"}, "role"),
    ("IamHandlerRole", "iam:DetachRolePolicy", {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions"}, "role"),
]
PROTECTED_TARGETS = {
    "user": [f"{IAM}:user/breakglass-1", f"{IAM}:user/ops/breakglass-1", f"{IAM}:user/a/b/breakglass-1"],
    "role": [f"{IAM}:role/OrgAdmin", f"{IAM}:role/sso/OrgAdmin-Ops"],
}
# case variants IAM's ARN matching does not see: protected by the tag (SECURITY.md)
TAGGED_CASE_VARIANTS = {"user": f"{IAM}:user/BreakGlass-1", "role": f"{IAM}:role/orgadmin"}

INSTANCE = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"
EC2_DENY = [
    # item 6: LG_EC2_ACTION=none (the default) gives the ec2-handler no EC2 write at all
    ("none", "ec2:TerminateInstances", {"aws:ResourceTag/launchguard:incident": "lg-1"}),
    ("none", "ec2:StopInstances", {"aws:ResourceTag/launchguard:incident": "lg-1"}),
    ("none", "ec2:CreateTags", {"aws:TagKeys": ["launchguard:incident"], "aws:RequestTag/launchguard:incident": "lg-1"}),
    ("stop", "ec2:TerminateInstances", {"aws:ResourceTag/launchguard:incident": "lg-1"}),
    # a DeleteTags that names no tag deletes every tag, launchguard:protected too
    ("stop", "ec2:DeleteTags", {"aws:ResourceTag/launchguard:incident": "lg-1", "aws:ResourceTag/launchguard:protected": "true"}),
    ("terminate", "ec2:DeleteTags", {"aws:ResourceTag/launchguard:incident": "lg-1"}),
    ("terminate", "ec2:DeleteTags", {"aws:ResourceTag/launchguard:incident": "lg-1", "aws:TagKeys": ["launchguard:protected"]}),
    ("terminate", "ec2:TerminateInstances", {"aws:ResourceTag/launchguard:incident": "lg-1", "aws:ResourceTag/launchguard:protected": "TRUE"}),
]
EC2_ALLOW = [
    ("stop", "ec2:StopInstances", {"aws:ResourceTag/launchguard:incident": "lg-1"}),
    ("stop", "ec2:DeleteTags", {"aws:ResourceTag/launchguard:incident": "lg-1", "aws:TagKeys": ["launchguard:incident"]}),
    ("terminate", "ec2:TerminateInstances", {"aws:ResourceTag/launchguard:incident": "lg-1"}),
]

OUTSIDER = f"{IAM}:user/someone-with-sns-star"


def deny_cases(stack: Stack, table) -> list[tuple[str, dict]]:
    return [(f"{role} {action} {resource} {context}", request(stack, role, action, resource, context))
            for roles, action, resource, context in table for role in roles]


def test_no_launchguard_role_can_grant_a_principal_a_permission(stack, simulate):
    cases = deny_cases(stack, MUST_DENY)
    results = simulate([c for _, c in cases])
    allowed = [name for (name, _), r in zip(cases, results) if r == "Allowed"]
    assert allowed == [], "allowed:\n" + "\n".join(allowed)


def test_the_functions_can_still_contain(stack, simulate):
    cases = [(f"{role} {action} {resource} {context}", request(stack, role, action, resource, context))
             for role, action, resource, context in MUST_ALLOW]
    results = simulate([c for _, c in cases])
    denied = [f"{name}: {r}" for (name, _), r in zip(cases, results) if r != "Allowed"]
    assert denied == [], "denied:\n" + "\n".join(denied)


@pytest.fixture(scope="module")
def protected_stack(tmp_path_factory):
    sys_path_deploy()
    import deploy
    return Stack(tmp_path_factory.mktemp("protected"), ProtectedPrincipalArns=",".join(deploy.protected_arns(PROTECTED)))


def sys_path_deploy():
    import sys
    if str(ROOT / "deploy") not in sys.path:
        sys.path.insert(0, str(ROOT / "deploy"))


def test_protection_in_iam_matches_protection_in_code(protected_stack, simulate):
    """Every PROTECTED_PRINCIPALS pattern, users and roles, with its path variants, is denied to
    each handler; a case variant IAM's matching misses is denied by the protection tag."""
    cases = []
    for role, action, context, kind in PROTECTED_WRITES:
        for target in PROTECTED_TARGETS[kind]:
            cases.append((f"{role} {action} {target}", request(protected_stack, role, action, target, context)))
        tagged = {**context, "iam:ResourceTag/launchguard:protected": "true", "aws:ResourceTag/launchguard:protected": "true"}
        target = TAGGED_CASE_VARIANTS[kind]
        cases.append((f"{role} {action} {target} (tagged)", request(protected_stack, role, action, target, tagged)))
    results = simulate([c for _, c in cases])
    allowed = [name for (name, _), r in zip(cases, results) if r == "Allowed"]
    assert allowed == [], "allowed on a protected principal:\n" + "\n".join(allowed)


def test_the_ec2_handler_can_only_do_what_its_configuration_says(tmp_path_factory, simulate):
    stacks = {a: Stack(tmp_path_factory.mktemp(f"ec2-{a}"), Ec2Action=a) for a in ("none", "stop", "terminate")}
    cases = [(f"{a} {action} {ctx}", request(stacks[a], "Ec2HandlerRole", action, INSTANCE, ctx)) for a, action, ctx in EC2_DENY]
    results = simulate([c for _, c in cases])
    allowed = [name for (name, _), r in zip(cases, results) if r == "Allowed"]
    assert allowed == [], "allowed:\n" + "\n".join(allowed)
    cases = [(f"{a} {action} {ctx}", request(stacks[a], "Ec2HandlerRole", action, INSTANCE, ctx)) for a, action, ctx in EC2_ALLOW]
    results = simulate([c for _, c in cases])
    denied = [f"{name}: {r}" for (name, _), r in zip(cases, results) if r != "Allowed"]
    assert denied == [], "denied:\n" + "\n".join(denied)


def test_nobody_else_subscribes_to_publishes_on_or_deletes_the_notification_topic(tmp_path_factory, simulate):
    stack = Stack(tmp_path_factory.mktemp("topic"), AdminPrincipals=f"{IAM}:role/PlatformDeployer")
    topic_policy = None
    for r in stack.resources.values():
        if r.get("Type") == "AWS::SNS::TopicPolicy" and stack.value(r["Properties"]["Topics"]) == [NOTIFICATION_TOPIC]:
            topic_policy = stack.value(r["Properties"]["PolicyDocument"])
    sns_star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:*", "Resource": "*"}]}
    cases = []
    for action in ("sns:Subscribe", "sns:Publish", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:AddPermission", "sns:RemovePermission"):
        cases.append({"identityPolicies": [{"name": "sns-star", "policy": sns_star}], "resourcePolicy": topic_policy,
                      "request": {"action": action, "principal": OUTSIDER, "resource": {"accountId": ACCOUNT, "resource": NOTIFICATION_TOPIC},
                                  "contextVariables": {"sns:Protocol": "https", "sns:Endpoint": "https://attacker.example"}}})
    results = simulate(cases)
    assert [r for r in results if r == "Allowed"] == [], list(zip([c["request"]["action"] for c in cases], results))
    props = next(r["Properties"] for r in stack.resources.values() if r.get("Type") == "AWS::SNS::Topic"
                 and r["Properties"].get("TopicName") == "launchguard-notifications")
    assert props.get("KmsMasterKeyId"), "the notification topic is not encrypted"


def test_the_stack_refuses_to_deploy_without_admin_principals(stack):
    """Item 8: with AdminPrincipals empty, any kms:* holder could rewrite the key policies; a
    CloudFormation rule refuses the deployment instead."""
    base = json.loads((ROOT / "deploy/base.template.json").read_text())
    rules = base.get("Rules", {})
    asserted = [a["Assert"] for r in rules.values() for a in r["Assertions"]]
    assert {"Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "AdminPrincipals"}, ""]}]} in asserted, rules


def test_reports_survive_a_delete_and_only_admins_change_the_bucket(tmp_path_factory, simulate):
    """Item 9: versioning on the report bucket, and no principal deletes a report or a version."""
    stack = Stack(tmp_path_factory.mktemp("reports"), AdminPrincipals=f"{IAM}:role/PlatformDeployer")
    props = stack.resources["ReportBucket"]["Properties"]
    assert props.get("VersioningConfiguration") == {"Status": "Enabled"}
    policy = stack.value(stack.resources["ReportBucketPolicy"]["Properties"]["PolicyDocument"])
    s3_star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    cases = []
    for who in (OUTSIDER, f"{IAM}:role/launchguard-dispatcher-role"):
        for action, res in (("s3:DeleteObject", "arn:aws:s3:::report-bucket/reports/lg-1.html"),
                            ("s3:DeleteObjectVersion", "arn:aws:s3:::report-bucket/reports/lg-1.html"),
                            ("s3:PutBucketVersioning", "arn:aws:s3:::report-bucket"), ("s3:PutLifecycleConfiguration", "arn:aws:s3:::report-bucket"),
                            ("s3:PutBucketPolicy", "arn:aws:s3:::report-bucket"), ("s3:DeleteBucket", "arn:aws:s3:::report-bucket")):
            cases.append({"identityPolicies": [{"name": "s3-star", "policy": s3_star}], "resourcePolicy": policy,
                          "request": {"action": action, "principal": who, "resource": {"accountId": ACCOUNT, "resource": res},
                                      "contextVariables": {"aws:SecureTransport": "true"}}})
    results = simulate(cases)
    allowed = [(c["request"]["principal"], c["request"]["action"]) for c, r in zip(cases, results) if r == "Allowed"]
    assert allowed == []


def test_the_optional_trail_is_bound_to_this_account_and_validated(tmp_path_factory):
    """Item 11: the trail's delivery role and bucket policy name the trail (aws:SourceArn and
    aws:SourceAccount), and log-file validation is on."""
    stack = Stack(tmp_path_factory.mktemp("trail"), CreateTrail="true")
    trail = stack.resources["Trail"]["Properties"]
    assert trail.get("EnableLogFileValidation") is True
    bucket = stack.value(stack.resources["TrailBucketPolicy"]["Properties"]["PolicyDocument"])
    for s in bucket["Statement"]:
        if s["Effect"] == "Allow":
            assert "aws:SourceArn" in s["Condition"]["StringEquals"] and "aws:SourceAccount" in s["Condition"]["StringEquals"], s
    trust = stack.value(stack.resources["TrailToLogsRole"]["Properties"]["AssumeRolePolicyDocument"])
    for s in trust["Statement"]:
        assert "aws:SourceAccount" in s["Condition"]["StringEquals"] and "aws:SourceArn" in s["Condition"]["StringEquals"], s


def test_keys_are_kept_and_the_ledger_is_admin_only(tmp_path_factory):
    """Item 11: the KMS keys outlive the stack (a deleted key makes every sealed record and the
    topic unreadable), and the ledger bucket's settings are launchguard's."""
    stack = Stack(tmp_path_factory.mktemp("keys"))
    for name, r in stack.resources.items():
        if r.get("Type") == "AWS::KMS::Key":
            assert r.get("DeletionPolicy") == "Retain" and r.get("UpdateReplacePolicy") == "Retain", name
    admin = Stack(tmp_path_factory.mktemp("ledger"), AdminPrincipals=f"{IAM}:role/PlatformDeployer")
    policy = admin.value(admin.resources["LedgerBucketPolicy"]["Properties"]["PolicyDocument"])
    guarded = {a for s in policy["Statement"] if s["Effect"] == "Deny" for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    for action in ("s3:PutBucketAcl", "s3:PutBucketOwnershipControls", "s3:PutBucketPublicAccessBlock", "s3:DeleteBucketPolicy"):
        assert action in guarded, action



ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# Item 3: what a contained administrator tries, with another of its keys, to undo its containment or
# to go on launching; each must be denied by launchguard's guard alone (AWS's quarantine policy is
# not evaluated here: the guard must hold even beside a quarantine policy that denies less).
CONTAINED = f"{IAM}:user/contained-admin"
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
UNDO_OR_LAUNCH = [
    ("sts:AssumeRole", f"{IAM}:role/Admin"),
    ("iam:PassRole", f"{IAM}:role/Admin"),
    ("iam:DetachUserPolicy", CONTAINED),
    ("iam:DeleteUserPolicy", CONTAINED),
    ("iam:PutUserPolicy", CONTAINED),
    ("iam:DeleteRolePolicy", f"{IAM}:role/Admin"),
    ("iam:DetachRolePolicy", f"{IAM}:role/Admin"),
    ("iam:UpdateAccessKey", CONTAINED),
    ("iam:CreateAccessKey", CONTAINED),
    ("iam:CreatePolicyVersion", f"{IAM}:policy/launchguard/launchguard-quarantine-guard"),
    ("lambda:UpdateFunctionConfiguration", f"{FN}:launchguard-iam-handler"),
    ("lambda:UpdateFunctionCode", f"{FN}:launchguard-dispatcher"),
    ("lambda:PutFunctionConcurrency", f"{FN}:launchguard-detector"),
    ("lambda:DeleteFunction", f"{FN}:launchguard-detector"),
    ("lambda:InvokeFunction", f"{FN}:launchguard-dispatcher"),
    ("kms:GenerateMac", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    ("events:DisableRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/launchguard-recheck"),
    ("sqs:PurgeQueue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:launchguard-failed-events"),
    ("sns:DeleteTopic", f"arn:aws:sns:{REGION}:{ACCOUNT}:launchguard-alarms"),
    ("cloudwatch:DisableAlarmActions", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:launchguard-runinstances"),
    ("logs:DeleteMetricFilter", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws-cloudtrail-logs"),
    ("cloudtrail:StopLogging", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"),
    ("ec2:RunInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"),
    ("ec2:CreateFleet", f"arn:aws:ec2:{REGION}:{ACCOUNT}:fleet/*"),
    ("ec2:RequestSpotFleet", f"arn:aws:ec2:{REGION}:{ACCOUNT}:spot-fleet-request/*"),
    ("ec2:RequestSpotInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:spot-instances-request/*"),
    ("ec2:CreateLaunchTemplateVersion", f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/lt-0123456789abcdef0"),
    ("autoscaling:CreateAutoScalingGroup", f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/mine"),
    ("autoscaling:SetDesiredCapacity", f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/mine"),
]


def guard_document() -> dict:
    return json.loads((ROOT / "policies/containment/launchguard-quarantine-guard.json").read_text())


def test_a_contained_admin_can_neither_undo_its_containment_nor_launch_another_way(simulate):
    cases = [{"identityPolicies": [{"name": "AdministratorAccess", "policy": ALLOW_ALL},
                                   {"name": "launchguard-quarantine-guard", "policy": guard_document()}],
              "request": {"action": action, "principal": CONTAINED, "resource": {"accountId": ACCOUNT, "resource": resource},
                          "contextVariables": {}}} for action, resource in UNDO_OR_LAUNCH]
    results = simulate(cases)
    allowed = [a for (a, _), r in zip(UNDO_OR_LAUNCH, results) if r == "Allowed"]
    assert allowed == [], f"a contained administrator may still: {allowed}"


FUNCTIONS = ("launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler", "launchguard-iam-handler", "launchguard-ec2-handler")


def test_launchguards_own_health_pages_a_person(tmp_path):
    """Item 10: alarms on the dead-letter queue's depth, on each function's errors and throttles,
    and on the detector falling silent (the re-check rule invokes it every few minutes), all to a
    topic a person subscribes to."""
    wiring = json.loads(render.render(tmp_path)[1].read_text())
    alarms = [r["Properties"] for r in wiring["Resources"].values() if r.get("Type") == "AWS::CloudWatch::Alarm"]

    def watched(namespace, metric, dimension):
        return [a for a in alarms if a.get("Namespace") == namespace and a.get("MetricName") == metric
                and any(d["Value"] == dimension for d in a.get("Dimensions", [])) and a.get("AlarmActions")]
    assert watched("AWS/SQS", "ApproximateNumberOfMessagesVisible", "launchguard-failed-events")
    for f in FUNCTIONS:
        assert watched("AWS/Lambda", "Errors", f), f
        assert watched("AWS/Lambda", "Throttles", f), f
    silent = watched("AWS/Lambda", "Invocations", "launchguard-detector")
    assert silent and silent[0]["TreatMissingData"] == "breaching" and silent[0]["ComparisonOperator"] == "LessThanThreshold", silent
    deploy_py = (ROOT / "deploy/deploy.py").read_text()
    assert "put_function_concurrency" in deploy_py, "the detector has no reserved concurrency"


# Issue 26/32: who can write to, read from and silence the stream queue. A finding the stream
# detector seals is trusted without CloudTrail's LookupEvents (its events came from AWS, `source:
# aws.*`), so a forged "AWS API Call via CloudTrail" envelope on the queue would aim containment:
# only EventBridge, for the stream's own rules, may send. The same-account principal holds `sqs:*`
# in an identity policy (PowerUserAccess has it): an explicit Deny of the queue's policy wins.
class StreamStack(Stack):
    """The rendered stream template with its intrinsics resolved (`StreamRoleArn`, `AdminPrincipals`)."""

    def __init__(self, tmp, **params: str):
        super().__init__(tmp, **params)
        stream = json.loads((tmp / "stream.json").read_text())
        self.resources = stream["Resources"]
        defaults = {k: v.get("Default", "") for k, v in stream["Parameters"].items()}
        self.params = {**defaults, **params}
        self.conditions = {k: self.value(v) for k, v in stream["Conditions"].items()}

    def ref(self, name: str):
        if name == "AdminPrincipals":
            return [x for x in self.params.get(name, "").split(",")]
        return super().ref(name)

    def getatt(self, name: str, attr: str) -> str:
        res = self.resources.get(name, {})
        if res.get("Type") == "AWS::Events::Rule":
            return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{res['Properties']['Name']}"
        if res.get("Type") == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{res['Properties']['QueueName']}"
        return super().getatt(name, attr)


STREAM_ROLE = f"{IAM}:role/launchguard-stream-role"
STREAM_ADMIN = f"{IAM}:role/PlatformDeployer"
SQS_STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
POWER_USER = f"{IAM}:user/power-user"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:launchguard-stream-events"
DEAD_LETTERS = f"arn:aws:sqs:{REGION}:{ACCOUNT}:launchguard-stream-dead-letters"
RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/"


@pytest.fixture(scope="module")
def stream_stack(tmp_path_factory):
    return StreamStack(tmp_path_factory.mktemp("stream"), StreamRoleArn=STREAM_ROLE, AdminPrincipals=STREAM_ADMIN)


def queue_request(stack: StreamStack, principal: str, action: str, queue: str, context: dict | None = None,
                  identity: dict | None = SQS_STAR) -> dict:
    """`principal` (an IAM ARN, or a service) calls `action` on `queue`, over TLS unless `context` says."""
    resource_policy = stack.value(stack.resources["StreamQueuePolicy" if queue == QUEUE else "StreamDeadLettersPolicy"]
                                  ["Properties"]["PolicyDocument"])
    ctx = {"aws:SecureTransport": "true", **(context or {})}
    if principal.startswith("arn:"):
        ctx = {"aws:PrincipalArn": principal, **ctx}
    return {"identityPolicies": [{"name": "identity", "policy": identity}] if identity else [], "resourcePolicy": resource_policy,
            "request": {"action": action, "principal": principal, "resource": {"accountId": ACCOUNT, "resource": queue},
                        "contextVariables": ctx}}


def stream_rule_arns(stack: StreamStack) -> list[str]:
    return [stack.getatt(lid, "Arn") for lid, r in stack.resources.items() if r.get("Type") == "AWS::Events::Rule"]


def test_only_the_stream_rules_write_to_the_stream_queue(stream_stack, simulate):
    rules = stream_rule_arns(stream_stack)
    assert {r.rsplit("/", 1)[1] for r in rules} >= {"launchguard-stream-ec2"}, rules
    must_deny = [
        ("an IAM user with sqs:* sends", queue_request(stream_stack, POWER_USER, "sqs:SendMessage", QUEUE)),
        ("the stream's own role sends", queue_request(stream_stack, STREAM_ROLE, "sqs:SendMessage", QUEUE)),
        ("an admin sends", queue_request(stream_stack, STREAM_ADMIN, "sqs:SendMessage", QUEUE)),
        ("EventBridge sends for another rule named like ours",
         queue_request(stream_stack, "events.amazonaws.com", "sqs:SendMessage", QUEUE, {"aws:SourceArn": f"{RULE}launchguard-stream-evil"},
                       identity=None)),
        ("EventBridge sends for a rule on another bus",
         queue_request(stream_stack, "events.amazonaws.com", "sqs:SendMessage", QUEUE,
                       {"aws:SourceArn": f"{RULE}launchguard-stream-bus/launchguard-stream-ec2"}, identity=None)),
        ("EventBridge sends with no source", queue_request(stream_stack, "events.amazonaws.com", "sqs:SendMessage", QUEUE, identity=None)),
        ("an IAM user with sqs:* receives (hides events)", queue_request(stream_stack, POWER_USER, "sqs:ReceiveMessage", QUEUE)),
        ("an IAM user with sqs:* deletes a message", queue_request(stream_stack, POWER_USER, "sqs:DeleteMessage", QUEUE)),
        ("an IAM user with sqs:* delays a message", queue_request(stream_stack, POWER_USER, "sqs:ChangeMessageVisibility", QUEUE)),
        ("an IAM user with sqs:* purges", queue_request(stream_stack, POWER_USER, "sqs:PurgeQueue", QUEUE)),
        ("an IAM user with sqs:* deletes the queue", queue_request(stream_stack, POWER_USER, "sqs:DeleteQueue", QUEUE)),
        ("an IAM user with sqs:* rewrites its policy", queue_request(stream_stack, POWER_USER, "sqs:SetQueueAttributes", QUEUE)),
        ("an IAM user with sqs:* adds a permission", queue_request(stream_stack, POWER_USER, "sqs:AddPermission", QUEUE)),
        ("the stream's role purges", queue_request(stream_stack, STREAM_ROLE, "sqs:PurgeQueue", QUEUE)),
        ("the stream's role receives without TLS",
         queue_request(stream_stack, STREAM_ROLE, "sqs:ReceiveMessage", QUEUE, {"aws:SecureTransport": "false"})),
        ("an IAM user with sqs:* purges the dead letters", queue_request(stream_stack, POWER_USER, "sqs:PurgeQueue", DEAD_LETTERS)),
        ("an IAM user with sqs:* deletes a dead letter", queue_request(stream_stack, POWER_USER, "sqs:DeleteMessage", DEAD_LETTERS)),
        ("an IAM user with sqs:* hides the dead letters", queue_request(stream_stack, POWER_USER, "sqs:ReceiveMessage", DEAD_LETTERS)),
        ("an IAM user with sqs:* deletes the dead-letter queue", queue_request(stream_stack, POWER_USER, "sqs:DeleteQueue", DEAD_LETTERS)),
        ("an IAM user with sqs:* changes the redrive", queue_request(stream_stack, POWER_USER, "sqs:SetQueueAttributes", DEAD_LETTERS)),
        # atk: a message anyone may send to the dead letters, moved back to the stream queue
        ("an IAM user with sqs:* moves the dead letters back",
         queue_request(stream_stack, POWER_USER, "sqs:StartMessageMoveTask", DEAD_LETTERS)),
        # rv finding 3: nobody sends to the dead letters (SQS moves a message there past
        # maxReceiveCount itself, without SendMessage): not a user, not an admin, not the
        # stream's role, not EventBridge for one of the stream's own rules
        ("an IAM user with sqs:* sends to the dead letters", queue_request(stream_stack, POWER_USER, "sqs:SendMessage", DEAD_LETTERS)),
        ("an admin sends to the dead letters", queue_request(stream_stack, STREAM_ADMIN, "sqs:SendMessage", DEAD_LETTERS)),
        ("the stream's role sends to the dead letters", queue_request(stream_stack, STREAM_ROLE, "sqs:SendMessage", DEAD_LETTERS)),
    ] + [
        (f"EventBridge sends to the dead letters for {r.rsplit('/', 1)[1]}",
         queue_request(stream_stack, "events.amazonaws.com", "sqs:SendMessage", DEAD_LETTERS, {"aws:SourceArn": r}, identity=None))
        for r in stream_rule_arns(stream_stack)
    ] + [
        # the move back (StartMessageMoveTask) sends to the stream queue as the admin who starts
        # it, with no rule's aws:SourceArn: denied, so dead letters are recounted by invoking the
        # function with them instead (docs/stream.md, "Dead letters")
        ("an admin's move task sends the dead letters back to the stream queue",
         queue_request(stream_stack, STREAM_ADMIN, "sqs:SendMessage", QUEUE)),
    ]
    must_allow = [
        (f"EventBridge sends for {r.rsplit('/', 1)[1]}",
         queue_request(stream_stack, "events.amazonaws.com", "sqs:SendMessage", QUEUE, {"aws:SourceArn": r}, identity=None))
        for r in rules
    ] + [
        ("the stream's role receives", queue_request(stream_stack, STREAM_ROLE, "sqs:ReceiveMessage", QUEUE)),
        ("the stream's role deletes", queue_request(stream_stack, STREAM_ROLE, "sqs:DeleteMessage", QUEUE)),
        ("the stream's role proves a receipt handle", queue_request(stream_stack, STREAM_ROLE, "sqs:ChangeMessageVisibility", QUEUE)),
        ("an admin purges", queue_request(stream_stack, STREAM_ADMIN, "sqs:PurgeQueue", QUEUE)),
        ("an admin reads the dead letters", queue_request(stream_stack, STREAM_ADMIN, "sqs:ReceiveMessage", DEAD_LETTERS)),
        ("an admin deletes a recounted dead letter", queue_request(stream_stack, STREAM_ADMIN, "sqs:DeleteMessage", DEAD_LETTERS)),
    ]
    results = simulate([c for _, c in must_deny])
    allowed = [name for (name, _), r in zip(must_deny, results) if r == "Allowed"]
    assert allowed == [], "allowed on the stream's queues:\n" + "\n".join(allowed)
    results = simulate([c for _, c in must_allow])
    denied = [f"{name}: {r}" for (name, _), r in zip(must_allow, results) if r != "Allowed"]
    assert denied == [], "denied:\n" + "\n".join(denied)


def test_the_stream_queues_are_encrypted(stream_stack):
    for q in ("StreamQueue", "StreamDeadLetters"):
        assert stream_stack.resources[q]["Properties"].get("SqsManagedSseEnabled") is True, q


# atk (outside review of the stream path): the stream detector trusts its table. The records it
# keeps there become a finding's `delivered_by_aws`, contained without CloudTrail's LookupEvents;
# its claims decide whether a burst is sent at all. Only the stream's role may write it.
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/launchguard-stream"
DYNAMODB_STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}


def table_request(stack: StreamStack, principal: str, action: str, identity: dict | None = DYNAMODB_STAR) -> dict:
    table = stack.resources["StreamTable"]["Properties"]
    policy = table.get("ResourcePolicy", {}).get("PolicyDocument")
    case = {"identityPolicies": [{"name": "identity", "policy": identity}] if identity else [],
            "request": {"action": action, "principal": principal, "resource": {"accountId": ACCOUNT, "resource": TABLE},
                        "contextVariables": {"aws:PrincipalArn": principal, "aws:SecureTransport": "true"}}}
    if policy is not None:
        case["resourcePolicy"] = stack.value(policy)
    return case


def test_only_the_stream_role_writes_the_stream_table(stream_stack, simulate):
    must_deny = [(f"an IAM user with dynamodb:* calls {a}", table_request(stream_stack, POWER_USER, a))
                 for a in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                           "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:UpdateTimeToLive",
                           "dynamodb:DeleteTable", "dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy")]
    results = simulate([c for _, c in must_deny])
    allowed = [name for (name, _), r in zip(must_deny, results) if r == "Allowed"]
    assert allowed == [], "allowed on the stream's table:\n" + "\n".join(allowed)
    stream_role = json.loads((ROOT / "policies/launchguard-stream.json").read_text()
                             .replace("${Partition}", "aws").replace("${Region}", REGION).replace("${AccountId}", ACCOUNT)
                             .replace("${FunctionName}", "launchguard-stream"))
    must_allow = [table_request(stream_stack, STREAM_ROLE, a, stream_role) for a in ("dynamodb:PutItem", "dynamodb:UpdateItem",
                                                                                      "dynamodb:DeleteItem", "dynamodb:GetItem",
                                                                                      "dynamodb:Query")]
    assert simulate(must_allow) == ["Allowed"] * len(must_allow)


def test_the_stream_role_reads_no_queue_but_its_own(stack, simulate):
    # atk: whoever may lambda:CreateEventSourceMapping (PowerUserAccess) maps a queue of its own
    # to launchguard-stream, and lets the stream's role read it in that queue's policy: Lambda
    # then delivers the attacker's "AWS API Call via CloudTrail" envelopes as it delivers the
    # stream queue's, past the stream queue's SourceArn deny. The role must read no other queue.
    evil = f"arn:aws:sqs:{REGION}:{ACCOUNT}:attacker-queue"
    grant = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": STREAM_ROLE}, "Action": "sqs:*",
                                                     "Resource": evil}]}
    actions = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")
    cases = [{**request(stack, "StreamRole", a, evil), "resourcePolicy": grant} for a in actions]
    results = simulate(cases)
    allowed = [a for a, r in zip(actions, results) if r == "Allowed"]
    assert allowed == [], f"the stream's role may read a queue the attacker granted it: {allowed}"
    # and its own: the event source mapping's reading, and the function's proof that a message
    # came from it (ChangeMessageVisibilityBatch, authorized as sqs:ChangeMessageVisibility)
    own = [request(stack, "StreamRole", a, QUEUE)
           for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility")]
    assert simulate(own) == ["Allowed"] * len(own)


def test_the_stream_role_reads_its_own_rules_and_changes_no_rule(stack, simulate):
    """Task tgt: before it vouches for what its queue delivered, the stream function reads its own
    rules back (events:DescribeRule, ListTargetsByRule): read-only, on the rendered rules' exact
    ARNs (render.py narrows policies/launchguard-stream.json's `ReadOwnRules`), and it pages
    launchguard's health topic when one is not as rendered."""
    own = [request(stack, "StreamRole", a, f"{RULE}{n}") for a in ("events:DescribeRule", "events:ListTargetsByRule")
           for n in ("launchguard-stream-ec2", "launchguard-stream-autoscaling", "launchguard-stream-iam")]
    assert simulate(own) == ["Allowed"] * len(own)
    health = f"arn:aws:sns:{REGION}:{ACCOUNT}:launchguard-health"
    assert simulate([request(stack, "StreamRole", "sns:Publish", health)]) == ["Allowed"]
    must_deny = [(a, request(stack, "StreamRole", a, r)) for a, r in (
        ("events:DescribeRule", f"{RULE}launchguard-stream-evil"), ("events:DescribeRule", f"{RULE}launchguard-recheck"),
        ("events:ListTargetsByRule", f"{RULE}launchguard-stream-bus/launchguard-stream-ec2"),
        ("events:PutRule", f"{RULE}launchguard-stream-ec2"), ("events:PutTargets", f"{RULE}launchguard-stream-ec2"),
        ("events:RemoveTargets", f"{RULE}launchguard-stream-ec2"), ("events:DisableRule", f"{RULE}launchguard-stream-ec2"),
        ("sns:Publish", NOTIFICATION_TOPIC), ("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:launchguard-alarms"))]
    results = simulate([c for _, c in must_deny])
    assert [f"{a} {c['request']['resource']['resource']}" for (a, c), r in zip(must_deny, results) if r == "Allowed"] == []
