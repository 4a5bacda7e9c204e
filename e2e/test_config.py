"""Issue 30, items 5 and 6: what you configure is what runs. Offline (no LocalStack): every
variable a function reads, taken from its code, can be set through deploy/config.env (or is
wired by deploy itself); `make deploy` refuses a bad configuration before any AWS call, naming
the key and the fix; each function gets exactly the settings it reads; the settings table of
docs/configuration.md is the code's; `make undeploy` removes the stacks by deploy's STACK_NAME.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import deploy  # noqa: E402
import settings  # noqa: E402

# A configuration variable read by the code: a SCREAMING_SNAKE literal passed as an argument
# (`env.get("X")`, `u64_var(env, "X", ...)`, `required(env, "X", ...)`, `age("X", ...)`) or a
# `const NAME: &str = "X"` of a typed variable. Test modules are left out.
READ = re.compile(r'[(,]\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"|const [A-Z_]*NAME: &str = "([A-Z][A-Z0-9_]+)"')
NOT_VARIABLES = {"INSUFFICIENT_DATA"}  # an alarm state compared in core, not read from the environment
CRATES = {settings.DET: ["detector"], settings.DISP: ["responder-dispatcher"],
          settings.KEYS: ["accesskey-handler"], settings.IAM: ["iam-handler"], settings.EC2: ["ec2-handler"]}
# The shared libraries: which functions run the code that reads each of their variables.
SHARED = {"responder": settings.HANDLERS, "aws": settings.HANDLERS}
CORE_READERS = {
    "PROTECTED_PRINCIPALS": (settings.DISP, *settings.HANDLERS), "ALLOWED_ACCOUNTS": (settings.DISP, *settings.HANDLERS),
    "LG_LONG_TERM_KEY_PREFIXES": (settings.DISP, settings.KEYS),
    "LG_RULES": (settings.DET, settings.DISP), "LG_RULES_FILE": (settings.DET, settings.DISP),
    "LG_WINDOW_MARGIN_BEFORE_SECONDS": (settings.DET,), "LG_WINDOW_MARGIN_AFTER_SECONDS": (settings.DET,),
    "LG_FALLBACK_LOOKBACK_SECONDS": (settings.DET,), "LG_CONTAIN_INVOKED_BY_AWS_SERVICE": (settings.DET,),
    "LG_MIN_INSTANCES": (settings.DET,), "LG_MIN_FAILED_CALLS": (settings.DET,), "LG_EXCLUDE_AWS_SERVICES": (settings.DET,),
}


def variables(crate: str) -> set[str]:
    names = set()
    for f in (ROOT / "crates" / crate / "src").rglob("*.rs"):
        text = f.read_text().split("#[cfg(test)]")[0]
        names |= {m.group(1) or m.group(2) for m in READ.finditer(text)}
    return names - NOT_VARIABLES


def reads() -> dict[str, set[str]]:
    """Each function's variables, from the code."""
    out = {fn: set().union(*(variables(c) for c in crates)) for fn, crates in CRATES.items()}
    for lib, fns in SHARED.items():
        for fn in fns:
            out[fn] |= variables(lib)
    core = variables("core")
    unknown = core - set(CORE_READERS)
    assert not unknown, f"core reads {sorted(unknown)}: say which functions run that code in CORE_READERS"
    for name in core:
        for fn in CORE_READERS[name]:
            out[fn].add(name)
    return out


