"""Issue 16 on LocalStack (KMS GenerateMac/VerifyMac, S3 conditional writes): forged, stale and
replayed commands to the handlers, forged findings and releases to the dispatcher. Each is refused
and changes nothing; an authentic command still works. LocalStack does not evaluate key policies:
who may seal with which key is proven on the rendered templates (test_documents.py)."""
import datetime as dt
import uuid

import pytest

from harness import ACCOUNT, Scenario, Watch


@pytest.fixture(scope="module")
def world(localstack):
    sc = Scenario()
    try:
        sc.setup()
        sc.watch = Watch(sc.function_env())
        sc.watch.start()
        yield sc
    finally:
        if sc.__dict__.get("watch"):
            sc.watch.stop()


def request(world, action_type: str, finding_id: str) -> dict:
    return {"schema_version": 1, "kind": "response_request", "request_id": "lgr-" + uuid.uuid4().hex[:24], "finding_id": finding_id,
            "action": {"type": action_type, "account_id": ACCOUNT, "access_key_id": world.keys["used"], "user_name": world.user},
            "dry_run": False, "requested_at": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")}


def key_status(world) -> str:
    return world.user_state(world.user)["keys"][world.keys["used"]]


def refused(out: dict) -> str:
    assert out["error"], out
    text = str(out["payload"])
    assert "refused" in text or "invalid" in text, text
    return text


def test_forged_commands_to_a_handler_are_refused_and_change_nothing(world):
    before = world.state()
    now = dt.datetime.now(dt.timezone.utc)
    deactivate = request(world, "deactivate_access_key", "lg-e2e-forged")
    for what, payload in [
        ("no seal at all", deactivate),
        ("sealed with another KMS key", world.seal("attacker", "command", deactivate)),
        ("sealed with the release key", world.seal("release", "command", deactivate)),
        ("sealed 20 minutes ago", world.seal("command", "command", deactivate, now - dt.timedelta(minutes=20))),
        ("sealed 5 minutes in the future", world.seal("command", "command", deactivate, now + dt.timedelta(minutes=5))),
        ("a command sealed as a release", world.seal("command", "release", deactivate)),
    ]:
        text = refused(world.invoke("launchguard-accesskey-handler", payload))
        assert text, what
    assert world.state() == before
    assert world.ledger_keys("requests/") == []


def test_an_authentic_command_works_once_and_its_replay_is_answered_from_the_record(world):
    off = world.invoke("launchguard-accesskey-handler", world.seal("command", "command", request(world, "deactivate_access_key", "lg-e2e-replay-1")))
    assert off["error"] is None and off["payload"]["outcome"]["status"] == "applied", off
    on = world.seal("command", "command", request(world, "reactivate_access_key", "lg-e2e-replay-2"))
    out = world.invoke("launchguard-accesskey-handler", on)
    assert out["error"] is None and out["payload"]["outcome"]["status"] == "applied", out
    assert key_status(world) == "Active"
    # a new containment of the same key...
    again = world.invoke("launchguard-accesskey-handler", world.seal("command", "command", request(world, "deactivate_access_key", "lg-e2e-replay-3")))
    assert again["payload"]["outcome"]["status"] == "applied", again
    # ...and the captured reactivation replayed within its freshness bound: not executed again
    replay = world.invoke("launchguard-accesskey-handler", on)
    assert replay["error"] is None, replay
    assert replay["payload"]["outcome"]["status"] == "applied", replay  # the recorded answer, not executed again
    assert "answered from its record" in replay["payload"]["detail"], replay
    assert key_status(world) == "Inactive"
    assert len(world.ledger_keys("requests/")) == 3, world.ledger_keys()


def test_forged_findings_and_releases_to_the_dispatcher_are_refused_and_change_nothing(world):
    before = world.state()
    finding = {"schema_version": 1, "kind": "finding", "finding_id": "lg-e2e-forged-finding", "detector": "someone",
               "account_id": ACCOUNT, "region": "us-east-1", "created_at": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
               "trigger": None, "event": "ec2.amazonaws.com/RunInstances",
               "window": {"start": "2026-11-22T05:14:00Z", "end": "2026-11-22T05:25:00Z"}, "window_complete": True,
               "incomplete_reason": None, "dry_run": False, "principals": [], "excluded": [],
               "read": {"records_read": 0, "matching_records": 0, "unparseable_records": 0, "principals_seen": 0, "method": "forged",
                        "widened": False, "key_conflicts": []}}
    release = {"schema_version": 1, "kind": "release", "finding_id": None, "principal_arn": f"arn:aws:iam::{ACCOUNT}:user/{world.user}",
               "reason": "let me out", "dry_run": False}
    for what, payload in [
        ("a plain finding", finding),
        ("a finding sealed with the attacker's key", world.seal("attacker", "finding", finding)),
        ("a finding sealed with the release key", world.seal("release", "finding", finding)),
        ("a finding inside a release seal", world.seal("release", "release", finding)),
        ("a plain release", release),
        ("a release sealed by a detector", world.seal("finding", "release", release)),
        ("a release inside a finding seal", world.seal("finding", "finding", release)),
    ]:
        text = refused(world.invoke("launchguard-dispatcher", payload))
        assert text, what
    assert world.state() == before
    assert world.incidents() == []
    assert world.drain(world.notify_queue, settle=1.0) == []
