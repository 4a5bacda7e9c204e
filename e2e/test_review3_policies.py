"""Review 3 (attack review of issue 32's change): the rendered role, resource and containment
policies, and the example SCP, evaluated by the real IAM evaluator of e2e/test_iam_simulate.py
(`@cloud-copilot/iam-simulate`, tools/iam-simulate). Every request here carries `aws:PrincipalArn`
(the evaluator does not derive it from the principal: without it every `ArnNotEquals` deny of a
resource policy applies to everyone, the allowed principals too, and proves nothing).

The tests that fail on this branch are skipped with the defect (`review3: ...`); the attacks
that held run. Needs Node.js 18+ and npm; no LocalStack.
"""
import json
from pathlib import Path

import pytest

from test_documents import ACCOUNT, NOTIFICATION_TOPIC, REGION, Stack
from test_iam_simulate import ALLOW_ALL, FN, IAM, OURS, V3, guard_document, role_policy, simulate, stack  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
EVERY_ROLE = ("DetectorRole", "DispatcherRole", "AccessKeyHandlerRole", "IamHandlerRole", "Ec2HandlerRole")
OUTSIDER = f"{IAM}:user/someone-in-the-account"
SCP = json.loads((ROOT / "examples/scp-launchguard.json").read_text())
ADMIN_ROLE = f"{IAM}:role/REPLACE-WITH-ADMIN-ROLE"


def case(principal: str, policies: list[dict], action: str, resource: str, context: dict | None = None, resource_policy=None) -> dict:
    c = {"identityPolicies": [{"name": f"p{i}", "policy": p} for i, p in enumerate(policies)],
         "request": {"action": action, "principal": principal, "resource": {"accountId": ACCOUNT, "resource": resource},
                     "contextVariables": {"aws:PrincipalArn": principal, "aws:SecureTransport": "true", **(context or {})}}}
    if resource_policy is not None:
        c["resourcePolicy"] = resource_policy
    return c


def role_case(st: Stack, role: str, action: str, resource: str, context: dict | None = None) -> dict:
    principal = f"{IAM}:role/{st.resources[role]['Properties']['RoleName']}"
    return case(principal, [role_policy(st, role)], action, resource, context)


def allowed(simulate, named: list[tuple[str, dict]]) -> list[str]:
    results = simulate([c for _, c in named])
    return [name for (name, _), r in zip(named, results) if r == "Allowed"]


# ---------------------------------------------------------------------------------------------
# Attacks that held
# ---------------------------------------------------------------------------------------------

