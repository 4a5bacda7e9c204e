"""Issue 13 on LocalStack: the two IAM rules, each from its own alarm. Real invictus-ir background
(bert-jan's own CreateUser and CreateAccessKey calls, below both thresholds) plus injected bursts
(built by the Rust test kit from the real records) -> the rule's alarm -> detector -> dispatcher ->
handlers -> IAM changed exactly as the rule says; a below-threshold principal untouched; a
protected one refused; one notification and one incident record per rule."""
import datetime as dt
import json
import time

import pytest

from harness import ACCOUNT, QUARANTINE, REGION, Scenario, Watch, cloudtrail, iam_burst_spec, iam_user, say


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


@pytest.fixture(scope="module")
def world(localstack):
    sc = Scenario()
    s = sc.suffix
    try:
        sc.setup()
        # one alarm per rule, as the stack makes them (their names match the rules' `alarms`)
        sc.user_alarm, sc.key_alarm = f"launchguard-iam-user-burst-{s}", f"launchguard-iam-access-key-burst-{s}"
        for name in (sc.user_alarm, sc.key_alarm):
            sc.cw.put_metric_alarm(AlarmName=name, Namespace="LaunchGuard", MetricName=f"{name}-calls", Statistic="Sum", Period=600,
                                   EvaluationPeriods=1, Threshold=3, ComparisonOperator="GreaterThanOrEqualToThreshold",
                                   AlarmActions=[sc.alarm_topic], TreatMissingData="notBreaching")
        # the attackers, a busy but normal operator, and the users keys are created for
        sc.mallory, sc.thief, sc.ops = f"mallory-{s}", f"keythief-{s}", f"ops-{s}"
        for u in (sc.mallory, sc.thief, sc.ops):
            sc.iam.create_user(UserName=u)
            sc.keys[u] = sc.iam.create_access_key(UserName=u)["AccessKey"]["AccessKeyId"]
        sc.victims = [f"victim-{s}-{n}" for n in range(3)]
        sc.breakglass = f"breakglass-{s}-0"  # protected: arn:aws:iam::*:user/breakglass-*
        for u in sc.victims + [sc.breakglass]:
            sc.iam.create_user(UserName=u)
            sc.keys[f"{u}/own"] = sc.iam.create_access_key(UserName=u)["AccessKey"]["AccessKeyId"]
        arns = ",".join(alarm_arn(a) for a in (sc.alarm, sc.user_alarm, sc.key_alarm))
        sc.watch = Watch(sc.function_env(ALARM_ARNS=arns))
        sc.watch.start()
        yield sc
    finally:
        if sc.__dict__.get("watch"):
            sc.watch.stop()


def fire(world, alarm: str) -> dict:
    """Put `alarm` in ALARM and bridge its own notice to the detector. Other notices on the alarm
    topic are skipped: LocalStack's metric filters ignore their patterns, so the scenario's
    RunInstances alarm may fire on the IAM records too (its own test covers it)."""
    world.cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="Threshold Crossed: IAM calls")
    deadline = time.time() + 60
    while True:
        message = world.wait_message(world.alarm_queue, max(1.0, deadline - time.time()))
        if json.loads(message["Message"]).get("AlarmName") == alarm:
            break
    out = world.bridge(message)
    assert out["error"] is None, out
    return out["payload"]


def keys(world, user: str) -> dict:
    return world.user_state(user)["keys"]


