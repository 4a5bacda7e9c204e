"""Issue 10 (cases 1, 3, 7) and issue 11 (case 2) on LocalStack: the ledger in S3 with conditional
writes, decoy policies, a release that never undoes what launchguard did not do, duplicate
deliveries that page once, and a burst that goes on while the alarm stays in ALARM."""
import datetime as dt
import json

import pytest

from harness import ACCOUNT, QUARANTINE, Scenario, Watch, burst_spec, cloudtrail, iam_user

DECOY_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
DECOY_REVOKE = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*",
                                                        "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2030-01-01T00:00:00Z"}}}]}


@pytest.fixture(scope="module")
def world(localstack):
    sc = Scenario()
    try:
        sc.setup()
        # decoys: same names as launchguard's policies, other documents
        sc.iam.put_user_policy(UserName=sc.user, PolicyName="launchguard-quarantine", PolicyDocument=json.dumps(DECOY_ALLOW_ALL))
        sc.iam.put_role_policy(RoleName=sc.role, PolicyName="launchguard-revoke-sessions", PolicyDocument=json.dumps(DECOY_REVOKE))
        sc.initial = sc.state()
        sc.watch = Watch(sc.function_env())
        sc.watch.start()
        yield sc
    finally:
        if sc.__dict__.get("watch"):
            sc.watch.stop()


REVOKE = f"arn:aws:iam::{ACCOUNT}:policy/launchguard/launchguard-revoke-sessions"


def role_policy(world, name: str) -> dict:
    return world.iam.get_role_policy(RoleName=world.role, PolicyName=name)["PolicyDocument"]


def test_case_7_the_same_alarm_three_times_pages_once_and_case_3_decoys_are_not_containment(world):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    world.deliver_cloudtrail(now)
    world.alarm_message = world.fire_alarm()
    reports = [world.bridge(world.alarm_message) for _ in range(3)]
    for out in reports:
        assert out["error"] is None, out
    world.finding_id = reports[0]["payload"]["finding_id"]
    assert {r["payload"]["finding_id"] for r in reports} == {world.finding_id}
    s = world.state()
    # case 3: the decoys did not pass for containment: the key is off, the quarantine attached,
    # the role's sessions denied by the stack's policy; the decoys are someone else's, left as they were
    assert s["user"]["keys"][world.keys["used"]] == "Inactive"
    assert QUARANTINE in s["user"]["attached"]
    assert REVOKE in s["role"]["attached"]
    assert role_policy(world, "launchguard-revoke-sessions") == DECOY_REVOKE
    # case 7: one page, one incident record, three deliveries counted in the ledger
    notes = world.drain(world.notify_queue)
    assert len(notes) == 1, [n.get("Subject") for n in notes]
    # the role's sessions are revoked by the stack's managed policy (issue 32): the decoy inline
    # policy of the same name is never read, written or named as launchguard's
    assert "look-alike" not in notes[0]["Message"], notes[0]["Message"][:2000]
    assert len([r for r in world.incidents() if r["record_type"] == "incident"]) == 1
    entry = json.loads(world.s3.get_object(Bucket=world.ledger, Key=f"ledger/findings/{world.finding_id}")["Body"].read())
    assert entry["deliveries"] == 3, entry


def test_case_1_a_release_never_undoes_what_launchguard_did_not_do(world):
    done = world.cli("release", "--finding", world.finding_id, "--reason", "e2e: false positive", "--key", world.key_ids["release"])
    assert done.returncode == 0, done.stderr + done.stdout
    s = world.state()
    assert s["user"]["keys"][world.keys["used"]] == "Active"
    assert QUARANTINE not in s["user"]["attached"]
    assert REVOKE not in s["role"]["attached"]
    assert role_policy(world, "launchguard-revoke-sessions") == DECOY_REVOKE, "someone else's policy is never touched"
    # later, a person (or AWS's own key-leak response) quarantines the user and disables the key
    world.iam.attach_user_policy(UserName=world.user, PolicyArn=QUARANTINE)
    world.iam.update_access_key(UserName=world.user, AccessKeyId=world.keys["used"], Status="Inactive")
    # a release by principal, and a release of the same finding again: neither touches that
    for args in (["--principal", f"arn:aws:iam::{ACCOUNT}:user/{world.user}"], ["--finding", world.finding_id]):
        out = world.cli("release", *args, "--reason", "e2e: again", "--key", world.key_ids["release"])
        assert out.returncode in (0, 1), out.stderr + out.stdout
        s = world.state()
        assert s["user"]["keys"][world.keys["used"]] == "Inactive", out.stdout
        assert QUARANTINE in s["user"]["attached"], out.stdout


def test_issue_11_case_2_a_burst_that_goes_on_while_the_alarm_stays_in_alarm_is_seen_again(world):
    assert world.cw.describe_alarms(AlarmNames=[world.alarm])["MetricAlarms"][0]["StateValue"] == "ALARM"
    # a new principal starts launching after the first containment; the alarm does not change state
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    late = cloudtrail([burst_spec(iam_user(ACCOUNT, world.benign, world.keys["benign"]), 3, 5, now - dt.timedelta(seconds=30), "192.0.2.99", "g4dn.xlarge")])
    world.put_cloudtrail(late)
    # the EventBridge rule's scheduled event (the detector asks CloudWatch for the alarm's state itself)
    scheduled = {"version": "0", "id": "e2e", "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT,
                 "time": now.isoformat().replace("+00:00", "Z"), "region": "us-east-1", "resources": [], "detail": {}}
    out = world.invoke("launchguard-detector", scheduled)
    assert out["error"] is None, out
    assert world.state()["benign"]["keys"][world.keys["benign"]] == "Inactive", out["payload"]
