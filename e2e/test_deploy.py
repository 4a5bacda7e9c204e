"""`cargo lambda deploy --endpoint-url` against LocalStack, for each function.

LocalStack cannot run the functions on these machines (they go to State=Failed), but deployment,
runtime, memory, timeout, role and environment are real and are checked here through
GetFunctionConfiguration. Memory and timeout come from each crate's
`[package.metadata.lambda.deploy]`.
"""
import json
import os
import subprocess
import uuid

import pytest

from harness import ACCOUNT, ENDPOINT, REGION, ROOT, client

FUNCTIONS = {
    "launchguard-detector": (256, 120, {"CLOUDTRAIL_LOG_GROUP_NAME": "/aws/cloudtrail/org", "DISPATCHER_LAMBDA_NAME": "launchguard-dispatcher"}),
    "launchguard-dispatcher": (256, 300, {"ACCESS_KEY_HANDLER_LAMBDA_NAME": "launchguard-accesskey-handler", "IAM_HANDLER_LAMBDA_NAME": "launchguard-iam-handler",
                                          "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:launchguard-notifications", "INCIDENT_LOG_GROUP": "/launchguard/incidents"}),
    "launchguard-accesskey-handler": (128, 60, {"PROTECTED_PRINCIPALS": "arn:aws:iam::*:user/breakglass-*"}),
    "launchguard-iam-handler": (128, 60, {"PROTECTED_PRINCIPALS": "arn:aws:iam::*:user/breakglass-*"}),
}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_cargo_lambda_deploy_configures_the_function(localstack, function):
    memory, timeout, env = FUNCTIONS[function]
    iam, lam = client("iam"), client("lambda")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"{function}-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    # LocalStack cannot update a function that never ran: deploy into a clean slate
    try:
        lam.delete_function(FunctionName=function)
    except lam.exceptions.ResourceNotFoundException:
        pass
    env = {**env, "DRY_RUN": "true"}
    cmd = ["cargo", "lambda", "deploy", "--endpoint-url", ENDPOINT, "--iam-role", role]
    for k, v in env.items():
        cmd += ["--env-var", f"{k}={v}"]
    cmd.append(function)
    run_env = {**os.environ, "PATH": f"{ROOT / '.venv-tools/bin'}:{os.environ['PATH']}", "AWS_REGION": REGION,
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    out = subprocess.run(cmd, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    cfg = lam.get_function_configuration(FunctionName=function)
    assert cfg["Runtime"] == "provided.al2023"
    assert cfg["Handler"] == "bootstrap"
    assert (cfg["MemorySize"], cfg["Timeout"]) == (memory, timeout)
    assert cfg["Role"] == role
    assert env.items() <= cfg["Environment"]["Variables"].items(), cfg["Environment"]