def test_every_variable_a_function_reads_can_be_set_through_deploy():
    found = reads()
    assert "LG_READ_METHOD" in found[settings.DET] and "LG_USER_ACTIONS" in found[settings.DISP], "the scan finds the reads"
    assert "LG_MAX_COMMAND_AGE_SECONDS" in found[settings.KEYS] and "QUARANTINE_POLICY_ARN" in found[settings.IAM]
    unreachable = []
    for fn, names in found.items():
        for name in sorted(names):
            if name in settings.WIRED or name in settings.RUNTIME or name in settings.REFUSED:
                continue
            s = settings.SETTINGS.get(name)
            # a handler library's variable is set for the handlers that act with it
            if s is None or (fn not in s.functions and not (fn in settings.HANDLERS and set(s.functions) & set(settings.HANDLERS))):
                unreachable.append(f"{fn} reads {name}, which deploy/config.env cannot set for it")
    assert not unreachable, "\n".join(unreachable)
    # the other way: a setting reaches only functions that read it
    for name, s in settings.SETTINGS.items():
        for fn in s.functions:
            assert name in found[fn], f"{name} is passed to {fn}, which never reads it"
    # refused variables name what to set instead, and every setting is in the one file
    assert all("LG_RULES_FILE" in why or "rule file" in why for why in settings.REFUSED.values())
    assert set(settings.SETTINGS) <= set(deploy.read_config()), "every setting has its line in deploy/config.env"


def test_each_function_gets_exactly_the_settings_it_reads():
    cfg = {**deploy.read_config(), "CLOUDTRAIL_LOG_GROUP_NAME": "/aws/ct", "LG_READ_METHOD": "filter_log_events",
           "LG_MAX_COMMAND_AGE_SECONDS": "600", "LG_USER_ACTIONS": "deactivate_access_keys", "ALLOWED_ACCOUNTS": "111122223333"}
    outputs = {k: f"<{k}>" for k in ["CommandKeyArn", "LedgerBucketName", "FindingKeyArn", "StreamFindingKeyArn", "AlarmArns", "NotificationTopicArn",
                                      "IncidentLogGroupName", "ReleaseKeyArn", "ReportBucketName"]}
    env = deploy.function_env(cfg, outputs)
    found = reads()
    for fn, variables_ in env.items():
        extra = set(variables_) - found[fn]
        assert not extra, f"{fn} is given {sorted(extra)}, which it does not read"
    assert env[settings.DET]["LG_READ_METHOD"] == "filter_log_events" and "LG_READ_METHOD" not in env[settings.DISP]
    assert all(env[h]["LG_MAX_COMMAND_AGE_SECONDS"] == "600" for h in settings.HANDLERS)
    assert env[settings.DISP]["LG_USER_ACTIONS"] == "deactivate_access_keys"
    # the protected list is one setting: the functions' patterns and the IAM deny come from it
    assert all(env[f]["PROTECTED_PRINCIPALS"] == cfg["PROTECTED_PRINCIPALS"] for f in (settings.DISP, *settings.HANDLERS))
    assert deploy.base_parameters(cfg)["ProtectedPrincipalArns"].startswith(cfg["PROTECTED_PRINCIPALS"].split(",")[0])


