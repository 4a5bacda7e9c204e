"""Issue 12 on LocalStack EC2 (LG_EC2_ACTION=stop): real instances launched on LocalStack, their
RunInstances records (built by the Rust test kit from EC2's own answers) delivered to CloudTrail's
log group, alarm -> detector -> dispatcher -> ec2-handler. Only the flagged user's own instances
are tagged and stopped; another user's instances launched in the same minutes and the flagged
user's protected-tagged instance keep running; a repeat is already_applied; a release starts
them again; a dry run changes nothing."""
import datetime as dt
import json
import uuid

import pytest

from harness import ACCOUNT, REGION, Scenario, Watch, burst_spec, client, cloudtrail, iam_user, say

INCIDENT_TAG = "launchguard:incident"
PROTECTED = [{"Key": "launchguard:protected", "Value": "true"}]


def run_instances(ec2, ami: str, count: int, instance_type: str, tags: list | None = None) -> dict:
    """One RunInstances call on LocalStack; what EC2 answered, in the burst spec's `responses` form."""
    extra = {"TagSpecifications": [{"ResourceType": "instance", "Tags": tags}]} if tags else {}
    r = ec2.run_instances(ImageId=ami, MinCount=count, MaxCount=count, InstanceType=instance_type, **extra)
    launched = r["Instances"][0]["LaunchTime"].astimezone(dt.timezone.utc)
    return {"reservation_id": r["ReservationId"], "launch_time": launched.isoformat().replace("+00:00", "Z"),
            "instance_ids": [i["InstanceId"] for i in r["Instances"]]}


def with_responses(spec: dict, responses: list[dict]) -> dict:
    return {**spec, "responses": responses}


