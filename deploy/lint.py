"""Lint what gets deployed: cfn-lint on the rendered templates; parliament (strict, with its
community auditors) and cloudsplaining on every role and containment policy as rendered.

    .venv-tools/bin/python deploy/lint.py      (`make lint-deploy`)

Policies are linted with example values in place of their `${Placeholder}`s. Every finding must
be listed, with its reason, in deploy/accepted-findings.json; a finding not listed fails, and so
does a listed one that no longer occurs (the file stays the truth).
"""
import json
import subprocess
import sys
from pathlib import Path

from cloudsplaining.scan.policy_document import PolicyDocument
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
ACCEPTED_FILE = ROOT / "deploy/accepted-findings.json"
# cloudsplaining's risk categories, as its report names them
CLOUDSPLAINING = {"PrivilegeEscalation": "allows_privilege_escalation", "DataExfiltration": "allows_data_exfiltration_actions",
                  "ResourceExposure": "permissions_management_without_constraints", "CredentialsExposure": "credentials_exposure",
                  "InfrastructureModification": "infrastructure_modification", "ServiceWildcard": "service_wildcard"}


def policies() -> list[tuple[str, str]]:
    out = []
    for p in sorted([*(ROOT / "policies").glob("*.json"), *(ROOT / "policies/containment").glob("*.json")]):
        text = p.read_text()
        for k, v in EXAMPLE.items():
            text = text.replace("${" + k + "}", v)
        out.append((str(p.relative_to(ROOT / "policies")), text))
    return out


def parliament_findings(name: str, text: str) -> list[tuple[str, str, str, str]]:
    found = []
    for f in analyze_policy_string(text, include_community_auditors=True).findings:
        # strict: nothing is filtered by parliament's own configuration (its ignore_locations)
        for d in (f.detail if isinstance(f.detail, list) else [f.detail]):
            found.append(("parliament", name, f.issue, json.dumps(d, sort_keys=True) if not isinstance(d, str) else d))
    return found


def cloudsplaining_findings(name: str, text: str) -> list[tuple[str, str, str, str]]:
    doc = PolicyDocument(json.loads(text))
    found = []
    for category, attr in CLOUDSPLAINING.items():
        for item in getattr(doc, attr) or []:
            detail = item if isinstance(item, str) else item.get("type") or json.dumps(item, sort_keys=True)
            found.append(("cloudsplaining", name, category, str(detail)))
    return found


def main() -> int:
    failed = False
    paths = render.render(ROOT / "deploy/out")
    lint = subprocess.run([str(ROOT / ".venv-tools/bin/cfn-lint"), *map(str, paths)], capture_output=True, text=True)
    print(f"cfn-lint {' '.join(p.name for p in paths)}: {'ok' if lint.returncode == 0 else 'FAILED'}")
    if lint.returncode != 0:
        print(lint.stdout + lint.stderr)
        failed = True
    accepted = {(a["tool"], a["policy"], a["issue"], a["detail"]): a["reason"] for a in json.loads(ACCEPTED_FILE.read_text())}
    seen = set()
    for name, text in policies():
        findings = parliament_findings(name, text) + cloudsplaining_findings(name, text)
        print(f"{name}: {'ok' if not findings else f'{len(findings)} finding(s)'}")
        for f in findings:
            seen.add(f)
            if f in accepted:
                print(f"  accepted {f[0]} {f[2]} {f[3]}: {accepted[f]}")
            else:
                print(f"  FINDING {f[0]} {f[2]} {f[3]} (not in {ACCEPTED_FILE.relative_to(ROOT)})")
                failed = True
    for stale in sorted(set(accepted) - seen):
        print(f"stale acceptance (no longer found, remove it): {stale}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
