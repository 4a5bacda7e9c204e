"""The base CloudFormation stack (deploy/), deployed to LocalStack with `deploy.py --stack-only`.

LocalStack skips AWS::Logs::MetricFilter without an error; the metric filter's pattern is checked
against the detector's own pattern by crates/testkit/tests/deploy.rs instead.
"""
import json
import os
import subprocess
import sys

from harness import ENDPOINT, REGION, ROOT, client


def test_the_base_stack_creates_what_the_functions_need(localstack):
    env = {**os.environ, "AWS_ENDPOINT_URL": ENDPOINT, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "CLOUDTRAIL_LOG_GROUP_NAME": "/aws/cloudtrail/e2e",
           "STACK_NAME": "launchguard-e2e"}
    client("logs").create_log_group(logGroupName="/aws/cloudtrail/e2e")
    out = subprocess.run([sys.executable, str(ROOT / "deploy/deploy.py"), "--stack-only"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    cf = client("cloudformation")
    stack = cf.describe_stacks(StackName="launchguard-e2e")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert set(outputs) == {"AlarmTopicArn", "NotificationTopicArn", "IncidentLogGroupName", "FailedEventsQueueArn",
                            "DetectorRoleArn", "DispatcherRoleArn", "AccessKeyHandlerRoleArn", "IamHandlerRoleArn"}
    alarm = client("cloudwatch").describe_alarms(AlarmNames=["launchguard-runinstances"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [outputs["AlarmTopicArn"]]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"], alarm["Period"]) == ("LaunchGuard", "RunInstancesCalls", 10.0, 60)
    groups = client("logs").describe_log_groups(logGroupNamePrefix="/launchguard/incidents")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/launchguard/incidents"]
    # LocalStack's CloudFormation does not apply RetentionInDays; AWS does
    assert groups[0].get("retentionInDays", 400) == 400
    iam = client("iam")
    for fn in ("launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler", "launchguard-iam-handler"):
        role = f"{fn}-role"
        doc = iam.get_role_policy(RoleName=role, PolicyName="launchguard")["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        wanted = json.loads((ROOT / "policies" / f"{fn}.json").read_text())
        assert [s["Sid"] for s in doc["Statement"]] == [s["Sid"] for s in wanted["Statement"]], role
        text = json.dumps(doc)
        assert "${" not in text, f"unresolved placeholder in {role}: {text}"
        assert "000000000000" in text
    # a dry plan names every step
    plan = subprocess.run([sys.executable, str(ROOT / "deploy/deploy.py"), "--dry"], env=env, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    for needle in ("CloudFormation stack launchguard-e2e", "cargo lambda deploy", "launchguard-iam-handler", "DRY_RUN=true"):
        assert needle in plan.stdout
