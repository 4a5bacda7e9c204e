"""End to end on LocalStack: alarm -> SNS -> (bridge) -> detector -> dispatcher -> handlers -> IAM.

The tests run in order and share one scenario: contain, repeat, release, dry run, fault.
"""
import datetime as dt
import json

import pytest

from harness import ACCOUNT, QUARANTINE, IamFaults, Scenario, Watch, say


@pytest.fixture(scope="module")
def world(localstack):
    faults = IamFaults()
    sc = Scenario()
    sc.faults = faults
    try:
        sc.setup()
        sc.initial = sc.state()
        sc.watch = Watch(sc.function_env(iam_endpoint=faults.url))
        sc.watch.start()
        yield sc
    finally:
        if sc.__dict__.get("watch"):
            sc.watch.stop()
        faults.stop()


def restart(world, **env):
    world.watch.stop()
    world.watch = Watch(world.function_env(iam_endpoint=world.faults.url, **env))
    world.watch.start()


def test_the_chain_contains_exactly_the_right_principals(world):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    counts = world.deliver_cloudtrail(now)
    assert counts["burst_records"] == 3 + 5 + 2 + 3 + 2
    world.alarm_message = world.fire_alarm()
    assert json.loads(world.alarm_message["Message"])["NewStateValue"] == "ALARM"
    out = world.bridge(world.alarm_message)
    assert out["error"] is None, out
    report = out["payload"]
    assert report["status"] == "dispatched", report
    flagged = {p["principal"] for p in report["principals"] if p["verdict"] == "flagged"}
    assert flagged == {f"IAM user {world.user}", f"role {world.role}", f"IAM user {world.admin}"}, report["principals"]
    verdicts = {p["principal"]: p["verdict"] for p in report["principals"]}
    assert verdicts[f"IAM user {world.benign}"] == "below_threshold"
    assert verdicts["service-linked role AWSServiceRoleForAutoScaling"] == "excluded"
    world.finding_id = report["finding_id"]

    s = world.state()
    # the IAM user: the used key off, the spare key on, quarantine added, earlier policies kept
    assert s["user"]["keys"] == {world.keys["used"]: "Inactive", world.keys["spare"]: "Active"}
    # the quarantine and the stack's guard attached (issue 32: launchguard writes no document)
    guard = f"arn:aws:iam::{ACCOUNT}:policy/launchguard/launchguard-quarantine-guard"
    assert s["user"]["attached"] == sorted(world.initial["user"]["attached"] + [QUARANTINE, guard])
    # its inline policies kept as they were
    assert s["user"]["inline"] == world.initial["user"]["inline"]
    # the role: the stack's deny-all session policy attached, its own policy kept
    assert s["role"]["attached"] == sorted(world.initial["role"]["attached"] + [f"arn:aws:iam::{ACCOUNT}:policy/launchguard/launchguard-revoke-sessions"])
    assert s["role"]["inline"] == world.initial["role"]["inline"]
    # untouched: the protected admin and the benign user
    assert s["admin"] == world.initial["admin"]
    assert s["benign"] == world.initial["benign"]

    notes = world.drain(world.notify_queue)
    assert len(notes) == 1, [n.get("Subject") for n in notes]
    subject, body = notes[0]["Subject"], notes[0]["Message"]
    assert subject.startswith("[launchguard] ACTION NEEDED: 3 principal(s)"), subject
    for needle in [world.user, world.role, world.keys["used"], "203.0.113.7", "c5.4xlarge", "p3.2xlarge",
                   "!!! REFUSED: launchguard did NOT act on these principals !!!", f"IAM user {world.admin}: arn:aws:iam::000000000000:user/{world.admin} is protected",
                   "EXCLUDED (AWS itself, never contained)", "service-linked role AWSServiceRoleForAutoScaling: 30 instances", "HOW TO UNDO"]:
        assert needle in body, f"{needle!r} missing from:\n{body}"
    assert world.benign not in body.split("--- machine-readable")[0]

    incidents = world.incidents()
    assert len(incidents) == 1
    rec = incidents[0]
    assert rec["record_type"] == "incident" and rec["finding_id"] == world.finding_id
    assert sorted((o["action"]["type"], o["outcome"]["status"]) for o in rec["outcomes"]) == [
        ("deactivate_access_key", "applied"), ("quarantine_user", "applied"), ("revoke_role_sessions", "applied")]
    world.contained = s
    say(f"contained: {subject}")


