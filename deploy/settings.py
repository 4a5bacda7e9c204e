"""Every setting of launchguard's stack and functions: its functions, its check, what it does.

deploy/config.env holds them (an environment variable of the same name overrides a value);
`make deploy` validates the whole file with `validate` before any AWS call: an unknown key, a bad
value or a contradiction is refused with the key and the fix. A function setting reaches exactly
the functions that read it (`FUNCTIONS` below; e2e/test_config.py checks the list against the code).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DET, DISP, KEYS, IAM, EC2 = ("launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler",
                             "launchguard-iam-handler", "launchguard-ec2-handler")
HANDLERS = (KEYS, IAM, EC2)
ALL = (DET, DISP, *HANDLERS)
ACTIONS_USER = {"deactivate_access_keys", "quarantine_user", "none"}
ACTIONS_ROLE = {"revoke_role_sessions", "none"}
ARN_PRINCIPAL = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
ARN_PATTERN = re.compile(r"^arn:aws(-cn|-us-gov|\*)?:(iam|sts)::(\d{12}|\*):[\w+=,.@/*-]+$")


def _int(lo: int, hi: int):
    def check(v: str) -> str | None:
        return None if v.isdigit() and lo <= int(v) <= hi else f"a whole number from {lo} to {hi}"
    return check


def _choice(*allowed: str):
    return lambda v: None if v in allowed else " or ".join(allowed)


def _list(check_one, what: str):
    def check(v: str) -> str | None:
        bad = [x for x in (y.strip() for y in v.split(",")) if x and not check_one(x)]
        return f"{what}, comma-separated (not {bad[0]!r})" if bad else None
    return check


def _any(v: str) -> str | None:
    return None


def _actions(allowed: set[str]):
    def check(v: str) -> str | None:
        got = {x.strip() for x in v.split(",") if x.strip()}
        return None if got and got <= allowed else "some of " + ", ".join(sorted(allowed))
    return check


def _rules_file(v: str) -> str | None:
    if not v:
        return None
    path = ROOT / v
    if not path.is_file():
        return f"a rule file relative to the repository ({path} does not exist)"
    try:
        json.loads(path.read_text())
    except ValueError as e:
        return f"a JSON rule file ({e})"
    return None


@dataclass(frozen=True)
class Setting:
    functions: tuple[str, ...]  # () : the stack's (deploy's own) setting
    check: object
    doc: str


BOOL = _choice("true", "false")
SETTINGS: dict[str, Setting] = {
    # the stack
    "CLOUDTRAIL_LOG_GROUP_NAME": Setting((DET,), lambda v: None if re.fullmatch(r"[\w#./-]{1,512}", v) else "a log group name", "the log group your trail delivers to (required)"),
    "CREATE_TRAIL": Setting((), BOOL, "also create a multi-region trail, its bucket and that log group"),
    "STACK_NAME": Setting((), lambda v: None if re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,100}", v) else "a stack name: a letter, then letters, digits and -", "the CloudFormation stacks' name (`make undeploy` removes the same)"),
    "RELEASE_PRINCIPALS": Setting((), _list(ARN_PRINCIPAL.match, "IAM role or user ARNs"), "who may release a containment"),
    "ADMIN_PRINCIPALS": Setting((), _list(ARN_PRINCIPAL.match, "IAM role or user ARNs"), "who alone may administer launchguard's keys, buckets and topics"),
    "FINDING_SIGNERS": Setting((), _list(ARN_PRINCIPAL.match, "IAM role ARNs"), "your own detectors allowed to send findings"),
    "RECHECK_RATE_MINUTES": Setting((), _int(1, 30), "while an alarm stays in ALARM, the detector looks again every this many minutes (at most 30: a re-check of a 5-minute alarm reads 45 minutes back, 15 of them for late delivery)"),
    "NOTIFICATION_EMAIL": Setting((), lambda v: None if not v or re.fullmatch(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+", v) else "an e-mail address", "where notifications go by e-mail"),
    "INCIDENT_RETENTION_DAYS": Setting((), _choice("30", "90", "180", "365", "400", "731", "1827", "3653"), "how long incident records are kept"),
    "REPORT_RETENTION_DAYS": Setting((), _int(1, 3653), "how long incident reports are kept"),
    "DETECTOR_RESERVED_CONCURRENCY": Setting((), _int(0, 1000), "concurrent executions reserved for the detector"),
    "STREAM_DETECTOR": Setting((), BOOL, "also deploy the stream detector (EventBridge, SQS, DynamoDB, launchguard-stream; docs/stream.md): "
                                         "containment in seconds beside the alarm chain"),
    # every function
    "DRY_RUN": Setting(ALL, BOOL, "report only, change nothing"),
    "PROTECTED_PRINCIPALS": Setting((DISP, *HANDLERS), _list(ARN_PATTERN.match, "IAM ARN patterns with *"),
                                    "the principals launchguard never touches: the functions' patterns and the handlers' IAM deny are rendered from this one setting"),
    "ALLOWED_ACCOUNTS": Setting((DISP, *HANDLERS), _list(lambda x: re.fullmatch(r"\d{12}", x), "12-digit account ids"), "other accounts findings may be about"),
    # detector
    "LG_RULES_FILE": Setting((DET, DISP), _rules_file, "the rule file: what is detected, and the only source of the alarms"),
    "LG_READ_METHOD": Setting((DET,), _choice("insights", "filter_log_events"), "how the detector reads the window"),
    "LG_QUERY_DEADLINE_SECONDS": Setting((DET,), _int(1, 90), "overall time for reading (at most 90: the detector's timeout is 120 s, and it reports what a cut read missed)"),
    "LG_INSIGHTS_LIMIT": Setting((DET,), _int(1, 10000), "rows per Insights query before the range is split"),
    "LG_POLL_INITIAL_MS": Setting((DET,), _int(1, 10000), "GetQueryResults backoff, first"),
    "LG_POLL_MAX_MS": Setting((DET,), _int(1, 30000), "GetQueryResults backoff, longest"),
    "LG_WINDOW_MARGIN_BEFORE_SECONDS": Setting((DET,), _int(0, 86400), "read this much before the alarm's window"),
    "LG_WINDOW_MARGIN_AFTER_SECONDS": Setting((DET,), _int(0, 86400), "read this much after it"),
    "LG_FALLBACK_LOOKBACK_SECONDS": Setting((DET,), _int(60, 604800), "the wider window read once when the first does not explain the alarm"),
    "LG_MAX_ALARM_AGE_SECONDS": Setting((DET,), _int(60, 86400), "an older alarm state is a late redelivery"),
    "LG_CONTAIN_INVOKED_BY_AWS_SERVICE": Setting((DET,), BOOL, "count launches AWS itself made through a service-linked role"),
    "LG_ACCOUNT_ID": Setting((DET,), lambda v: None if re.fullmatch(r"\d{12}", v) else "a 12-digit account id", "the detector's account (emulators only)"),
    # dispatcher
    "LG_USER_ACTIONS": Setting((DISP,), _actions(ACTIONS_USER), "narrow the playbook for users"),
    "LG_ROLE_ACTIONS": Setting((DISP,), _actions(ACTIONS_ROLE), "narrow the playbook for roles"),
    "LG_EC2_ACTION": Setting((DISP,), _choice("none", "stop", "terminate"), "the instances a contained principal launched: none, stop or terminate (cannot be undone)"),
    "LG_CREATED_KEYS": Setting((DISP,), _choice("deactivate", "none"), "the access keys a contained principal created"),
    "LG_MAX_CONCURRENCY": Setting((DISP,), _int(1, 64), "handler invocations at once"),
    "LG_CLAIM_WAIT_SECONDS": Setting((DISP,), _int(0, 40), "wait for an action another delivery claimed"),
    "LG_CONFIRM_WAIT_SECONDS": Setting((DISP,), _int(0, 60), "look a finding's records up in CloudTrail this long"),
    "LG_MAX_FINDING_AGE_SECONDS": Setting((DISP,), _int(60, 21600), "oldest sealed finding accepted"),
    "LG_MAX_RELEASE_AGE_SECONDS": Setting((DISP,), _int(60, 3600), "oldest sealed release accepted"),
    "LG_REPORT_URL_SECONDS": Setting((DISP,), _int(60, 604800), "how long the notification's link to the report works"),
    # handlers
    "LG_LONG_TERM_KEY_PREFIXES": Setting((DISP, KEYS), _list(lambda x: re.fullmatch(r"[A-Z]{4}", x), "4-letter key id prefixes"), "key prefixes that may be deactivated"),
    "LG_MAX_COMMAND_AGE_SECONDS": Setting(HANDLERS, _int(60, 3600), "oldest sealed command a handler accepts"),
    "QUARANTINE_POLICY_ARN": Setting((IAM,), lambda v: None if re.fullmatch(r"arn:aws(-cn|-us-gov)?:iam::aws:policy/AWSCompromisedKeyQuarantineV\d+", v) else "an AWSCompromisedKeyQuarantineV<n> ARN", "the AWS managed quarantine policy"),
}
# Read by the functions, and never a setting: rule thresholds come from the rule file alone
# (the alarms are rendered from it), so these overrides of it are refused.
REFUSED = {
    "LG_MIN_INSTANCES": "set the threshold in the rule file (LG_RULES_FILE): the alarms are rendered from it",
    "LG_MIN_FAILED_CALLS": "set min_failed_calls in the rule file (LG_RULES_FILE): the alarms are rendered from it",
    "LG_EXCLUDE_AWS_SERVICES": "set exclude_aws_services in the rule file (LG_RULES_FILE)",
    "LG_RULES": "name the rule file with LG_RULES_FILE: deploy passes it to the functions",
    "ALARM_THRESHOLD": "alarm thresholds are rendered from the rule file (LG_RULES_FILE); remove the line",
    "INSTANCES_ALARM_THRESHOLD": "alarm thresholds are rendered from the rule file (LG_RULES_FILE); remove the line",
}
# Set by deploy itself (names and ARNs of what the stack created) or by Lambda.
WIRED = {"ALARM_ARNS", "DISPATCHER_LAMBDA_NAME", "FINDING_KEY_ID", "STREAM_FINDING_KEY_ID", "RELEASE_KEY_ID", "COMMAND_KEY_ID", "LEDGER_BUCKET", "REPORT_BUCKET",
         "NOTIFICATION_TOPIC_ARN", "INCIDENT_LOG_GROUP", "ACCESS_KEY_HANDLER_LAMBDA_NAME", "IAM_HANDLER_LAMBDA_NAME", "EC2_HANDLER_LAMBDA_NAME"}
RUNTIME = {"AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"}
LAMBDA_ENV_LIMIT = 4096


def validate(cfg: dict[str, str]) -> list[str]:
    """Every problem of a configuration, each naming the key and the fix (empty: valid)."""
    errors = []
    for key, value in cfg.items():
        if key in REFUSED:
            errors.append(f"{key} is not a setting: {REFUSED[key]}")
        elif key not in SETTINGS:
            near = [k for k in SETTINGS if k.split("_")[-1] == key.split("_")[-1]][:3]
            errors.append(f"{key} is not a setting" + (f" (did you mean {', '.join(near)}?)" if near else "") + ": remove it (docs/configuration.md lists every setting)")
        elif value:
            problem = SETTINGS[key].check(value)
            if problem:
                errors.append(f"{key} is {value!r}: expected {problem}")
    if not cfg.get("CLOUDTRAIL_LOG_GROUP_NAME"):
        errors.append("CLOUDTRAIL_LOG_GROUP_NAME is not set: put the log group your trail delivers to in deploy/config.env "
                      "(or set CREATE_TRAIL=true and name the log group to create)")
    # contradictions
    if cfg.get("LG_EC2_ACTION") in ("stop", "terminate") and cfg.get("LG_USER_ACTIONS", "").strip() == "none" and cfg.get("LG_ROLE_ACTIONS", "").strip() == "none":
        errors.append(f"LG_EC2_ACTION is {cfg['LG_EC2_ACTION']} while LG_USER_ACTIONS and LG_ROLE_ACTIONS are none: nobody is contained, so no "
                      "instance is stopped; set LG_EC2_ACTION=none or allow an action")
    release = {x.strip() for x in cfg.get("RELEASE_PRINCIPALS", "").split(",") if x.strip()}
    signers = {x.strip() for x in cfg.get("FINDING_SIGNERS", "").split(",") if x.strip()}
    if release & signers:
        errors.append(f"RELEASE_PRINCIPALS and FINDING_SIGNERS both name {sorted(release & signers)[0]}: who sends findings must not release them; "
                      "remove it from one")
    return errors


def function_settings(cfg: dict[str, str], function: str) -> dict[str, str]:
    """The settings `function` reads that the configuration sets (empty values are left to the
    function's default)."""
    return {k: v for k, v in cfg.items() if v and k in SETTINGS and function in SETTINGS[k].functions and k != "LG_RULES_FILE"}
