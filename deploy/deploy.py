"""Deploy launchguard to an AWS account: `make deploy` (or `make deploy ARGS=--dry`).

0. the configuration (deploy/config.env, deploy/settings.py) validated and the rule file rendered
   (launchguard-render): nothing reaches AWS when either is refused;
1. the base stack (deploy/base.template.json, roles from policies/): topics, incident log group, dead-letter queue, one role per function;
2. the five functions with `cargo lambda build --release` and `cargo lambda deploy`, each with
   its role and environment (memory and timeout from the crates' [package.metadata.lambda.deploy]);
3. the wiring stack (deploy/wiring.template.json): the metric filters and alarms rendered from the
   rule file (one alarm per threshold of every rule, and one on counts that are not numbers per
   rule counting instances), alarm topic -> detector, invoke permissions,
   on-failure destinations.

Options: --dry (print the plan, change nothing), --stack-only (step 1 only),
--skip-build (use the zips already in target/lambda). Settings: deploy/config.env.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import render  # noqa: E402
import settings  # noqa: E402

FUNCTIONS = ["launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler", "launchguard-iam-handler",
             "launchguard-ec2-handler"]
ROLE_OUTPUT = {"launchguard-detector": "DetectorRoleArn", "launchguard-dispatcher": "DispatcherRoleArn",
               "launchguard-accesskey-handler": "AccessKeyHandlerRoleArn", "launchguard-iam-handler": "IamHandlerRoleArn",
               "launchguard-ec2-handler": "Ec2HandlerRoleArn"}
STREAM = "launchguard-stream"
# the stream's queue, as deploy/stream.template.json names it
STREAM_QUEUE = "launchguard-stream-events"
ROLE_OUTPUT[STREAM] = "StreamRoleArn"
EC2_ACTIONS = ("none", "stop", "terminate")


CONFIG = ROOT / "deploy/config.env"


def set_config(path: Path) -> None:
    global CONFIG
    CONFIG = path.resolve()


def read_config() -> dict[str, str]:
    """deploy/config.env (`--config` names another), each key overridden by an environment
    variable of the same name."""
    cfg = {}
    for n, line in enumerate(CONFIG.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise SystemExit(f"deploy: deploy/config.env line {n}: {line!r} is not KEY=VALUE")
        k, v = line.split("=", 1)
        cfg[k.strip()] = v.strip()
    for k in list(cfg):
        if k in os.environ:
            cfg[k] = os.environ[k]
    return cfg


def load_config() -> dict[str, str]:
    """The configuration, validated whole before any AWS call (deploy/settings.py): every problem
    is listed with its key and the fix."""
    cfg = read_config()
    errors = settings.validate(cfg)
    if errors:
        raise SystemExit("deploy: deploy/config.env is refused, nothing was deployed:\n" + "\n".join(f"  - {e}" for e in errors))
    cfg.setdefault("LG_CREATED_KEYS", "deactivate")
    cfg.setdefault("LG_EC2_ACTION", "none")
    return cfg


def protected_arns(patterns: str) -> list[str]:
    """PROTECTED_PRINCIPALS as the handlers' IAM deny needs them, rendered by the functions' own
    pattern code (render.protected_resources): IAM matches a Resource case-sensitively, with the
    path, and only as `arn:<partition>:iam::...`, so each pattern the code accepts is rewritten
    (service `iam`, no region, the kind in lower case, every form also at any path); case in a
    name is closed by the tag `launchguard:protected=true` (SECURITY.md). root and federated-user
    patterns are left out: no handler writes to them."""
    return render.protected_resources(patterns)


def base_parameters(cfg):
    return {
        "CloudTrailLogGroupName": cfg["CLOUDTRAIL_LOG_GROUP_NAME"], "CreateTrail": cfg.get("CREATE_TRAIL", "false"),
        "RecheckRateMinutes": cfg["RECHECK_RATE_MINUTES"], "IncidentRetentionDays": cfg["INCIDENT_RETENTION_DAYS"],
        "ReportRetentionDays": cfg.get("REPORT_RETENTION_DAYS", "400"),
        "NotificationEmail": cfg.get("NOTIFICATION_EMAIL", ""),
        # never empty: a Resource list cannot hold "" (launchguard's own roles are denied anyway)
        "ProtectedPrincipalArns": ",".join(protected_arns(cfg["PROTECTED_PRINCIPALS"])) or "arn:aws:iam::*:role/launchguard-*",
        "QuarantinePolicyArn": cfg["QUARANTINE_POLICY_ARN"],
        "ReleasePrincipals": cfg.get("RELEASE_PRINCIPALS", ""), "FindingSigners": cfg.get("FINDING_SIGNERS", ""),
        "AdminPrincipals": cfg.get("ADMIN_PRINCIPALS", ""), "Ec2Action": cfg["LG_EC2_ACTION"],
    }


def rules_text(cfg) -> str | None:
    """The rule file as the functions get it (None: the bundled rules, in every binary): its JSON
    compacted, one line, as `LG_RULES` (Lambda's environment holds 4 KB for all variables; see
    docs/configuration.md)."""
    path = cfg.get("LG_RULES_FILE")
    if not path:
        return None
    return json.dumps(json.loads((ROOT / path).read_text()), separators=(",", ":"))


def rules_digest(cfg, rendered: dict) -> str:
    """The SHA-256 the detector's start-up log names the deployed rules by (`rule set loaded`):
    of `LG_RULES` as deployed, or of the bundled file."""
    text = rules_text(cfg)
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else rendered["digest"]


def rules_env(cfg) -> dict[str, str]:
    """LG_RULES for the functions that read rules (detector, dispatcher); nothing for the bundled rules."""
    text = rules_text(cfg)
    return {} if text is None else {"LG_RULES": text}


def stream_queue(outputs) -> dict[str, str]:
    """The stream's own queue (StreamQueue of deploy/stream.template.json, in the base stack's
    partition, region and account): the stream function vouches only for messages whose
    `eventSourceARN` is it and whose receipt handles it accepts."""
    _, partition, _, region, account = outputs["NotificationTopicArn"].split(":")[:5]
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return {"LG_STREAM_QUEUE_ARN": f"arn:{partition}:sqs:{region}:{account}:{STREAM_QUEUE}",
            "LG_STREAM_QUEUE_URL": f"https://sqs.{region}.{domain}/{account}/{STREAM_QUEUE}"}


def function_env(cfg, outputs) -> dict[str, dict[str, str]]:
    """Each function's environment: the settings it reads (deploy/settings.py names which), and
    the names and ARNs of what the stacks created. Nothing it does not read."""
    # The handlers check commands with the command key and keep their replay record in the ledger.
    gate = {"COMMAND_KEY_ID": outputs["CommandKeyArn"], "LEDGER_BUCKET": outputs["LedgerBucketName"]}
    wired = {
        "launchguard-detector": {"DISPATCHER_LAMBDA_NAME": "launchguard-dispatcher", "FINDING_KEY_ID": outputs["FindingKeyArn"],
                                 # the only alarms the detector acts on: those rendered from the rule file
                                 "ALARM_ARNS": outputs["AlarmArns"], **rules_env(cfg)},
        "launchguard-dispatcher": {**gate, **rules_env(cfg), "ACCESS_KEY_HANDLER_LAMBDA_NAME": "launchguard-accesskey-handler",
                                   "IAM_HANDLER_LAMBDA_NAME": "launchguard-iam-handler", "EC2_HANDLER_LAMBDA_NAME": "launchguard-ec2-handler",
                                   "NOTIFICATION_TOPIC_ARN": outputs["NotificationTopicArn"], "INCIDENT_LOG_GROUP": outputs["IncidentLogGroupName"],
                                   "FINDING_KEY_ID": outputs["FindingKeyArn"], "RELEASE_KEY_ID": outputs["ReleaseKeyArn"],
                                   # the stream detector's own key: its findings' AWS-delivered records are trusted
                                   "STREAM_FINDING_KEY_ID": outputs["StreamFindingKeyArn"],
                                   "REPORT_BUCKET": outputs["ReportBucketName"]},
        "launchguard-accesskey-handler": gate,
        "launchguard-iam-handler": gate,
        "launchguard-ec2-handler": gate,
    }
    out = {fn: {**settings.function_settings(cfg, fn), **env} for fn, env in wired.items()}
    if cfg.get("STREAM_DETECTOR") == "true":
        # the detector's rules and thresholds, to the letter: one judgement for both paths
        same = {k: v for k, v in out["launchguard-detector"].items() if k in ("DRY_RUN", "LG_RULES", "LG_CONTAIN_INVOKED_BY_AWS_SERVICE")}
        out[STREAM] = {**same, "DISPATCHER_LAMBDA_NAME": "launchguard-dispatcher", "STREAM_FINDING_KEY_ID": outputs["StreamFindingKeyArn"],
                       "LG_STREAM_TABLE": "launchguard-stream", **stream_queue(outputs),
                       # paged when one of the stream's rules is not as rendered (the wiring stack's HealthTopic)
                       "LG_HEALTH_TOPIC_ARN": outputs["NotificationTopicArn"].rsplit(":", 1)[0] + ":launchguard-health"}
    for fn, env in out.items():
        size = sum(len(k) + len(v) for k, v in env.items())
        if size > settings.LAMBDA_ENV_LIMIT:
            raise SystemExit(f"deploy: {fn}'s environment is {size} bytes, over Lambda's {settings.LAMBDA_ENV_LIMIT}: the rule file "
                             f"(LG_RULES_FILE, passed as LG_RULES) is too large; shorten its descriptions or merge rules")
    return out


ENV_DIR = ROOT / "deploy/out/env"


def deployer_arn(boto3) -> str:
    """The IAM principal that deploys: a role session counts as its role (what aws:PrincipalArn says)."""
    arn = boto3.client("sts", endpoint_url=os.environ.get("AWS_ENDPOINT_URL")).get_caller_identity()["Arn"]
    if ":assumed-role/" in arn:
        head, rest = arn.split(":assumed-role/", 1)
        return f"{head.replace(':sts:', ':iam:')}:role/{rest.split('/')[0]}"
    return arn


def env_line(fn: str, k: str, v: str) -> str:
    """One line of an env file as cargo lambda reads it (dotenv): the value single-quoted, so that
    it is taken as written (an unquoted JSON rule set is a parse error; double quotes would expand
    `$`). A single quote cannot be carried: in the rule set's JSON it is written \\u0027, which
    JSON reads back as the same character; any other value holding one is refused."""
    if k == "LG_RULES":
        v = v.replace("'", "\\u0027")
    if "'" in v:
        raise SystemExit(f"deploy: {k} for {fn} holds a single quote, which an env file cannot carry: {v!r}")
    return f"{k}='{v}'\n"


def deploy_commands(cfg, outputs) -> list[tuple[list[str], Path, str]]:
    """Each function's `cargo lambda deploy` command, with its environment in a file: `--env-var`
    splits values at commas, and ALARM_ARNS or PROTECTED_PRINCIPALS hold commas."""
    endpoint = ["--endpoint-url", os.environ["AWS_ENDPOINT_URL"]] if os.environ.get("AWS_ENDPOINT_URL") else []
    cmds = []
    for fn, env in function_env(cfg, outputs).items():
        for k, v in env.items():
            if "\n" in v or "\r" in v:
                raise SystemExit(f"deploy: {k} for {fn} holds a line break: {v!r}")
        path = ENV_DIR / f"{fn}.env"
        text = "".join(env_line(fn, k, v) for k, v in env.items())
        cmds.append((["cargo", "lambda", "deploy", *endpoint, "--iam-role", outputs[ROLE_OUTPUT[fn]], "--env-file", str(path.relative_to(ROOT)), fn], path, text))
    return cmds


def stack(cf, name: str, template: Path, params: dict[str, str]) -> dict[str, str]:
    """Create or update a stack and wait; returns its outputs."""
    args = dict(StackName=name, TemplateBody=template.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"],
                Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in params.items()])
    try:
        cf.describe_stacks(StackName=name)
        exists = True
    except cf.exceptions.ClientError:
        exists = False
    try:
        if exists:
            cf.update_stack(**args)
            cf.get_waiter("stack_update_complete").wait(StackName=name)
        else:
            cf.create_stack(**args)
            cf.get_waiter("stack_create_complete").wait(StackName=name)
    except cf.exceptions.ClientError as e:
        if "No updates are to be performed" not in str(e):
            raise
    out = cf.describe_stacks(StackName=name)["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in out}


def remove(name: str) -> int:
    import boto3
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    cf, lam = boto3.client("cloudformation", endpoint_url=endpoint), boto3.client("lambda", endpoint_url=endpoint)
    for stack_name in (f"{name}-stream", f"{name}-wiring"):
        print(f"[undeploy] stack {stack_name} ...", flush=True)
        cf.delete_stack(StackName=stack_name)
        cf.get_waiter("stack_delete_complete").wait(StackName=stack_name)
    for fn in [*FUNCTIONS, STREAM]:
        print(f"[undeploy] function {fn} ...", flush=True)
        try:
            lam.delete_function(FunctionName=fn)
        except lam.exceptions.ResourceNotFoundException:
            pass
    print(f"[undeploy] stack {name} (the incident log group /launchguard/incidents is retained) ...", flush=True)
    cf.delete_stack(StackName=name)
    cf.get_waiter("stack_delete_complete").wait(StackName=name)
    return 0


def reserve_detector(boto3, cfg) -> None:
    """Reserved concurrency for the detector: a burst of other functions cannot throttle it out of
    the account's pool. An account whose limit cannot spare it (new accounts have 10) is told so."""
    n = int(cfg.get("DETECTOR_RESERVED_CONCURRENCY", "5"))
    lam = boto3.client("lambda", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    try:
        lam.put_function_concurrency(FunctionName="launchguard-detector", ReservedConcurrentExecutions=n)
        print(f"[deploy] launchguard-detector: reserved concurrency {n}", flush=True)
    except lam.exceptions.ClientError as e:
        print(f"[deploy] WARNING: could not reserve concurrency {n} for launchguard-detector ({e}): raise the account's "
              "Lambda concurrency quota, or set DETECTOR_RESERVED_CONCURRENCY", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry", action="store_true", help="print the plan, change nothing")
    ap.add_argument("--stack-only", action="store_true", help="deploy the base stack only")
    ap.add_argument("--skip-build", action="store_true", help="use the zips already built")
    ap.add_argument("--config", default=str(CONFIG), help="the settings file (default deploy/config.env)")
    ap.add_argument("--remove", action="store_true", help="delete the wiring stack, the five functions and the base stack (incident records are kept)")
    a = ap.parse_args()
    set_config(Path(a.config))
    if a.remove:
        # the stack `make deploy` created: STACK_NAME of deploy/config.env (or the environment)
        name = read_config().get("STACK_NAME") or "launchguard"
        problem = settings.SETTINGS["STACK_NAME"].check(name)
        if problem:
            raise SystemExit(f"deploy: STACK_NAME is {name!r}: expected {problem}")
        if a.dry:
            print(f"would delete the stack {name}-wiring, the functions {', '.join(FUNCTIONS)}, then the stack {name}")
            return 0
        return remove(name)
    cfg = load_config()
    base, wiring, stream_template = render.render(ROOT / "deploy/out", cfg.get("LG_RULES_FILE") or None)
    alarms = render.rendered(cfg.get("LG_RULES_FILE") or None)
    name = cfg["STACK_NAME"]
    if a.dry:
        print(f"0. rules {alarms['origin']} (sha256 {rules_digest(cfg, alarms)}, as the detector's start-up log names them): "
              f"{', '.join(alarms['rules'])}; alarms rendered from them:")
        for line in alarms["describe"]:
            print(f"     {line}")
        placeholder = {k: f"<{k} from stack {name}>" for k in [*ROLE_OUTPUT.values(), "NotificationTopicArn", "IncidentLogGroupName",
                                                                 "CommandKeyArn", "FindingKeyArn", "StreamFindingKeyArn", "ReleaseKeyArn", "LedgerBucketName", "ReportBucketName", "AlarmArns"]}
        print(f"1. CloudFormation stack {name} from {base.relative_to(ROOT)} with:")
        for k, v in base_parameters(cfg).items():
            print(f"     {k}={v}")
        print("2. cargo lambda build --release --output-format zip, then:")
        for c, path, text in deploy_commands(cfg, placeholder):
            print("     " + shlex.join(c))
            print("".join(f"         {line}\n" for line in text.splitlines()), end="")
        print(f"3. CloudFormation stack {name}-wiring from {wiring.relative_to(ROOT)}")
        if cfg.get("STREAM_DETECTOR") == "true":
            print(f"4. CloudFormation stack {name}-stream from {stream_template.relative_to(ROOT)} (EventBridge rules, SQS, DynamoDB)")
        print(f"DRY_RUN={cfg['DRY_RUN']}: " + ("launchguard will only report, never change IAM" if cfg["DRY_RUN"] == "true" else "launchguard WILL contain principals"))
        return 0
    import boto3
    if not cfg.get("ADMIN_PRINCIPALS"):
        cfg["ADMIN_PRINCIPALS"] = deployer_arn(boto3)
        print(f"[deploy] ADMIN_PRINCIPALS not set: {cfg['ADMIN_PRINCIPALS']} (you) alone may administer the keys, ledger bucket and alarm topic", flush=True)
    cf = boto3.client("cloudformation", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    print(f"[deploy] stack {name} ...", flush=True)
    outputs = stack(cf, name, base, base_parameters(cfg))
    for k, v in sorted(outputs.items()):
        print(f"  {k} = {v}")
    if a.stack_only:
        return 0
    tools = {**os.environ, "PATH": f"{ROOT / '.venv-tools/bin'}:{os.environ['PATH']}"}
    if not a.skip_build:
        print("[deploy] cargo lambda build --release (several minutes on 2 cores) ...", flush=True)
        subprocess.run(["cargo", "lambda", "build", "--release", "--output-format", "zip", "--bins", "--locked"], cwd=ROOT, env=tools, check=True)
    for c, path, text in deploy_commands(cfg, outputs):
        print(f"[deploy] {c[-1]} ...", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        subprocess.run(c, cwd=ROOT, env=tools, check=True)
    print(f"[deploy] stack {name}-wiring ...", flush=True)
    stack(cf, f"{name}-wiring", wiring, {"AlarmTopicArn": outputs["AlarmTopicArn"], "CloudTrailLogGroupName": cfg["CLOUDTRAIL_LOG_GROUP_NAME"], "RecheckRuleArn": outputs["RecheckRuleArn"],
                                         "FailedEventsQueueArn": outputs["FailedEventsQueueArn"],
                                         "DetectorRoleArn": outputs["DetectorRoleArn"], "DispatcherRoleArn": outputs["DispatcherRoleArn"],
                                         "NotificationEmail": cfg.get("NOTIFICATION_EMAIL", ""), "AdminPrincipals": cfg["ADMIN_PRINCIPALS"]})
    if cfg.get("STREAM_DETECTOR") == "true":
        print(f"[deploy] stack {name}-stream ...", flush=True)
        stack(cf, f"{name}-stream", stream_template, {"StreamRoleArn": outputs["StreamRoleArn"], "AdminPrincipals": cfg["ADMIN_PRINCIPALS"]})
    reserve_detector(boto3, cfg)
    print(f"[deploy] done. DRY_RUN={cfg['DRY_RUN']}. Remove with: make undeploy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