HELD_DENY = [
    # a policy an attacker created under the stack's path, or another AWS quarantine version
    (("IamHandlerRole",), "iam:AttachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": f"{OURS}launchguard-quarantine-guard-v2"}),
    (("IamHandlerRole",), "iam:AttachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": f"{IAM}:policy/launchguard/../AdministratorAccess"}),
    (("IamHandlerRole",), "iam:AttachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"}),
    (("IamHandlerRole",), "iam:AttachRolePolicy", f"{IAM}:role/Admin", {"iam:PolicyARN": f"{OURS}launchguard-quarantine-guard"}),
    (("IamHandlerRole",), "iam:AttachUserPolicy", f"{IAM}:user/alice", {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions".upper()}),
    # service-linked and launchguard's own roles, under any path
    (("IamHandlerRole",), "iam:AttachRolePolicy", f"{IAM}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
     {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions"}),
    (("IamHandlerRole",), "iam:AttachRolePolicy", f"{IAM}:role/a/b/launchguard-dispatcher-role", {"iam:PolicyARN": f"{OURS}launchguard-revoke-sessions"}),
    # no identity of their own to hand out, no tag games on principals
    (EVERY_ROLE, "iam:CreateLoginProfile", f"{IAM}:user/alice", {}),
    (EVERY_ROLE, "iam:UpdateLoginProfile", f"{IAM}:user/alice", {}),
    (EVERY_ROLE, "iam:CreateUser", f"{IAM}:user/backdoor", {}),
    (EVERY_ROLE, "iam:CreatePolicy", f"{IAM}:policy/launchguard/launchguard-quarantine-guard", {}),
    (EVERY_ROLE, "iam:UntagUser", f"{IAM}:user/breakglass-1", {"aws:TagKeys": ["launchguard:protected"]}),
    (EVERY_ROLE, "iam:UntagRole", f"{IAM}:role/OrgAdmin", {"aws:TagKeys": ["launchguard:protected"]}),
    (EVERY_ROLE, "iam:DeleteAccessKey", f"{IAM}:user/alice", {}),
    # no launchguard role changes launchguard
    (EVERY_ROLE, "lambda:UpdateFunctionConfiguration", f"{FN}:launchguard-dispatcher", {}),
    (EVERY_ROLE, "lambda:UpdateFunctionCode", f"{FN}:launchguard-iam-handler", {}),
    (EVERY_ROLE, "events:DisableRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/launchguard-recheck", {}),
    (EVERY_ROLE, "sqs:PurgeQueue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:launchguard-failed-events", {}),
    # no role forges CloudTrail records (the detector reads the trail's group, never writes it)
    (EVERY_ROLE, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws-cloudtrail-logs:log-stream:x", {}),
    (EVERY_ROLE, "cloudtrail:StopLogging", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main", {}),
]


def test_review3_held_no_launchguard_role_reaches_further(stack, simulate):
    named = [(f"{role} {action} {res} {ctx}", role_case(stack, role, action, res, ctx)) for roles, action, res, ctx in HELD_DENY for role in roles]
    assert allowed(simulate, named) == []


LEDGER = "arn:aws:s3:::ledger-bucket"


def test_review3_held_the_dispatcher_cannot_plant_a_handlers_replay_record(stack, simulate):
    """A changed dispatcher cannot write `requests/<handler>/<id>.json` to make a handler answer
    "already applied" without acting (its role writes only `ledger/*`)."""
    policy = stack.value(stack.resources["LedgerBucketPolicy"]["Properties"]["PolicyDocument"])
    named = []
    for handler in ("launchguard-accesskey-handler", "launchguard-iam-handler", "launchguard-ec2-handler"):
        c = role_case(stack, "DispatcherRole", "s3:PutObject", f"{LEDGER}/requests/{handler}/lgr-0123456789abcdef01234567.json")
        c["resourcePolicy"] = policy
        named.append((handler, c))
    assert allowed(simulate, named) == []


def test_review3_held_the_evaluator_sees_allowed_principals_with_their_arn(stack, simulate):
    """The control of the file's premise: with `aws:PrincipalArn` given, each handler may write its
    own replay record (the bucket policy's `ArnNotEquals` does not bind it), so a deny found above
    is the policy's, not the evaluator's."""
    policy = stack.value(stack.resources["LedgerBucketPolicy"]["Properties"]["PolicyDocument"])
    named = []
    for role, handler in (("AccessKeyHandlerRole", "launchguard-accesskey-handler"), ("IamHandlerRole", "launchguard-iam-handler"),
                          ("Ec2HandlerRole", "launchguard-ec2-handler")):
        c = role_case(stack, role, "s3:PutObject", f"{LEDGER}/requests/{handler}/lgr-0123456789abcdef01234567.json")
        c["resourcePolicy"] = policy
        named.append((role, c))
    assert len(allowed(simulate, named)) == 3


def test_review3_held_a_contained_admin_keeps_no_known_route(simulate):
    """Beyond e2e/test_iam_simulate.py's table: more of the routes the guard names."""
    rows = [("ec2:RequestSpotInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:spot-instances-request/*"),
            ("ec2:CreateLaunchTemplate", f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/*"),
            ("ec2:ModifyLaunchTemplate", f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/lt-0123456789abcdef0"),
            ("autoscaling:UpdateAutoScalingGroup", f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/web"),
            ("ecs:RunTask", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/x:1"),
            ("ssm:SendCommand", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"),
            ("ssm:StartSession", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"),
            ("sts:GetFederationToken", f"arn:aws:sts::{ACCOUNT}:federated-user/x"),
            ("iam:UntagUser", f"{IAM}:user/contained-admin"),
            ("kms:PutKeyPolicy", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab")]
    contained = f"{IAM}:user/contained-admin"
    named = [(a, case(contained, [ALLOW_ALL, guard_document()], a, r)) for a, r in rows]
    assert allowed(simulate, named) == []


# ---------------------------------------------------------------------------------------------
# Defects (skipped until fixed)
# ---------------------------------------------------------------------------------------------

# Routes the guard leaves to a contained administrator (AdministratorAccess plus
# launchguard-quarantine-guard, another of its keys): act as a role without sts:AssumeRole, or
# launch without RunInstances.
OTHER_ROUTES = [
    # an existing EC2 Fleet of type maintain: raise its target capacity; the fleet's service role
    # launches (invokedBy ec2fleet: AWS itself, never contained)
    ("ec2:ModifyFleet", f"arn:aws:ec2:{REGION}:{ACCOUNT}:fleet/fleet-0123456789abcdef0"),
    ("ec2:RunScheduledInstances", "*"),
    ("ec2:ImportInstance", "*"),
    # a shell on an instance whose profile is an admin role (stratus-red-team's lateral movement
    # technique; fixtures/cloudtrail/stratus/aws.lateral-movement.ec2-instance-connect.json): the
    # role's credentials from the instance metadata, then iam:DetachUserPolicy of the guard
    ("ec2-instance-connect:SendSSHPublicKey", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"),
    ("ec2-instance-connect:SendSerialConsoleSSHPublicKey", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"),
    # commands run as an existing project's service role (buildspecOverride needs no iam:PassRole)
    ("codebuild:StartBuild", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/deploy-prod"),
    # an existing state machine's role (its AWS SDK integrations), no iam:PassRole either
    ("states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:ops-automation"),
    # an SSH key on an existing Glue development endpoint: a shell with its role
    ("glue:UpdateDevEndpoint", f"arn:aws:glue:{REGION}:{ACCOUNT}:devEndpoint/etl"),
]


def test_review3_a_contained_admin_cannot_act_through_another_route(simulate):
    contained = f"{IAM}:user/contained-admin"
    named = [(a, case(contained, [ALLOW_ALL, guard_document()], a, r)) for a, r in OTHER_ROUTES]
    assert allowed(simulate, named) == []


def scp_as_policy() -> dict:
    """The SCP's statements (all Deny) as an identity policy: the same effect on every request."""
    return SCP


def test_review3_the_example_scp_lets_the_dispatcher_write_incident_records(stack, simulate):
    principal = f"{IAM}:role/{stack.resources['DispatcherRole']['Properties']['RoleName']}"
    stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/launchguard/incidents:log-stream:incidents/2026/11/22"
    named = [(a, case(principal, [role_policy(stack, "DispatcherRole"), scp_as_policy()], a, stream))
             for a in ("logs:PutLogEvents", "logs:CreateLogStream")]
    assert allowed(simulate, named) == [a for a, _ in named], "the dispatcher cannot write incident records under the example SCP"


# Silencing paths an account principal (sns:*, sqs:*, logs:* through its own IAM policy) keeps under
# the example SCP, which SECURITY.md says denies them ("the SCP denies sns:* changes on
# launchguard-* topics") or does not list at all.
SILENCING = [
    ("sns:Unsubscribe", f"arn:aws:sns:{REGION}:{ACCOUNT}:launchguard-alarms"),
    ("sns:Unsubscribe", NOTIFICATION_TOPIC),
    ("sns:Unsubscribe", f"arn:aws:sns:{REGION}:{ACCOUNT}:launchguard-health"),
    # a consumer on the dead-letter queue: a message received and deleted within the minute is
    # never counted by ApproximateNumberOfMessagesVisible (the dead-letters alarm)
    ("sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:launchguard-failed-events"),
    ("sqs:DeleteMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:launchguard-failed-events"),
    # SECURITY.md: "deny logs:PutLogEvents on that log group to everyone but CloudTrail's
    # delivery role"; the example SCP does not
    ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws-cloudtrail-logs:log-stream:forged"),
]


def test_review3_the_example_scp_closes_every_silencing_path(simulate):
    star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sns:*", "sqs:*", "logs:*"], "Resource": "*"}]}
    named = [(f"{a} {r}", case(OUTSIDER, [star, scp_as_policy()], a, r)) for a, r in SILENCING]
    assert allowed(simulate, named) == []


def test_review3_held_the_example_scp_still_lets_its_admin_role_act(simulate):
    """The control: the SCP as modelled binds by principal (the admin role passes), so the denies
    above are the SCP's."""
    star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sns:*", "sqs:*", "logs:*"], "Resource": "*"}]}
    named = [(a, case(ADMIN_ROLE, [star, scp_as_policy()], a, r)) for a, r in (
        ("sqs:PurgeQueue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:launchguard-failed-events"),
        ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/launchguard/incidents:log-stream:x"))]
    assert len(allowed(simulate, named)) == 2


def topic_policy(st: Stack, resource: str) -> dict:
    return st.value(st.resources[resource]["Properties"]["PolicyDocument"])


def test_review3_held_an_outsider_neither_subscribes_to_nor_changes_the_notification_topic(tmp_path_factory, simulate):
    st = Stack(tmp_path_factory.mktemp("topic3"), AdminPrincipals=f"{IAM}:role/PlatformDeployer")
    sns_star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:*", "Resource": "*"}]}
    policy = topic_policy(st, "NotificationTopicPolicy")
    ctx = {"sns:Protocol": "https", "sns:Endpoint": "https://attacker.example"}
    named = [(a, case(OUTSIDER, [sns_star], a, NOTIFICATION_TOPIC, ctx, policy))
             for a in ("sns:Subscribe", "sns:Publish", "sns:SetTopicAttributes", "sns:DeleteTopic", "sns:PutDataProtectionPolicy")]
    assert allowed(simulate, named) == []
    # the control: the admin role may still subscribe
    admin = [("admin", case(f"{IAM}:role/PlatformDeployer", [sns_star], "sns:Subscribe", NOTIFICATION_TOPIC, ctx, policy))]
    assert allowed(simulate, admin) == ["admin"]


def test_review3_an_outsider_cannot_subscribe_to_the_alarm_topic(tmp_path_factory, simulate):
    st = Stack(tmp_path_factory.mktemp("alarms3"), AdminPrincipals=f"{IAM}:role/PlatformDeployer")
    sns_star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:*", "Resource": "*"}]}
    alarm_topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:launchguard-alarms"
    ctx = {"sns:Protocol": "https", "sns:Endpoint": "https://attacker.example"}
    # Ref AlarmTopic is the topic's ARN (test_documents.Stack names it "TOPIC")
    policy = json.loads(json.dumps(topic_policy(st, "AlarmTopicPolicy")).replace('"TOPIC"', json.dumps(alarm_topic)))
    named = [("sns:Subscribe", case(OUTSIDER, [sns_star], "sns:Subscribe", alarm_topic, ctx, policy))]
    assert allowed(simulate, [("publish", case(OUTSIDER, [sns_star], "sns:Publish", alarm_topic, {}, policy))]) == [], "the policy applies"
    assert allowed(simulate, named) == []


# PROTECTED_PRINCIPALS patterns launchguard's code accepts and enforces (core ids.rs
# check_pattern_fields: service iam, sts or *; region empty or *; a resource starting with *;
# the kind in any case, compared without case), each protecting user/breakglass-1 in code.
CODE_VALID_PATTERNS = [
    "arn:aws:*::*:user/breakglass-*",
    "arn:aws:iam:*:*:user/breakglass-*",
    "arn:aws:iam::*:*/breakglass-*",
    "arn:aws:iam::*:*breakglass*",
    "arn:aws:iam::*:User/breakglass-*",
]


# Was review3's #14 (deploy.py dropped these patterns): now rendered by core::protected_iam.
def test_review3_every_protected_pattern_the_code_accepts_is_denied_in_iam(tmp_path_factory, simulate):
    import sys
    sys.path.insert(0, str(ROOT / "deploy"))
    import deploy
    named = []
    for i, pattern in enumerate(CODE_VALID_PATTERNS):
        arns = ",".join(deploy.protected_arns(pattern)) or "arn:aws:iam::*:role/launchguard-*"
        st = Stack(tmp_path_factory.mktemp(f"prot{i}"), ProtectedPrincipalArns=arns)
        for role, action, ctx in (("IamHandlerRole", "iam:AttachUserPolicy", {"iam:PolicyARN": V3}),
                                  ("AccessKeyHandlerRole", "iam:UpdateAccessKey", {})):
            named.append((f"{pattern}: {role} {action}", role_case(st, role, action, f"{IAM}:user/breakglass-1", ctx)))
    assert allowed(simulate, named) == []


def test_review3_the_evaluator_harness_gives_each_request_its_principal_arn(stack):
    from test_iam_simulate import request
    r = request(stack, "DispatcherRole", "s3:PutObject", f"{LEDGER}/ledger/x")
    assert r["request"]["contextVariables"].get("aws:PrincipalArn") == r["request"]["principal"]


def test_review3_the_example_scp_denies_moving_a_user_into_the_protected_principals(simulate):
    """Issue 22: a flagged user moves (`iam:UpdateUser --new-path`) or renames itself into a
    protected path or name after its burst, and launchguard never acts on a protected principal.
    IAM authorizes a rename on the target user too; the SCP denies `iam:UpdateUser` on the default
    protected users (any path) and on a protected path of yours to everyone but the admin role."""
    iam_star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
    targets = [f"{IAM}:user/breakglass-9", f"{IAM}:user/ops/breakglass-9", f"{IAM}:user/REPLACE-WITH-PROTECTED-PATH/intern"]
    named = [(t, case(OUTSIDER, [iam_star, scp_as_policy()], "iam:UpdateUser", t)) for t in targets]
    assert allowed(simulate, named) == []
    # the controls: an unprotected user may still be updated; the admin role may move anyone
    control = [(f"{IAM}:user/intern", case(OUTSIDER, [iam_star, scp_as_policy()], "iam:UpdateUser", f"{IAM}:user/intern"))]
    control += [(t, case(ADMIN_ROLE, [iam_star, scp_as_policy()], "iam:UpdateUser", t)) for t in targets]
    assert len(allowed(simulate, control)) == len(control)


STREAM_FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:launchguard-stream"


def test_tgt_the_example_scp_denies_invoking_or_remapping_the_stream_to_all_but_launchguard(simulate):
    """Task tgt (issues 32 and 26): a batch handed to launchguard-stream directly, or a queue of
    the attacker's mapped to it, or the stream's own mapping changed or deleted."""
    star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}
    fn_arn = {"lambda:FunctionArn": STREAM_FN}
    mapping = f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:4d2f6a51-0000-4000-8000-000000000001"
    requests = [("lambda:InvokeFunction", STREAM_FN, None), ("lambda:InvokeFunction", f"{STREAM_FN}:live", None),
                ("lambda:CreateEventSourceMapping", "*", fn_arn), ("lambda:UpdateEventSourceMapping", mapping, fn_arn),
                ("lambda:DeleteEventSourceMapping", mapping, fn_arn)]
    outsider = [(f"{a} {r}", case(OUTSIDER, [star, scp_as_policy()], a, r, ctx)) for a, r, ctx in requests]
    assert allowed(simulate, outsider) == []
    # the control: the admin role may, and launchguard's own roles may invoke it; another
    # function's mapping is not the SCP's business
    admin = [(f"{a} {r}", case(ADMIN_ROLE, [star, scp_as_policy()], a, r, ctx)) for a, r, ctx in requests]
    assert len(allowed(simulate, admin)) == len(requests)
    ours = [("dispatcher invokes", case(f"{IAM}:role/launchguard-dispatcher-role", [star, scp_as_policy()], "lambda:InvokeFunction", STREAM_FN)),
            ("another function's mapping", case(OUTSIDER, [star, scp_as_policy()], "lambda:CreateEventSourceMapping", "*",
                                                {"lambda:FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:billing"}))]
    assert len(allowed(simulate, ours)) == 2