def test_the_same_alarm_again_changes_nothing(world):
    records = len(world.incidents())
    out = world.bridge(world.alarm_message)
    assert out["error"] is None, out
    assert out["payload"]["finding_id"] == world.finding_id
    assert world.state() == world.contained
    # one page per incident: nothing new happened, so no second notification and no second record
    assert len(world.incidents()) == records
    assert world.drain(world.notify_queue, settle=2.0) == []
    entry = json.loads(world.s3.get_object(Bucket=world.ledger, Key=f"ledger/findings/{world.finding_id}")["Body"].read())
    assert entry["deliveries"] == 2, entry


def test_a_release_restores_the_user_and_the_role(world):
    # through the command line a person uses: sealed with the release key, then the dispatcher
    done = world.cli("release", "--finding", world.finding_id, "--reason", "e2e: false positive", "--key", world.key_ids["release"])
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"release {world.finding_id}: released" in done.stdout, done.stdout
    assert world.state() == world.initial
    rel = world.incidents()[-1]
    assert rel["record_type"] == "release"
    assert "RELEASE" in world.drain(world.notify_queue)[0]["Subject"]


def test_dry_run_changes_nothing(world):
    restart(world, DRY_RUN="true")
    # a new finding (the released one is never contained again by a redelivery), through a dry-run dispatcher
    finding = next(r for r in world.incidents() if r["record_type"] == "incident")["finding"]
    finding["finding_id"] = world.finding_id + "-dry"
    finding["dry_run"] = False
    out = world.invoke("launchguard-dispatcher", world.seal("finding", "finding", finding))
    assert out["error"] is None, out
    assert out["payload"]["status"] == "dry_run", out["payload"]
    assert world.state() == world.initial
    rec = world.incidents()[-1]
    assert rec["status"] == "dry_run"
    assert {o["outcome"]["status"] for o in rec["outcomes"]} == {"dry_run"}
    note = world.drain(world.notify_queue)[0]
    assert "DRY RUN" in note["Subject"]


def test_when_iam_fails_for_one_handler_the_others_complete_and_the_error_is_retryable(world):
    restart(world)  # DRY_RUN off again
    # IAM answers 503 to every call of the iam-handler's that is not also the access-key handler's
    world.faults.failing = {"ListAttachedUserPolicies", "AttachUserPolicy", "GetUserPolicy", "PutUserPolicy", "GetRole", "GetRolePolicy", "PutRolePolicy"}
    try:
        finding = next(r for r in world.incidents() if r["record_type"] == "incident")["finding"]
        finding["dry_run"] = False
        # a new finding (the released one is never contained again by a redelivery)
        finding["finding_id"] = world.finding_id + "-fault"
        out = world.invoke("launchguard-dispatcher", world.seal("finding", "finding", finding))
    finally:
        world.faults.failing = set()
    assert out["status"] >= 400 or out["error"], out
    assert out["payload"]["errorType"] == "launchguard.Retryable", out
    assert "retryable: Lambda retries the event" in out["payload"]["errorMessage"], out
    s = world.state()
    assert s["user"]["keys"][world.keys["used"]] == "Inactive", "the access-key handler still acted"
    assert s["user"]["attached"] == world.initial["user"]["attached"], "no quarantine: IAM failed for its handler"
    rec = world.incidents()[-1]
    assert rec["status"] == "failed"
    failed = sorted((o["action"]["type"], o["outcome"]["retryable"]) for o in rec["outcomes"] if o["outcome"]["status"] == "failed")
    assert failed == [("quarantine_user", True), ("revoke_role_sessions", True)]
    note = world.drain(world.notify_queue)[0]
    assert "FAILED" in note["Subject"] and "ServiceUnavailable" in note["Message"] and "will be retried" in note["Message"]
