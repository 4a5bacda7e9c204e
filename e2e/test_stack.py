"""`make deploy` against LocalStack: `deploy/deploy.py --skip-build` runs the base stack, then
`cargo lambda deploy --endpoint-url` of each function with its role and environment, then the
wiring stack; everything is checked through the AWS APIs afterwards.

LocalStack cannot run the functions on these machines (they stay in State=Failed), and it skips
AWS::Logs::MetricFilter without an error: the metric filter's pattern is checked against the
detector's own by crates/testkit/tests/deploy.rs instead.
"""
import json
import os
import subprocess
import sys

from harness import ENDPOINT, REGION, ROOT, client

sys.path.insert(0, str(ROOT / "deploy"))
import render  # noqa: E402

FUNCTIONS = {  # memory and timeout from [package.metadata.lambda.deploy]
    "launchguard-detector": (256, 120, "DetectorRoleArn"),
    "launchguard-dispatcher": (256, 120, "DispatcherRoleArn"),
    "launchguard-accesskey-handler": (128, 60, "AccessKeyHandlerRoleArn"),
    "launchguard-iam-handler": (128, 60, "IamHandlerRoleArn"),
    "launchguard-ec2-handler": (128, 60, "Ec2HandlerRoleArn"),
}


def test_make_deploy_creates_the_stacks_and_the_functions(localstack):
    env = {**os.environ, "AWS_ENDPOINT_URL": ENDPOINT, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "CLOUDTRAIL_LOG_GROUP_NAME": "/aws/cloudtrail/e2e",
           "STACK_NAME": "launchguard-e2e", "PATH": f"{ROOT / '.venv-tools/bin'}:{os.environ['PATH']}"}
    client("logs").create_log_group(logGroupName="/aws/cloudtrail/e2e")
    # the plan first: it names every step and changes nothing
    plan = subprocess.run([sys.executable, str(ROOT / "deploy/deploy.py"), "--dry"], env=env, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    for needle in ("CloudFormation stack launchguard-e2e", "cargo lambda deploy", "launchguard-iam-handler", "DRY_RUN=true"):
        assert needle in plan.stdout
    assert not client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]

    out = subprocess.run([sys.executable, str(ROOT / "deploy/deploy.py"), "--skip-build"], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    cf = client("cloudformation")
    stack = cf.describe_stacks(StackName="launchguard-e2e")["Stacks"][0]
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    # the alarms rendered from the rule file (in the wiring stack, checked below) are the ones the
    # detector acts on
    names = render.rendered()["alarm_names"]
    assert outputs["AlarmArns"].split(",") == [f"arn:aws:cloudwatch:{REGION}:000000000000:alarm:{n}" for n in names]
    groups = client("logs").describe_log_groups(logGroupNamePrefix="/launchguard/incidents")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/launchguard/incidents"]
    assert groups[0].get("retentionInDays", 400) == 400  # LocalStack's CloudFormation does not apply it; AWS does

    iam, lam = client("iam"), client("lambda")
    for fn, (memory, timeout, role_output) in FUNCTIONS.items():
        doc = iam.get_role_policy(RoleName=f"{fn}-role", PolicyName="launchguard")["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        wanted = json.loads((ROOT / "policies" / f"{fn}.json").read_text())
        # with LG_EC2_ACTION=none the ec2-handler's EC2 writes are not rendered (deploy/render.py)
        conditional = set(render.CONDITIONAL_STATEMENTS.get(fn, {}))
        assert [s["Sid"] for s in doc["Statement"]] == [s["Sid"] for s in wanted["Statement"] if s["Sid"] not in conditional], fn
        assert "${" not in json.dumps(doc) and "000000000000" in json.dumps(doc)
        cfg = lam.get_function_configuration(FunctionName=fn)
        assert (cfg["Runtime"], cfg["Handler"], cfg["MemorySize"], cfg["Timeout"]) == ("provided.al2023", "bootstrap", memory, timeout), fn
        assert cfg["Role"] == outputs[role_output]
        variables = cfg["Environment"]["Variables"]
        assert variables["DRY_RUN"] == "true", fn
    disp = lam.get_function_configuration(FunctionName="launchguard-dispatcher")["Environment"]["Variables"]
    assert disp["NOTIFICATION_TOPIC_ARN"] == outputs["NotificationTopicArn"]
    assert disp["INCIDENT_LOG_GROUP"] == "/launchguard/incidents"
    assert disp["PROTECTED_PRINCIPALS"] == "arn:aws:iam::*:user/breakglass-*"
    # instances are left running unless the operator chooses stop or terminate
    assert (disp["LG_EC2_ACTION"], disp["EC2_HANDLER_LAMBDA_NAME"]) == ("none", "launchguard-ec2-handler")
    det = lam.get_function_configuration(FunctionName="launchguard-detector")["Environment"]["Variables"]
    assert det["CLOUDTRAIL_LOG_GROUP_NAME"] == "/aws/cloudtrail/e2e"

    wiring = cf.describe_stacks(StackName="launchguard-e2e-wiring")["Stacks"][0]
    assert wiring["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    alarm = client("cloudwatch").describe_alarms(AlarmNames=["launchguard-runinstances-instances-5m"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [outputs["AlarmTopicArn"]]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"], alarm["Period"]) == ("LaunchGuard", "RunInstancesInstancesRequested", 5.0, 300)
    assert det["ALARM_ARNS"] == outputs["AlarmArns"]
    assert "LG_MIN_INSTANCES" not in det, "thresholds come from the rule file alone"
    subs = client("sns").list_subscriptions_by_topic(TopicArn=outputs["AlarmTopicArn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"].split(":")[-1]) for s in subs] == [("lambda", "launchguard-detector")]
