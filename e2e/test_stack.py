"""`make deploy` against LocalStack: `deploy/deploy.py --skip-build` runs the base stack, then
`cargo lambda deploy --endpoint-url` of each function with its role and environment, then the
wiring stack; everything is checked through the AWS APIs afterwards.

Issue 30: the deployment uses a custom rule file (one rule renamed, with its own threshold and
alarm names) and a custom playbook (`LG_USER_ACTIONS=deactivate_access_keys`). Its alarms are
rendered from that file, and the functions, started with the environment the deployment gave them,
run it: the detector's report names the custom rule, and the dispatcher plans the custom playbook.

LocalStack cannot run the functions on these machines (they stay in State=Failed), so the second
test runs the built binaries behind `cargo lambda watch` with the deployed environment; it also
skips AWS::Logs::MetricFilter without an error: the metric filters' soundness is proved against a
model of CloudWatch by crates/testkit/tests/it/alarms.rs instead.
"""
import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from harness import ACCOUNT, ENDPOINT, REGION, ROOT, Scenario, Watch, client, cloudtrail, iam_burst_spec, iam_user

sys.path.insert(0, str(ROOT / "deploy"))
import render  # noqa: E402

FUNCTIONS = {  # memory and timeout from [package.metadata.lambda.deploy]
    "launchguard-detector": (256, 120, "DetectorRoleArn"),
    "launchguard-dispatcher": (256, 120, "DispatcherRoleArn"),
    "launchguard-accesskey-handler": (128, 60, "AccessKeyHandlerRoleArn"),
    "launchguard-iam-handler": (128, 60, "IamHandlerRoleArn"),
    "launchguard-ec2-handler": (128, 60, "Ec2HandlerRoleArn"),
}


CUSTOM_RULE = "iam-user-burst-custom"
CUSTOM_ALARM = "launchguard-custom-users-calls-10m"
DEPLOYED: dict = {}


@pytest.fixture(scope="module")
def custom_rules(tmp_path_factory) -> str:
    """The bundled rules with iam-user-burst renamed, at 4 users in 10 minutes, its alarms
    launchguard-custom-users*."""
    doc = json.loads((ROOT / "crates/core/rules/default.json").read_text())
    rule = next(r for r in doc["rules"] if r["id"] == "iam-user-burst")
    rule.update(id=CUSTOM_RULE, horizons=[{"window_seconds": 600, "threshold": 4}], alarms=["launchguard-custom-users*"])
    path = tmp_path_factory.mktemp("rules") / "custom-rules.json"
    path.write_text(json.dumps(doc, indent=2))
    return str(path)


def test_make_deploy_creates_the_stacks_and_the_functions(localstack, custom_rules):
    env = {**os.environ, "AWS_ENDPOINT_URL": ENDPOINT, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "CLOUDTRAIL_LOG_GROUP_NAME": "/aws/cloudtrail/e2e",
           "STACK_NAME": "launchguard-e2e", "PATH": f"{ROOT / '.venv-tools/bin'}:{os.environ['PATH']}",
           # the custom rule file and playbook (an environment variable overrides deploy/config.env's line)
           "LG_RULES_FILE": custom_rules, "LG_USER_ACTIONS": "deactivate_access_keys"}
    client("logs").create_log_group(logGroupName="/aws/cloudtrail/e2e")
    # the plan first: it names every step and changes nothing
    plan = subprocess.run([sys.executable, str(ROOT / "deploy/deploy.py"), "--dry"], env=env, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    for needle in ("CloudFormation stack launchguard-e2e", "cargo lambda deploy", "launchguard-iam-handler", "DRY_RUN=true",
                   f"{CUSTOM_RULE}: 4 calls within 10 min -> {CUSTOM_ALARM} (at 2 per 10 min"):
        assert needle in plan.stdout, plan.stdout
    assert not client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]

    out = subprocess.run([sys.executable, str(ROOT / "deploy/deploy.py"), "--skip-build"], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    cf = client("cloudformation")
    stack = cf.describe_stacks(StackName="launchguard-e2e")["Stacks"][0]
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    # the alarms rendered from the rule file (in the wiring stack, checked below) are the ones the
    # detector acts on
    rendered = render.rendered(custom_rules)
    names = rendered["alarm_names"]
    assert CUSTOM_ALARM in names and "launchguard-iam-user-burst-calls-10m" not in names, names
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
    # the rule file the alarms were rendered from reaches the two functions that read rules, the
    # playbook the one that plans
    assert json.loads(det["LG_RULES"]) == json.loads(open(custom_rules).read()) and disp["LG_RULES"] == det["LG_RULES"]
    assert disp["LG_USER_ACTIONS"] == "deactivate_access_keys" and "LG_USER_ACTIONS" not in det
    for fn in ("launchguard-accesskey-handler", "launchguard-iam-handler", "launchguard-ec2-handler"):
        handler = lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
        assert "LG_RULES" not in handler and "LG_USER_ACTIONS" not in handler, fn

    wiring = cf.describe_stacks(StackName="launchguard-e2e-wiring")["Stacks"][0]
    assert wiring["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    alarm = client("cloudwatch").describe_alarms(AlarmNames=["launchguard-runinstances-instances-5m"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [outputs["AlarmTopicArn"]]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"], alarm["Period"]) == ("LaunchGuard", "RunInstancesInstancesRequested", 5.0, 300)
    assert det["ALARM_ARNS"] == outputs["AlarmArns"]
    assert "LG_MIN_INSTANCES" not in det, "thresholds come from the rule file alone"
    custom = client("cloudwatch").describe_alarms(AlarmNames=[CUSTOM_ALARM])["MetricAlarms"][0]
    assert (custom["Threshold"], custom["Period"], custom["EvaluationPeriods"], custom["DatapointsToAlarm"]) == (2.0, 600, 3, 1)
    subs = client("sns").list_subscriptions_by_topic(TopicArn=outputs["AlarmTopicArn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"].split(":")[-1]) for s in subs] == [("lambda", "launchguard-detector")]
    DEPLOYED.update(outputs=outputs, detector=det, dispatcher=disp)


