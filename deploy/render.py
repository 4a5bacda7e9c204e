"""Render the CloudFormation templates: each `{"@role": "<function>"}` in base.template.json becomes
an IAM role named `<function>-role` whose inline policy is policies/<function>.json, with the
policy's `${Placeholder}`s turned into `Fn::Sub` references (one source of truth for permissions);
each `{"@mac-key": {...}}` becomes a KMS HMAC key and its alias, whose key policy names who may
make MACs with it (and denies everyone else) and who may check them.

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
    "NotificationTopicArn": "${NotificationTopic}",
    "QuarantinePolicyArn": "${QuarantinePolicyArn}",
    "ProtectedUserArnPattern": "${ProtectedUserArnPattern}",
    "LedgerBucketName": "${LedgerBucket}",
    "ReportBucketName": "${ReportBucket}",
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


# What the account root may do with a MAC key: administer it, never use it. Using the key
# (GenerateMac, VerifyMac) is granted by name in the key policy, and GenerateMac is denied to every
# other principal, so no IAM policy in the account can widen who may seal.
KEY_ADMIN = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
             "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
             "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]


# What only AdminPrincipals may do to a key.
KEY_GUARDED = ["kms:PutKeyPolicy", "kms:Disable*", "kms:ScheduleKeyDeletion", "kms:Update*", "kms:Delete*", "kms:CancelKeyDeletion"]


def principals(spec: dict):
    """The ARNs allowed to GenerateMac: the fixed ones plus, when set, a list parameter."""
    fixed = spec["generate"]
    more = spec.get("generate_more")
    if not more:
        return fixed
    joined = {"Fn::Join": [",", {"Ref": more["ref"]}]}
    combined = {"Fn::Split": [",", {"Fn::Join": [",", [*fixed, joined]]}]} if fixed else {"Ref": more["ref"]}
    return {"Fn::If": [more["condition"], combined, fixed]} if fixed else combined


def mac_key(spec: dict) -> dict:
    who = principals(spec)
    allow_generate = {"Sid": "GenerateMac", "Effect": "Allow", "Principal": {"AWS": who}, "Action": "kms:GenerateMac", "Resource": "*"}
    deny_others = {"Sid": "NobodyElseGeneratesMacs", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateMac", "Resource": "*",
                   "Condition": {"ArnNotEquals": {"aws:PrincipalArn": who}}}
    more = spec.get("generate_more")
    if not spec["generate"] and more:
        # Nobody is named until the parameter is set: then nobody at all may generate.
        allow_generate = {"Fn::If": [more["condition"], allow_generate, {"Ref": "AWS::NoValue"}]}
        deny_all = {"Sid": "NobodyElseGeneratesMacs", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateMac", "Resource": "*"}
        deny_others = {"Fn::If": [more["condition"], deny_others, deny_all]}
    return {
        "Type": "AWS::KMS::Key",
        "Properties": {
            "Description": f"launchguard {spec['alias']}: {spec['what']} (HMAC-SHA-256)",
            "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC", "Enabled": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                 "Action": KEY_ADMIN, "Resource": "*"},
                allow_generate,
                deny_others,
                {"Sid": "VerifyMac", "Effect": "Allow", "Principal": {"AWS": spec["verify"]}, "Action": "kms:VerifyMac", "Resource": "*"},
                # The account root's administration reaches every IAM principal with kms:* rights:
                # only AdminPrincipals may change the policy, disable or delete the key; nobody grants.
                {"Fn::If": ["HasAdminPrincipals", {"Sid": "OnlyAdminsAdminister", "Effect": "Deny", "Principal": "*", "Action": KEY_GUARDED,
                                                   "Resource": "*", "Condition": {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "AdminPrincipals"}}}},
                            {"Ref": "AWS::NoValue"}]},
                {"Sid": "NoGrants", "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant", "Resource": "*"},
            ]},
        },
    }


def render(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    base = json.loads((ROOT / "deploy/base.template.json").read_text())
    for name, res in list(base["Resources"].items()):
        if "@role" in res:
            base["Resources"][name] = role(res["@role"])
        if "@mac-key" in res:
            spec = res["@mac-key"]
            base["Resources"][name] = mac_key(spec)
            base["Resources"][f"{name}Alias"] = {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": spec["alias"], "TargetKeyId": {"Ref": name}}}
    paths = [out / "base.json", out / "wiring.json"]
    # compact: CloudFormation takes at most 51,200 bytes of TemplateBody (e2e/test_documents.py)
    paths[0].write_text(json.dumps(base, separators=(",", ":")) + "\n")
    paths[1].write_text((ROOT / "deploy/wiring.template.json").read_text())
    return paths


if __name__ == "__main__":
    for p in render(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "deploy/out"):
        print(p)