def test_a_user_burst_quarantines_its_caller_only(world):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(minutes=3)
    me = lambda u: iam_user(ACCOUNT, u, world.keys[u])  # noqa: E731
    bursts = [
        iam_burst_spec(me(world.mallory), "CreateUser", 6, start, user_prefix=f"backdoor-{world.suffix}"),
        iam_burst_spec(me(world.ops), "CreateUser", 2, start, user_prefix=f"intern-{world.suffix}"),
        iam_burst_spec(iam_user(ACCOUNT, world.admin, world.keys["admin"]), "CreateUser", 5, start, user_prefix=f"temp-{world.suffix}"),
    ]
    before = {u: world.user_state(u) for u in (world.ops, world.admin)}
    world.put_cloudtrail(cloudtrail([], background_start=now - dt.timedelta(minutes=40), iam_bursts=bursts))
    report = fire(world, world.user_alarm)
    assert report["status"] == "dispatched", report
    verdicts = {p["principal"]: p["verdict"] for p in report["principals"]}
    assert verdicts[f"IAM user {world.mallory}"] == "flagged", verdicts
    assert verdicts[f"IAM user {world.ops}"] == "below_threshold", verdicts
    # THEN mallory's key is off and mallory is quarantined, as the rule's actions say
    st = world.user_state(world.mallory)
    assert st["keys"] == {world.keys[world.mallory]: "Inactive"}
    assert QUARANTINE in st["attached"]
    # AND the operator below the threshold and the protected admin are untouched
    assert {u: world.user_state(u) for u in (world.ops, world.admin)} == before
    notes = world.drain(world.notify_queue)
    assert len(notes) == 1, [n.get("Subject") for n in notes]
    body = notes[0]["Message"]
    assert "CreateUser calls" in notes[0]["Subject"], notes[0]["Subject"]
    for needle in ["rule iam-user-burst", f"user backdoor-{world.suffix}-5", f"{world.admin} is protected"]:
        assert needle in body, f"{needle!r} missing from:\n{body}"
    records = [r for r in world.incidents() if r.get("finding_id") == report["finding_id"]]
    assert len(records) == 1
    assert records[0]["finding"]["rule"] == "iam-user-burst"
    say(f"iam-user-burst: {notes[0]['Subject']}")


def test_a_key_burst_deactivates_the_keys_it_created_for_others(world):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(minutes=2)
    # the keys keythief really created (CreateDate now, after the records' eventTime)
    created = [world.iam.create_access_key(UserName=v)["AccessKey"]["AccessKeyId"] for v in world.victims]
    created_bg = world.iam.create_access_key(UserName=world.breakglass)["AccessKey"]["AccessKeyId"]
    thief = iam_user(ACCOUNT, world.thief, world.keys[world.thief])
    bursts = [
        iam_burst_spec(thief, "CreateAccessKey", 3, start, user_prefix=f"victim-{world.suffix}", key_ids=created),
        iam_burst_spec(thief, "CreateAccessKey", 1, start + dt.timedelta(seconds=70), user_prefix=f"breakglass-{world.suffix}",
                       key_ids=[created_bg]),
        # ops rotates its own key twice: below the rule's 3
        iam_burst_spec(iam_user(ACCOUNT, world.ops, world.keys[world.ops]), "CreateAccessKey", 2, start),
    ]
    ops_before = world.user_state(world.ops)
    world.put_cloudtrail(cloudtrail([], iam_bursts=bursts))
    report = fire(world, world.key_alarm)
    assert report["status"] == "dispatched", report
    verdicts = {p["principal"]: p["verdict"] for p in report["principals"]}
    assert verdicts[f"IAM user {world.thief}"] == "flagged", verdicts
    # THEN each key it created for a victim is Inactive, and the victim's own key still works
    for v, k in zip(world.victims, created):
        assert keys(world, v) == {world.keys[f"{v}/own"]: "Active", k: "Inactive"}, v
    # AND its own key is off and it is quarantined
    assert keys(world, world.thief) == {world.keys[world.thief]: "Inactive"}
    assert QUARANTINE in world.user_state(world.thief)["attached"]
    # AND the key it created for the protected user is left, and a person is told loudly
    assert keys(world, world.breakglass) == {world.keys[f"{world.breakglass}/own"]: "Active", created_bg: "Active"}
    assert world.user_state(world.ops) == ops_before
    notes = world.drain(world.notify_queue)
    assert len(notes) == 1, [n.get("Subject") for n in notes]
    body = notes[0]["Message"]
    for needle in ["rule iam-access-key-burst", f"CRITICAL: it created access key {created_bg} for {world.breakglass}",
                   *[f"key {k} of {v}" for v, k in zip(world.victims, created)]]:
        assert needle in body, f"{needle!r} missing from:\n{body}"
    records = [r for r in world.incidents() if r.get("finding_id") == report["finding_id"]]
    assert len(records) == 1
    outcomes = sorted((o["action"]["type"], o["outcome"]["status"]) for o in records[0]["outcomes"])
    assert outcomes == sorted([("deactivate_created_access_key", "applied")] * 3
                              + [("deactivate_access_key", "applied"), ("quarantine_user", "applied")]), outcomes

    # WHEN a person releases the finding THEN the victims' keys work again
    done = world.cli("release", "--finding", report["finding_id"], "--reason", "e2e: drill", "--key", world.key_ids["release"])
    assert done.returncode == 0, done.stderr
    for v, k in zip(world.victims, created):
        assert keys(world, v)[k] == "Active", v
    say(f"iam-access-key-burst: {notes[0]['Subject']}")