def test_the_deployed_functions_run_the_custom_rule_and_playbook(localstack):
    """The detector and dispatcher binaries, started with the environment the deployment gave
    them (the settings; the names of the scenario's own keys, buckets and topics stand in for the
    stack's), on the deployed custom alarm: the report names the custom rule, which flags at 4
    users, and the dispatcher plans only what LG_USER_ACTIONS allows."""
    if not DEPLOYED:
        pytest.skip("the deployment above failed")
    sc = Scenario()
    sc.setup()
    settings = ("LG_RULES", "LG_USER_ACTIONS", "DRY_RUN", "ALARM_ARNS", "PROTECTED_PRINCIPALS")
    deployed = {k: v for fn in ("detector", "dispatcher") for k, v in DEPLOYED[fn].items() if k in settings}
    assert deployed["DRY_RUN"] == "true" and CUSTOM_ALARM in deployed["ALARM_ARNS"]
    # the deployed alarm notifies the stack's alarm topic; the scenario listens there too
    queue = sc._queue_for(DEPLOYED["outputs"]["AlarmTopicArn"], f"lg-deployed-alarms-{sc.suffix}")
    mallory = f"mallory-{sc.suffix}"
    sc.iam.create_user(UserName=mallory)
    key = sc.iam.create_access_key(UserName=mallory)["AccessKey"]["AccessKeyId"]
    watch = Watch(sc.function_env(**deployed))
    watch.start()
    try:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        # 4 CreateUser calls: the custom rule's threshold (the bundled rule's is 5)
        burst = iam_burst_spec(iam_user(ACCOUNT, mallory, key), "CreateUser", 4, now - dt.timedelta(minutes=2),
                               user_prefix=f"backdoor-{sc.suffix}")
        sc.put_cloudtrail(cloudtrail([], background_start=now - dt.timedelta(minutes=40), iam_bursts=[burst]))
        sc.cw.set_alarm_state(AlarmName=CUSTOM_ALARM, StateValue="ALARM", StateReason="Threshold Crossed: e2e")
        while True:
            message = sc.wait_message(queue, 60)
            notice = json.loads(message["Message"])
            if (notice.get("AlarmName"), notice.get("NewStateValue")) == (CUSTOM_ALARM, "ALARM"):
                break
        out = sc.bridge(message)
        assert out["error"] is None, out
        report = out["payload"]
        assert report["status"] == "dispatched", report
        assert report["alarm"] in CUSTOM_ALARM, report  # the alarm rendered from the custom rule; the rule id is checked on the record below
        verdicts = {p["principal"]: p["verdict"] for p in report["principals"]}
        assert verdicts[f"IAM user {mallory}"] == "flagged", verdicts
        records = [r for r in sc.incidents() if r.get("finding_id") == report["finding_id"]]
        assert len(records) == 1 and records[0]["finding"]["rule"] == CUSTOM_RULE, records
        planned = sorted({o["action"]["type"] for o in records[0]["outcomes"]})
        assert planned == ["deactivate_access_key"], planned
        assert {o["outcome"]["status"] for o in records[0]["outcomes"]} == {"dry_run"}
        assert sc.user_state(mallory)["keys"] == {key: "Active"}, "a dry run changes nothing"
    finally:
        watch.stop()
        sc.cw.set_alarm_state(AlarmName=CUSTOM_ALARM, StateValue="OK", StateReason="e2e done")
