"""Lint what gets deployed: cfn-lint on the rendered templates, parliament on every policy.

    .venv-tools/bin/python deploy/lint.py      (`make lint-deploy`)

Policies are linted with example values in place of their `${Placeholder}`s. Exits non-zero on
any cfn-lint error or parliament finding.
"""
import json
import subprocess
import sys
from pathlib import Path

from parliament import analyze_policy_string

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import render  # noqa: E402

EXAMPLE = {
    "Partition": "aws", "Region": "us-east-1", "AccountId": "123456789012", "FunctionName": "launchguard-example",
    "CloudTrailLogGroupName": "aws-cloudtrail-logs", "IncidentLogGroupName": "/launchguard/incidents", "LedgerBucketName": "launchguard-ledger-123456789012",
    "ReportBucketName": "launchguard-reports-123456789012",
    "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:launchguard-notifications",
    "QuarantinePolicyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
    "ProtectedPrincipalArns": "arn:aws:iam::123456789012:user/breakglass-*",
}


# Findings that cannot be fixed, with why.
ACCEPTED = {
    ("launchguard-detector.json", "RESOURCE_STAR", "logs:GetQueryResults"):
        "GetQueryResults has no resource type: IAM only accepts Resource * (query ids are not ARNs)",
}


def main() -> int:
    failed = False
    paths = render.render(ROOT / "deploy/out")
    lint = subprocess.run([str(ROOT / ".venv-tools/bin/cfn-lint"), *map(str, paths)], capture_output=True, text=True)
    print(f"cfn-lint {' '.join(p.name for p in paths)}: {'ok' if lint.returncode == 0 else 'FAILED'}")
    if lint.returncode != 0:
        print(lint.stdout + lint.stderr)
        failed = True
    for p in sorted([*(ROOT / "policies").glob("*.json"), *(ROOT / "policies/containment").glob("*.json")]):
        text = p.read_text()
        for k, v in EXAMPLE.items():
            text = text.replace("${" + k + "}", v)
        findings = analyze_policy_string(text).findings
        print(f"parliament {p.name}: {'ok' if not findings else f'{len(findings)} finding(s)'}")
        for f in findings:
            details = f.detail if isinstance(f.detail, list) else [f.detail]
            why = [ACCEPTED.get((p.name, f.issue, str(d))) for d in details]
            if all(why):
                print(f"  accepted {f.issue} {json.dumps(f.detail)}: {why[0]}")
                continue
            print(f"  {f.severity} {f.issue}: {json.dumps(f.detail)} {f.location}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
