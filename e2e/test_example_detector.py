"""Issue 13 (a contract anyone can target): the example detector in Python
(examples/python-detector/detector.py, boto3) reports an IAM user and its access key on
LocalStack. Sealed with the finding key, its finding gets the user contained, recorded once and
paged once; the same script's unsealed, altered or wrongly keyed finding is refused and changes
nothing. The script runs as a user would run it, in its own process, configured only by the
standard AWS variables."""
import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest

from harness import ACCOUNT, ENDPOINT, QUARANTINE, REGION, ROOT, RUN, WATCH, Scenario, Watch, cloudtrail, iam_burst_spec, iam_user

DETECTOR = ROOT / "examples/python-detector/detector.py"


@pytest.fixture(scope="module")
def world(localstack):
    sc = Scenario()
    try:
        sc.setup()
        sc.initial = sc.state()
        sc.watch = Watch(sc.function_env())
        sc.watch.start()
        yield sc
    finally:
        if sc.__dict__.get("watch"):
            sc.watch.stop()


def evidence(world) -> str:
    """One call of the user with the key it used, delivered to the trail's log group (and so in
    the e2e's CloudTrail event history): the evidence the example detector names."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    actor = iam_user(ACCOUNT, world.user, world.keys["used"])
    [record] = cloudtrail([], iam_bursts=[iam_burst_spec(actor, "CreateUser", 1, now - dt.timedelta(minutes=1), user_prefix=f"ex-{world.suffix}")])
    world.put_cloudtrail([record])
    path = RUN / f"evidence-{world.suffix}.json"
    path.write_text(json.dumps(record))
    return str(path)


def detector(world, *args: str) -> subprocess.CompletedProcess:
    """Run the example detector for the scenario's user and the key it used, with the finding key."""
    env = {**os.environ, "AWS_ENDPOINT_URL": ENDPOINT, "AWS_ENDPOINT_URL_LAMBDA": WATCH, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.run([sys.executable, str(DETECTOR), "--user", world.user, "--access-key-id", world.keys["used"],
                           "--key-id", world.key_ids["finding"], *args], env=env, capture_output=True, text=True, timeout=300)


def refusal(world, reason: str, *args: str) -> None:
    """Run the detector with `args`: it must exit 1, and the dispatcher must have refused the
    finding for `reason`. AWS answers a function error with its message, which the script
    prints; `cargo lambda watch` answers HTTP 500 without it, so the dispatcher's log says why."""
    log = world.watch.log
    start = log.stat().st_size
    out = detector(world, *args)
    assert out.returncode == 1, out.stdout + out.stderr
    deadline = time.time() + 10
    while True:
        said = out.stdout + out.stderr + log.read_bytes()[start:].decode(errors="replace")
        if reason in said or time.time() > deadline:
            break
        time.sleep(0.2)
    assert reason in said, said


def test_its_unsealed_altered_or_wrongly_sealed_findings_are_refused_and_change_nothing(world):
    refusal(world, "not a sealed payload", "--forge", "unsealed")
    refusal(world, "the MAC does not verify", "--forge", "tampered")
    refusal(world, "the MAC does not verify", "--key-id", world.key_ids["attacker"])
    refusal(world, "the MAC does not verify", "--key-id", world.key_ids["release"])
    assert world.state() == world.initial
    assert world.incidents() == []
    assert world.drain(world.notify_queue, settle=1.0) == []


def test_without_evidence_its_finding_is_notify_only(world):
    out = detector(world)
    assert out.returncode == 0, out.stdout + out.stderr
    answer = json.loads(out.stdout)
    assert answer["status"] != "contained", answer
    assert world.state() == world.initial
    world.drain(world.notify_queue, settle=1.0)


def test_its_sealed_finding_gets_the_user_contained(world):
    out = detector(world, "--evidence", evidence(world))
    assert out.returncode == 0, out.stdout + out.stderr
    answer = json.loads(out.stdout)
    assert answer["status"] == "contained", answer

    s = world.state()
    # exactly the reported key off, the user's other key on; quarantined, its own policies kept
    assert s["user"]["keys"] == {world.keys["used"]: "Inactive", world.keys["spare"]: "Active"}
    guard = f"arn:aws:iam::{ACCOUNT}:policy/launchguard/launchguard-quarantine-guard"
    assert s["user"]["attached"] == sorted(world.initial["user"]["attached"] + [QUARANTINE, guard])
    assert s["user"]["inline"] == world.initial["user"]["inline"]
    # nobody else touched
    assert {k: s[k] for k in ("benign", "admin", "role")} == {k: world.initial[k] for k in ("benign", "admin", "role")}

    # (the notify-only finding of the test before is recorded too, with no action)
    incidents = [r for r in world.incidents() if r.get("outcomes")]
    assert len(incidents) == 1, incidents
    rec = incidents[0]
    assert rec["record_type"] == "incident" and rec["finding"]["detector"] == "example-python-detector", rec
    assert rec["finding"]["principals"][0]["principal"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/{world.user}"
    assert sorted((o["action"]["type"], o["outcome"]["status"]) for o in rec["outcomes"]) == [
        ("deactivate_access_key", "applied"), ("quarantine_user", "applied")]

    notes = world.drain(world.notify_queue)
    assert len(notes) == 1, [n.get("Subject") for n in notes]
    assert world.user in notes[0]["Message"] and world.keys["used"] in notes[0]["Message"]