def run_deploy(tmp_path, text: str, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "config.env"
    config.write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in settings.SETTINGS and not k.startswith("AWS_")}
    # no AWS at all: an endpoint nobody listens on, so any call would fail loudly
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    return subprocess.run([sys.executable, str(ROOT / "deploy/deploy.py"), "--config", str(config), *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_deploy_refuses_a_bad_configuration_before_any_aws_call(tmp_path):
    good = (ROOT / "deploy/config.env").read_text().replace("CLOUDTRAIL_LOG_GROUP_NAME=\n", "CLOUDTRAIL_LOG_GROUP_NAME=/aws/cloudtrail/x\n")
    bad = good + "LG_MIN_INSTANCES=5\nALARM_TRESHOLD=3\n"
    bad = bad.replace("LG_EC2_ACTION=none", "LG_EC2_ACTION=kill").replace("LG_QUERY_DEADLINE_SECONDS=\n", "LG_QUERY_DEADLINE_SECONDS=9000\n")
    out = run_deploy(tmp_path, bad)
    assert out.returncode != 0
    for needle in ("nothing was deployed", "LG_MIN_INSTANCES is not a setting: set the threshold in the rule file",
                   "ALARM_TRESHOLD is not a setting", "LG_EC2_ACTION is 'kill': expected none or stop or terminate",
                   "LG_QUERY_DEADLINE_SECONDS is '9000': expected a whole number from 1 to 90"):
        assert needle in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "[deploy] stack" not in out.stdout
    # a contradiction
    out = run_deploy(tmp_path, good.replace("LG_EC2_ACTION=none", "LG_EC2_ACTION=stop").replace("LG_USER_ACTIONS=\n", "LG_USER_ACTIONS=none\n")
                     .replace("LG_ROLE_ACTIONS=\n", "LG_ROLE_ACTIONS=none\n"))
    assert out.returncode != 0 and "LG_EC2_ACTION is stop while LG_USER_ACTIONS and LG_ROLE_ACTIONS are none" in out.stderr, out.stderr
    # a rule file the alarms cannot be rendered from
    rules = tmp_path / "rules.json"
    rules.write_text((ROOT / "crates/core/rules/default.json").read_text().replace('"launchguard-runinstances*"', '"launchguard-runinstances"'))
    out = run_deploy(tmp_path, good.replace("LG_RULES_FILE=\n", f"LG_RULES_FILE={rules}\n"), "--dry")
    assert out.returncode != 0 and "ec2-mass-launch: field alarms" in out.stderr and "end the name with *" in out.stderr, out.stderr


def test_a_custom_rule_file_reaches_the_functions_and_its_alarms(tmp_path):
    """Attack of issue 30: a custom rule in the configuration that never reached the detector
    (main passed 4 settings and no rule). Now the plan names the rule file by its digest, renders
    its alarms, and gives it to the detector and the dispatcher."""
    rules = tmp_path / "rules.json"
    text = (ROOT / "crates/core/rules/default.json").read_text().replace('"id": "iam-user-burst"', '"id": "iam-user-burst-custom"')
    rules.write_text(text)
    good = (ROOT / "deploy/config.env").read_text().replace("CLOUDTRAIL_LOG_GROUP_NAME=\n", "CLOUDTRAIL_LOG_GROUP_NAME=/aws/cloudtrail/x\n")
    out = run_deploy(tmp_path, good.replace("LG_RULES_FILE=\n", f"LG_RULES_FILE={rules}\n"), "--dry")
    assert out.returncode == 0, out.stderr
    import hashlib
    # the digest of the rules as deployed (LG_RULES, compacted): what the detector's start-up log names
    deployed = json.dumps(json.loads(text), separators=(",", ":"))
    assert f"sha256 {hashlib.sha256(deployed.encode()).hexdigest()}" in out.stdout, out.stdout
    assert "iam-user-burst-custom: 5 calls within 10 min -> launchguard-iam-user-burst-calls-10m" in out.stdout, out.stdout
    det = out.stdout.split("launchguard-detector.env launchguard-detector")[1].split("cargo lambda deploy")[0]
    assert "LG_RULES=" in det and "iam-user-burst-custom" in det, det


def test_undeploy_removes_the_stack_deploy_created(tmp_path):
    good = (ROOT / "deploy/config.env").read_text().replace("STACK_NAME=launchguard\n", "STACK_NAME=lg-prod\n")
    out = run_deploy(tmp_path, good, "--remove", "--dry")
    assert out.returncode == 0, out.stderr
    assert "the stack lg-prod-wiring" in out.stdout and out.stdout.rstrip().endswith("then the stack lg-prod"), out.stdout


def test_the_settings_table_is_the_codes():
    """Item 6: docs/configuration.md's table of deploy settings names every setting, the functions
    that read it (as deploy passes it) and what it does; and every variable the code reads is in
    the document."""
    doc = (ROOT / "docs/configuration.md").read_text()
    table = doc.split("## Every setting")[1].split("\n## ")[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    assert set(rows) == set(settings.SETTINGS), set(rows) ^ set(settings.SETTINGS)
    for name, (_, functions, default, what) in rows.items():
        want = ", ".join(f.removeprefix("launchguard-") for f in settings.SETTINGS[name].functions) or "stack"
        assert functions == want, (name, functions, want)
        assert what, name
    for fn, names in reads().items():
        for name in names - settings.RUNTIME:
            assert f"`{name}`" in doc, f"{fn} reads {name}, which docs/configuration.md does not describe"