def instances(ec2, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """id -> (state, launchguard:incident tag)."""
    out = {}
    for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
        for i in r["Instances"]:
            tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
            out[i["InstanceId"]] = (i["State"]["Name"], tags.get(INCIDENT_TAG))
    return out


@pytest.fixture(scope="module")
def world(localstack):
    sc = Scenario()
    try:
        sc.setup()
        sc.ec2 = client("ec2")
        ami = sc.ec2.describe_images()["Images"][0]["ImageId"]
        # the flagged user: 3 calls of 4 instances, then one protected instance; the benign user: 2
        # instances in the same minutes (below the threshold)
        sc.mine = [run_instances(sc.ec2, ami, 4, "c5.4xlarge") for _ in range(3)]
        sc.protected = run_instances(sc.ec2, ami, 1, "c5.4xlarge", PROTECTED)
        sc.others = run_instances(sc.ec2, ami, 2, "t3.micro")
        sc.env = {"LG_EC2_ACTION": "stop", "EC2_HANDLER_LAMBDA_NAME": "launchguard-ec2-handler"}
        sc.watch = Watch(sc.function_env(**sc.env))
        sc.watch.start()
        yield sc
    finally:
        if sc.__dict__.get("watch"):
            sc.watch.stop()


def restart(world, **env):
    world.watch.stop()
    world.watch = Watch(world.function_env(**world.env, **env))
    world.watch.start()


def mine(world) -> list[str]:
    return [i for r in world.mine for i in r["instance_ids"]]


def every(world) -> list[str]:
    return mine(world) + world.protected["instance_ids"] + world.others["instance_ids"]


def test_only_the_flagged_users_own_instances_are_tagged_and_stopped(world):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(seconds=40)
    user = iam_user(ACCOUNT, world.user, world.keys["used"])
    bursts = [
        with_responses(burst_spec(user, 3, 4, start, "203.0.113.7", "c5.4xlarge"), world.mine),
        with_responses(burst_spec(user, 1, 1, start + dt.timedelta(seconds=25), "203.0.113.7", "c5.4xlarge"), [world.protected]),
        with_responses(burst_spec(iam_user(ACCOUNT, world.benign, world.keys["benign"]), 1, 2, start, "192.0.2.55", "t3.micro"),
                       [world.others]),
    ]
    world.put_cloudtrail(cloudtrail(bursts, background_start=now - dt.timedelta(minutes=30)))
    assert set(instances(world.ec2, every(world)).values()) == {("running", None)}
    world.alarm_message = world.fire_alarm()
    out = world.bridge(world.alarm_message)
    assert out["error"] is None, out
    report = out["payload"]
    assert report["status"] == "dispatched", report
    verdicts = {p["principal"]: p["verdict"] for p in report["principals"]}
    assert verdicts[f"IAM user {world.user}"] == "flagged" and verdicts[f"IAM user {world.benign}"] == "below_threshold", verdicts
    world.finding_id = report["finding_id"]

    state = instances(world.ec2, every(world))
    assert {i: state[i] for i in mine(world)} == {i: ("stopped", world.finding_id) for i in mine(world)}
    # the protected instance the flagged user launched, and the other user's: running, untagged
    for i in world.protected["instance_ids"] + world.others["instance_ids"]:
        assert state[i] == ("running", None), (i, state[i])

    rec = next(r for r in world.incidents() if r["record_type"] == "incident")
    stop = next(o for o in rec["outcomes"] if o["action"]["type"] == "stop_instances")
    assert stop["outcome"]["status"] == "applied", stop
    assert any(world.protected["instance_ids"][0] in w and "launchguard:protected" in w for w in stop.get("warnings", [])), stop
    note = world.drain(world.notify_queue)[0]["Message"]
    assert "aws ec2 start-instances --region" in note, note
    world.launches = stop["action"]["instances"]
    say(f"stopped {len(mine(world))} instances of {world.user}")


def test_a_repeated_stop_is_already_applied_and_changes_nothing(world):
    before = instances(world.ec2, every(world))
    request = {"schema_version": 1, "kind": "response_request", "request_id": "lgr-" + uuid.uuid4().hex[:24],
               "finding_id": world.finding_id,
               "action": {"type": "stop_instances", "account_id": ACCOUNT, "region": REGION,
                          "principal_arn": f"arn:aws:iam::{ACCOUNT}:user/{world.user}", "instances": world.launches},
               "dry_run": False, "requested_at": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")}
    # played as the dispatcher: a new request, sealed with the command key
    out = world.invoke("launchguard-ec2-handler", world.seal("command", "command", request))
    assert out["error"] is None, out
    assert out["payload"]["outcome"]["status"] == "already_applied", out["payload"]
    assert instances(world.ec2, every(world)) == before


def test_a_release_starts_exactly_the_stopped_instances_again(world):
    done = world.cli("release", "--finding", world.finding_id, "--reason", "e2e: instances were legitimate", "--key", world.key_ids["release"])
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"release {world.finding_id}: released" in done.stdout, done.stdout
    assert set(instances(world.ec2, every(world)).values()) == {("running", None)}
    rel = world.incidents()[-1]
    start = next(o for o in rel["outcomes"] if o["action"]["type"] == "start_instances")
    assert start["outcome"]["status"] == "applied", start
    assert sorted(start["action"]["instance_ids"]) == sorted(mine(world))


def test_a_dry_run_changes_nothing(world):
    restart(world, DRY_RUN="true")
    finding = next(r for r in world.incidents() if r["record_type"] == "incident")["finding"]
    finding["finding_id"] = world.finding_id + "-dry"
    finding["dry_run"] = False
    before = instances(world.ec2, every(world))
    out = world.invoke("launchguard-dispatcher", world.seal("finding", "finding", finding))
    assert out["error"] is None, out
    assert out["payload"]["status"] == "dry_run", out["payload"]
    assert instances(world.ec2, every(world)) == before
    rec = world.incidents()[-1]
    stop = next(o for o in rec["outcomes"] if o["action"]["type"] == "stop_instances")
    assert stop["outcome"]["status"] == "dry_run", json.dumps(stop)
