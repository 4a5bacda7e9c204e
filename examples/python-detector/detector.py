#!/usr/bin/env python3
"""A second detector, in Python: report one IAM user and the access key it used to launchguard.

It builds a finding (the contract: schemas/finding.schema.json), checks it against the schema,
seals it with the finding key as the dispatcher requires (KMS GenerateMac over the text that
crates/core/src/auth.rs defines), and invokes the dispatcher, which contains the user: that
access key set Inactive, the quarantine policy attached (the playbook for IAM users).

    pip install -r examples/python-detector/requirements.txt
    python examples/python-detector/detector.py --user alice --access-key-id AKIA... \\
        --key-id alias/launchguard-finding [--dispatcher launchguard-dispatcher] [--dry-run]

Credentials, region and endpoints come from the usual AWS settings (AWS_PROFILE,
AWS_DEFAULT_REGION, AWS_ENDPOINT_URL...). The caller needs kms:GenerateMac on the finding key (FINDING_SIGNERS in
deploy/config.env) and lambda:InvokeFunction on the dispatcher. Exit status: 0 when the
dispatcher accepted the finding, 1 when it refused it or failed.
"""
import argparse
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path

import boto3
import jsonschema
from botocore.config import Config
from botocore.exceptions import ClientError

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def iso(t: dt.datetime) -> str:
    """An instant as launchguard writes it: UTC, milliseconds, `Z`."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def finding(account: str, region: str, user: str, key: str, reason: str, now: dt.datetime, dry_run: bool = False) -> dict:
    """One IAM user and the key it used: all the dispatcher needs to contain it."""
    window = {"start": iso(now - dt.timedelta(minutes=10)), "end": iso(now)}
    principal = {"type": "iam_user", "arn": f"arn:aws:iam::{account}:user/{user}", "arn_derived": False,
                 "user_name": user, "account_id": account}
    activity = {
        "calls": 1, "instances_launched": 0, "instances_requested": 0, "failed_calls": 0, "dry_run_calls": 0,
        "first_seen": window["start"], "last_seen": window["end"],
        # the key to deactivate: an IAM user's long-term key (AKIA...; ASIA... session keys cannot be)
        "access_keys": [{"access_key_id": key, "kind": "long_term", "calls": 1, "launched": 0}],
        "error_codes": {}, "source_ips": [], "user_agents": [], "regions": [region], "instance_types": [],
        "instance_ids": [], "session_names": [], "source_identities": [], "invoked_by": [],
        "truncated_values": 0, "malformed_records": 0,
    }
    # the same report twice is the same finding: the dispatcher acts once
    finding_id = "py-" + hashlib.sha256(f"{account}/{user}/{key}/{window['start']}".encode()).hexdigest()[:32]
    return {
        "schema_version": 1, "kind": "finding", "finding_id": finding_id, "detector": "example-python-detector",
        "rule": "python-example", "account_id": account, "region": region, "created_at": iso(now), "trigger": None,
        "event": "example.python-detector/LeakedAccessKey", "window": window, "window_complete": True,
        "incomplete_reason": None, "dry_run": dry_run, "verdict": "contain",
        "principals": [{"principal": principal, "activity": activity, "reasons": [reason]}],
        "excluded": [], "top_launchers": [],
        "read": {"records_read": 1, "matching_records": 1, "unparseable_records": 0, "principals_seen": 1,
                 "method": "python-example", "widened": False, "key_conflicts": []},
    }


def evidence(record: dict) -> dict:
    """The record as evidence: one call within 10 minutes crosses this detector's horizon. The
    dispatcher checks that CloudTrail holds this eventID with the same name, region, time, caller
    and counts (crates/core/src/evidence.rs); a record only written to a log group confirms nothing."""
    error = record.get("errorCode")
    t = dt.datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    if record.get("eventName") == "RunInstances":
        raise SystemExit("--evidence: give a call other than RunInstances (this example does not count instances)")
    return {"horizon": {"measure": "calls", "window_seconds": 600, "threshold": 1},
            "events": [{"event_id": record["eventID"], "event_name": record["eventName"], "region": record["awsRegion"],
                        "event_time": iso(t), "launched": 0, "requested": 0,
                        "failed": error is not None and error != "Client.DryRunOperation"}]}


def check(payload: dict, kind: str) -> None:
    """Refuse to send what the contract does not allow (the dispatcher would refuse it too)."""
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(payload)


def seal(kms, key_id: str, text: str, now: dt.datetime) -> dict:
    """The sealed envelope: a KMS HMAC over four lines, the version tag, the purpose, the instant
    and the SHA-256 of the exact payload text (crates/core/src/auth.rs, `mac_message`)."""
    issued_at = iso(now)
    message = f"launchguard-mac/v1\nfinding\n{issued_at}\n{hashlib.sha256(text.encode()).hexdigest()}".encode()
    mac = kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=message)["Mac"]
    return {"schema_version": 1, "kind": "sealed", "purpose": "finding", "issued_at": issued_at, "key_id": key_id,
            "mac_algorithm": "HMAC_SHA_256", "mac": mac.hex(), "payload": text}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--user", required=True, help="the IAM user to contain")
    ap.add_argument("--access-key-id", required=True, help="the access key it used (deactivated)")
    ap.add_argument("--key-id", required=True, help="the KMS HMAC key findings are sealed with (alias/launchguard-finding)")
    ap.add_argument("--dispatcher", default="launchguard-dispatcher", help="the dispatcher's name or ARN")
    ap.add_argument("--reason", default="access key reported leaked (example-python-detector)")
    ap.add_argument("--dry-run", action="store_true", help="the dispatcher and handlers validate and report, and change nothing")
    ap.add_argument("--forge", choices=["unsealed", "tampered"],
                    help="for the tests: send the finding without a seal, or altered after sealing (refused)")
    ap.add_argument("--evidence", type=Path, metavar="RECORD_JSON",
                    help="the CloudTrail record (JSON) of a call that shows the key in use. The dispatcher looks its "
                         "eventID up in CloudTrail's event history before it contains anyone; without evidence the "
                         "finding is notify-only")
    args = ap.parse_args()

    session = boto3.session.Session()
    account = session.client("sts").get_caller_identity()["Account"]
    now = dt.datetime.now(dt.timezone.utc)
    f = finding(account, session.region_name, args.user, args.access_key_id, args.reason, now, args.dry_run)
    if args.evidence:
        f["principals"][0]["evidence"] = evidence(json.loads(args.evidence.read_text()))
    check(f, "finding")
    text = json.dumps(f)
    envelope = seal(session.client("kms"), args.key_id, text, now)
    check(envelope, "sealed")
    if args.forge == "unsealed":
        envelope = f
    elif args.forge == "tampered":
        envelope["payload"] = text.replace(args.access_key_id, "AKIAEXAMPLETAMPERED1")

    # one attempt: a finding sent again is recognised (same id), but that is the caller's choice
    lam = session.client("lambda", config=Config(retries={"total_max_attempts": 1}, read_timeout=180))
    try:
        resp = lam.invoke(FunctionName=args.dispatcher, Payload=json.dumps(envelope).encode())
    except ClientError as e:  # an emulator may answer a function error with HTTP 500
        print(f"refused or failed: {e}", file=sys.stderr)
        return 1
    answer = resp["Payload"].read().decode()
    print(answer)
    return 1 if resp.get("FunctionError") else 0


if __name__ == "__main__":
    sys.exit(main())
