"""Render the CloudFormation templates: each `{"@role": "<function>"}` in base.template.json becomes
an IAM role named `<function>-role` whose inline policy is policies/<function>.json, with the
policy's `${Placeholder}`s turned into `Fn::Sub` references (one source of truth for permissions).

    python deploy/render.py [OUT_DIR]      # default deploy/out/
"""
import json
import re
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
    "LedgerBucketName": "${LedgerBucket}",
    "NotificationTopicArn": "${NotificationTopic}",
    "QuarantinePolicyArn": "${QuarantinePolicyArn}",
    "ProtectedUserArnPattern": "${ProtectedUserArnPattern}",
}
PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


def sub(value, function: str):
    if isinstance(value, dict):
        return {k: sub(v, function) for k, v in value.items()}
    if isinstance(value, list):
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
            "Policies": [{"PolicyName": "launchguard", "PolicyDocument": sub(policy, function)}],
        },
    }


def render(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    base = json.loads((ROOT / "deploy/base.template.json").read_text())
    for name, res in base["Resources"].items():
        if "@role" in res:
            base["Resources"][name] = role(res["@role"])
    paths = [out / "base.json", out / "wiring.json"]
    paths[0].write_text(json.dumps(base, indent=2) + "\n")
    paths[1].write_text((ROOT / "deploy/wiring.template.json").read_text())
    return paths


if __name__ == "__main__":
    for p in render(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "deploy/out"):
        print(p)
