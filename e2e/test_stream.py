"""End to end, the stream path beside the alarm chain (issue 26, docs/stream.md):
CloudTrail-shaped events -> EventBridge rule (LocalStack) -> SQS (LocalStack) -> (harness) ->
launchguard-stream under `cargo lambda watch`, its counters in DynamoDB (moto's server) ->
dispatcher -> handlers -> IAM; then the alarm chain fires for the same burst and pages no second time.

The tests run in order and share one scenario.
"""
import datetime as dt
import json
import sys
import time
import uuid

import pytest

from harness import ACCOUNT, FUNCTIONS, QUARANTINE, ROOT, Moto, Scenario, Watch, burst_spec, client, cloudtrail, iam_user, say

sys.path.insert(0, str(ROOT / "deploy"))
import render  # noqa: E402

DETAIL_TYPE = "AWS API Call via CloudTrail"


def stream_table(name: str) -> dict:
    """The counter table's CreateTable arguments, read from deploy/stream.template.json (keys,
    billing) with its TTL attribute, so the test runs against the table the stack deploys."""
    props = json.loads((ROOT / "deploy/stream.template.json").read_text())["Resources"]["StreamTable"]["Properties"]
    args = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")}
    return {"create": {**args, "TableName": name}, "ttl": props["TimeToLiveSpecification"]}


def run_instances_pattern() -> dict:
    """The EventBridge pattern the stack renders for RunInstances (launchguard_core::stream_plan)."""
    rules = render.rendered()["stream_resources"]
    patterns = [r["Properties"]["EventPattern"] for r in rules.values()
                if "RunInstances" in r["Properties"]["EventPattern"]["detail"]["eventName"]]
    assert len(patterns) == 1, rules
    return patterns[0]


@pytest.fixture(scope="module")
def world(localstack):
    moto = Moto()
    sc = Scenario()
    try:
        moto.start()
        sc.moto = moto
        sc.setup()
        sc.initial = sc.state()
        s = sc.suffix
        # the counter table, in moto, as the template defines it
        sc.ddb = client("dynamodb", endpoint=moto.url)
        sc.table = f"launchguard-stream-{s}"
        spec = stream_table(sc.table)
        sc.ddb.create_table(**spec["create"])
        sc.ddb.update_time_to_live(TableName=sc.table, TimeToLiveSpecification=spec["ttl"])
        # the stream's queue and the rendered rule targeting it, on a bus of the scenario's own (the
        # stack's rule is on the default bus; the modules run in parallel on one LocalStack)
        sc.events = client("events")
        sc.bus = f"lg-stream-{s}"
        sc.events.create_event_bus(Name=sc.bus)
        sc.stream_queue = sc.sqs.create_queue(QueueName=f"lg-stream-{s}")["QueueUrl"]
        queue_arn = sc.sqs.get_queue_attributes(QueueUrl=sc.stream_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sc.stream_queue_arn = queue_arn
        sc.pattern = run_instances_pattern()
        # every rule the stack renders (the function reads them all back before it vouches for a
        # record: crates/stream/src/rules.rs), each named with the scenario's suffix
        for rule in render.rendered()["stream_resources"].values():
            p = rule["Properties"]
            sc.events.put_rule(Name=f"{p['Name']}-{s}", EventBusName=sc.bus, EventPattern=json.dumps(p["EventPattern"]), State="ENABLED")
            sc.events.put_targets(Rule=f"{p['Name']}-{s}", EventBusName=sc.bus, Targets=[{"Id": "stream-queue", "Arn": queue_arn}])
        # launchguard's health topic, read through a queue: paged when a rule is not as rendered
        sc.health_topic = client("sns").create_topic(Name=f"lg-health-{s}")["TopicArn"]
        sc.health_queue = sc.sqs.create_queue(QueueName=f"lg-health-{s}")["QueueUrl"]
        health_arn = sc.sqs.get_queue_attributes(QueueUrl=sc.health_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client("sns").subscribe(TopicArn=sc.health_topic, Protocol="sqs", Endpoint=health_arn, Attributes={"RawMessageDelivery": "false"})
        # the function vouches only for messages of this queue whose receipt handles it accepts,
        # from the rules on this bus as rendered
        env = sc.function_env(AWS_ENDPOINT_URL_DYNAMODB=moto.url, LG_STREAM_TABLE=sc.table,
                              LG_STREAM_QUEUE_ARN=queue_arn, LG_STREAM_QUEUE_URL=sc.stream_queue,
                              LG_STREAM_EVENT_BUS=sc.bus, LG_STREAM_RULE_SUFFIX=f"-{s}", LG_HEALTH_TOPIC_ARN=sc.health_topic)
        sc.watch = Watch(env, functions=(*FUNCTIONS, "launchguard-stream"))
        sc.watch.start()
        yield sc
    finally:
        if sc.__dict__.get("watch"):
            sc.watch.stop()
        moto.stop()


def put_on_bus(world, records: list[dict]) -> None:
    """PutEvents as CloudTrail's own delivery looks on the bus. AWS refuses PutEvents with a
    source starting `aws.` (only AWS services send those); LocalStack accepts it, which is what
    lets this test send the exact events the stack's rule matches (`source: aws.ec2`)."""
    entries = [{"Source": "aws.ec2", "DetailType": DETAIL_TYPE, "Detail": json.dumps(r), "EventBusName": world.bus,
                "Time": dt.datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)}
               for r in records]
    for i in range(0, len(entries), 10):
        out = world.events.put_events(Entries=entries[i:i + 10])
        assert out["FailedEntryCount"] == 0, out


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    """The exact event Lambda's SQS event source mapping sends for messages it received from
    `queue_arn`: their real receipt handles, which the function proves on its queue."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1",
    } for m in messages]}


def receive_all(world, expected: int, timeout: float = 30.0) -> list[dict]:
    """Every message of the stream queue (left on it: the test deletes them after the function)."""
    got, deadline = {}, time.time() + timeout
    while len(got) < expected and time.time() < deadline:
        for m in world.sqs.receive_message(QueueUrl=world.stream_queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           VisibilityTimeout=300).get("Messages", []):
            got[m["MessageId"]] = m
    return list(got.values())


def table_items(world) -> list[dict]:
    items, start = [], None
    while True:
        page = world.ddb.scan(TableName=world.table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def launched_per_series(items: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        if it["pk"]["S"].startswith("s#") and it["sk"]["S"].startswith("b#"):
            out[it["pk"]["S"]] = out.get(it["pk"]["S"], 0) + int(it["launched"]["N"])
    return out


def test_the_table_is_the_templates_with_its_ttl(world):
    d = world.ddb.describe_table(TableName=world.table)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in d["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    ttl = world.ddb.describe_time_to_live(TableName=world.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_the_stream_contains_the_offender_and_not_the_innocent(world):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(seconds=40)
    # ci-deployer: 3 x 4 instances 7 s apart (threshold 10 in 5 minutes); benign: 2 x 1
    bursts = [burst_spec(iam_user(ACCOUNT, world.user, world.keys["used"]), 3, 4, start, "203.0.113.7", "c5.4xlarge"),
              burst_spec(iam_user(ACCOUNT, world.benign, world.keys["benign"]), 2, 1, start, "192.0.2.55", "t3.micro")]
    world.records = cloudtrail(bursts)
    assert len(world.records) == 5
    # as CloudTrail records them (an IAM user's principalId); neither in the trail's log group nor
    # in CloudTrail's event history yet: AWS's event history holds a call minutes after it, and
    # EventBridge has it within seconds. The stream's finding, sealed with its own key, is
    # confirmed by the records AWS delivered to it (issue 26), not by LookupEvents.
    world.with_iam_ids(world.records)
    # and an event no rule watches, which never leaves the bus
    other = dict(world.records[0], eventName="DescribeInstances", eventID=str(uuid.uuid4()))
    put_on_bus(world, world.records + [other])

    messages = receive_all(world, len(world.records))
    assert len(messages) == len(world.records), [json.loads(m["Body"])["detail"]["eventName"] for m in messages]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert {b["source"] for b in bodies} == {"aws.ec2"} and {b["detail"]["eventName"] for b in bodies} == {"RunInstances"}
    world.messages = messages
    out = world.invoke("launchguard-stream", sqs_event(messages, world.stream_queue_arn))
    assert out["error"] is None, out
    assert out["payload"] == {"batchItemFailures": []}, out
    for m in messages:
        world.sqs.delete_message(QueueUrl=world.stream_queue, ReceiptHandle=m["ReceiptHandle"])

    s = world.state()
    # the used key off, the spare one on, the quarantine added
    assert s["user"]["keys"] == {world.keys["used"]: "Inactive", world.keys["spare"]: "Active"}
    assert QUARANTINE in s["user"]["attached"]
    # the innocent untouched
    assert s["benign"] == world.initial["benign"]
    assert s["benign"]["keys"] == {world.keys["benign"]: "Active"}
    notes = world.drain(world.notify_queue)
    assert len(notes) == 1, [n.get("Subject") for n in notes]
    assert notes[0]["Subject"].startswith("[launchguard] CONTAINED: 1 principal(s), 12 instances"), notes[0]["Subject"]
    assert "EventBridge stream (caught" in notes[0]["Message"], notes[0]["Message"]
    world.contained = s
    # CloudTrail's event history and the trail's log group catch up: the alarm chain reads the
    # second, and the dispatcher confirms its finding against the first
    world.put_cloudtrail(world.records)
    incidents = world.incidents()
    assert len(incidents) == 1 and incidents[0]["record_type"] == "incident"
    world.stream_finding = incidents[0]["finding_id"]
    say(f"stream contained: {notes[0]['Subject']}")


def test_dynamodb_holds_one_count_per_event_and_one_claim(world):
    # the adapter against a real DynamoDB API: each event once (conditional put by eventID), the
    # buckets ADDed, one claim per principal per incident (conditional put)
    items = table_items(world)
    assert sorted(launched_per_series(items).values()) == [2, 12], items
    events = [it for it in items if it["sk"]["S"].startswith("e#")]
    assert sorted(it["sk"]["S"].split("#")[-1] for it in events) == sorted(r["eventID"] for r in world.records)
    claims = [it for it in items if it["sk"]["S"] == "claim"]
    assert [c["finding_id"]["S"] for c in claims] == [world.stream_finding], claims
    assert all(int(it["ttl"]["N"]) > dt.datetime.now(dt.timezone.utc).timestamp() for it in items)


def test_a_redelivered_batch_counts_nothing_and_pages_no_one(world):
    # EventBridge and SQS deliver at least once: the same messages again
    before = table_items(world)
    # delivered again by the queue itself (fresh receipt handles, as a redelivery has)
    for m in world.messages:
        world.sqs.send_message(QueueUrl=world.stream_queue, MessageBody=m["Body"])
    again = receive_all(world, len(world.messages))
    assert len(again) == len(world.messages)
    out = world.invoke("launchguard-stream", sqs_event(again, world.stream_queue_arn))
    assert out["error"] is None, out
    assert out["payload"] == {"batchItemFailures": []}, out
    for m in again:
        world.sqs.delete_message(QueueUrl=world.stream_queue, ReceiptHandle=m["ReceiptHandle"])
    after = table_items(world)
    assert launched_per_series(after) == launched_per_series(before)
    assert len(after) == len(before)
    assert world.state() == world.contained
    assert world.drain(world.notify_queue, settle=2.0) == []


def test_a_front_run_copy_is_replaced_by_the_queues_delivery(world):
    # issue 26. GIVEN someone who sees the innocent user's two launches (2 x 2) on the default bus
    # first and invokes launchguard-stream with copies of them before the queue delivers them: the
    # same eventIDs, dated 40 s earlier, 1 instance each (stored unproven)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    real = cloudtrail([burst_spec(iam_user(ACCOUNT, world.benign, world.keys["benign"]), 2, 2, now - dt.timedelta(seconds=20),
                                  "192.0.2.55", "t3.micro")])
    world.with_iam_ids(real)
    forged = []
    for r in real:
        f = json.loads(json.dumps(r))
        t = dt.datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ") - dt.timedelta(seconds=40)
        f["eventTime"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        f["requestParameters"]["instancesSet"]["items"][0].update(maxCount=1, minCount=1)
        f["responseElements"]["instancesSet"]["items"] = f["responseElements"]["instancesSet"]["items"][:1]
        forged.append(f)
    before = launched_of(world, world.benign)
    messages = [{"MessageId": str(uuid.uuid4()), "ReceiptHandle": f"AQEBfrontrun{i}", "MD5OfBody": "0" * 32,
                 "Body": json.dumps({"version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPE, "source": "aws.ec2",
                                     "account": ACCOUNT, "time": r["eventTime"], "region": "us-east-1", "resources": [], "detail": r})}
                for i, r in enumerate(forged)]
    out = world.invoke("launchguard-stream", sqs_event(messages, world.stream_queue_arn))
    assert out["error"] is None and out["payload"] == {"batchItemFailures": []}, out
    assert launched_of(world, world.benign) == before + 2
    # WHEN the queue delivers AWS's own events
    put_on_bus(world, real)
    delivered = receive_all(world, len(real))
    assert len(delivered) == len(real)
    out = world.invoke("launchguard-stream", sqs_event(delivered, world.stream_queue_arn))
    assert out["error"] is None and out["payload"] == {"batchItemFailures": []}, out
    for m in delivered:
        world.sqs.delete_message(QueueUrl=world.stream_queue, ReceiptHandle=m["ReceiptHandle"])
    # THEN DynamoDB's conditional transaction replaced each copy: the real count (the copies'
    # taken out of their buckets), each eventID kept once, proven, at its real time
    assert launched_of(world, world.benign) == before + 4
    items = table_items(world)
    times = {r["eventID"]: r["eventTime"] for r in real}
    events = [it for it in items if it["sk"]["S"].startswith("e#") and it["sk"]["S"].split("#")[-1] in times]
    assert len(events) == 2 and all(e["proven"]["BOOL"] for e in events), events
    kept = [it for it in items if it["sk"]["S"].startswith("i#") and it["sk"]["S"][2:] in times]
    assert len(kept) == 2 and all(k["proven"]["BOOL"] and k["launched"]["N"] == "2" for k in kept), kept
    # AND a copy sent again after the proven delivery changes nothing
    out = world.invoke("launchguard-stream", sqs_event(messages, world.stream_queue_arn))
    assert out["error"] is None and out["payload"] == {"batchItemFailures": []}, out
    assert launched_of(world, world.benign) == before + 4
    # AND the innocent (6 instances in all) is untouched and no one is paged
    assert world.state()["benign"]["keys"] == {world.keys["benign"]: "Active"}
    assert world.drain(world.notify_queue, settle=2.0) == []


def test_the_alarm_chain_for_the_same_burst_pages_no_second_time(world):
    alarm = world.fire_alarm()
    assert json.loads(alarm["Message"])["NewStateValue"] == "ALARM"
    out = world.bridge(alarm)
    assert out["error"] is None, out
    report = out["payload"]
    flagged = {p["principal"] for p in report["principals"] if p["verdict"] == "flagged"}
    assert flagged == {f"IAM user {world.user}"}, report["principals"]
    assert report["finding_id"] != world.stream_finding
    # the ledger makes it an "already contained" no-op: no second page, nothing changed
    assert world.drain(world.notify_queue, settle=3.0) == []
    assert world.state() == world.contained


# ---------- bad input on a queue with its dead-letter queue, as deploy/stream.template.json makes it ----------

def max_receive_count() -> int:
    """The stack's `maxReceiveCount` (its parameter's default): deliveries before the DLQ."""
    return int(json.loads((ROOT / "deploy/stream.template.json").read_text())["Parameters"]["MaxReceiveCount"]["Default"])


def dead_letter_pair(world, name: str) -> tuple[str, str, str]:
    """A queue whose RedrivePolicy sends a message to its dead-letter queue after the stack's
    `maxReceiveCount`, and a bus whose rendered RunInstances rule targets it. Returns the bus,
    the queue URL and the dead-letter queue's URL."""
    s = world.suffix
    dlq = world.sqs.create_queue(QueueName=f"lg-{name}-dl-{s}")["QueueUrl"]
    dlq_arn = world.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # a short visibility timeout so that a failed message is delivered again within the test
    queue = world.sqs.create_queue(QueueName=f"lg-{name}-{s}", Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count())})})["QueueUrl"]
    arn = world.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = f"lg-{name}-{s}"
    world.events.create_event_bus(Name=bus)
    world.events.put_rule(Name=f"launchguard-{name}-ec2-{s}", EventBusName=bus, EventPattern=json.dumps(world.pattern), State="ENABLED")
    world.events.put_targets(Rule=f"launchguard-{name}-ec2-{s}", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    return bus, queue, dlq


def on_bus(world, bus: str, records: list[dict]) -> None:
    entries = [{"Source": "aws.ec2", "DetailType": DETAIL_TYPE, "Detail": json.dumps(r), "EventBusName": bus} for r in records]
    out = world.events.put_events(Entries=entries)
    assert out["FailedEntryCount"] == 0, out


def forwarded(record: dict, account: str, region: str) -> str:
    """The SQS body of an event as EventBridge delivers it from another account's or region's bus
    (a cross-account or cross-region rule keeps the source's `account` and `region`). LocalStack's
    buses do not forward between accounts, so the test sends this body to the queue itself."""
    return json.dumps({"version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPE, "source": "aws.ec2", "account": account,
                       "time": record["eventTime"], "region": region, "resources": [],
                       "detail": dict(record, recipientAccountId=account, awsRegion=region)})


def wait_visible(world, queue: str, n: int, timeout: float = 30.0) -> None:
    """Wait until `n` messages are on the queue, so that the first batch holds them all."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = world.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        if int(got["ApproximateNumberOfMessages"]) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"not {n} messages on {queue} within {timeout}s")


def poll_like_the_event_source_mapping(world, queue: str, dlq: str, expect_dead: int, timeout: float = 90.0) -> list[dict]:
    """Play Lambda's SQS event source mapping until `expect_dead` messages rest in the DLQ:
    receive a batch (up to 10), invoke the function with it, delete every message not named in
    `batchItemFailures` (ReportBatchItemFailures); a failed message comes back after the
    visibility timeout and, once received `maxReceiveCount` times, SQS moves it to the DLQ.
    Returns each invocation's batch ids and failed ids."""
    rounds, deadline = [], time.time() + timeout
    while time.time() < deadline:
        msgs = world.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                         AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
        if msgs:
            arn = world.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            out = world.invoke("launchguard-stream", sqs_event(msgs, arn))
            assert out["error"] is None, out
            failed = {f["itemIdentifier"] for f in out["payload"]["batchItemFailures"]}
            for m in msgs:
                if m["MessageId"] not in failed:
                    world.sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            rounds.append({"batch": {m["MessageId"]: m["Body"] for m in msgs}, "failed": failed})
        attrs = world.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        left = world.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if int(attrs["ApproximateNumberOfMessages"]) >= expect_dead and int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) == 0:
            return rounds
    raise AssertionError(f"not {expect_dead} messages in the DLQ within {timeout}s: {rounds}")


def dead_letters(world, dlq: str) -> list[str]:
    got, quiet = {}, 0
    while quiet < 2:
        msgs = world.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=300).get("Messages", [])
        quiet = 0 if msgs else quiet + 1
        got.update({m["MessageId"]: m["Body"] for m in msgs})
    return list(got.values())


def launched_of(world, user: str) -> int:
    return sum(v for k, v in launched_per_series(table_items(world)).items() if user.lower() in k)


def log_since(world, offset: int) -> str:
    with open(world.watch.log, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def test_a_poison_message_rests_in_the_dlq_after_max_receive_count_and_never_blocks_its_batch(world):
    bus, queue, dlq = dead_letter_pair(world, "poison")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    bystander = f"bystander-{world.suffix}"
    good = cloudtrail([burst_spec(iam_user(ACCOUNT, bystander, "LKIAEXAMPLEBYSTAND01"), 3, 1, now - dt.timedelta(seconds=30), "192.0.2.56", "t3.micro")])
    # through the bus: a RunInstances record the rule matches but that names no principal
    nameless = dict(good[0], eventID=str(uuid.uuid4()))
    nameless.pop("userIdentity")
    on_bus(world, bus, good + [nameless])
    # on the queue itself (EventBridge never sends these): a body that is not JSON, and an
    # envelope whose detail is not a CloudTrail record
    not_json = "{\"detail-type\": \"AWS API Call via CloudTrail\", this is not JSON"
    bad_envelope = json.dumps({"version": "0", "detail-type": DETAIL_TYPE, "source": "aws.ec2", "account": ACCOUNT,
                               "region": "us-east-1", "detail": "RunInstances by nobody"})
    for body in (not_json, bad_envelope):
        world.sqs.send_message(QueueUrl=queue, MessageBody=body)
    wait_visible(world, queue, 6)

    rounds = poll_like_the_event_source_mapping(world, queue, dlq, expect_dead=3)

    # every invocation reported exactly its poison messages failed, never a good one of its batch
    def is_poison(body: str) -> bool:
        try:
            detail = json.loads(body).get("detail")
        except ValueError:
            return True
        return not isinstance(detail, dict) or "userIdentity" not in detail

    for r in rounds:
        assert r["failed"] == {i for i, b in r["batch"].items() if is_poison(b)}, r
    assert any(len(r["batch"]) > len(r["failed"]) > 0 for r in rounds), "no batch held good and poison messages together"
    # each poison message was handed to the function maxReceiveCount times, then SQS moved it
    tries = {}
    for r in rounds:
        for i in r["failed"]:
            tries[i] = tries.get(i, 0) + 1
    assert sorted(tries.values()) == [max_receive_count()] * 3, tries
    dead = dead_letters(world, dlq)
    assert len(dead) == 3, dead
    assert {not_json, bad_envelope} <= set(dead)
    assert [b for b in dead if b not in (not_json, bad_envelope)] and all(is_poison(b) for b in dead)
    # the good events of the same batches counted once each, and nothing else was written for them
    assert launched_of(world, bystander) == 3
    assert world.drain(world.notify_queue, settle=2.0) == []


def test_an_event_of_an_account_or_region_not_configured_is_refused_not_counted_and_logged(world):
    bus, queue, dlq = dead_letter_pair(world, "scope")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    stranger = f"stranger-{world.suffix}"
    other_account = f"{uuid.uuid4().int % 10**12:012d}"
    if other_account == ACCOUNT:
        other_account = "999988887777"
    # a burst well over the threshold (5 x 4), delivered from another account's bus and from
    # another region's, and one record on our bus naming another account as its recipient
    burst = cloudtrail([burst_spec(iam_user(other_account, stranger, "LKIAEXAMPLESTRANGE01"), 5, 4, now - dt.timedelta(seconds=40), "203.0.113.66", "c5.4xlarge")])
    from_account = [forwarded(r, other_account, "us-east-1") for r in burst]
    from_region = [forwarded(dict(r, eventID=str(uuid.uuid4())), ACCOUNT, "ap-southeast-4") for r in burst]
    for body in from_account + from_region:
        world.sqs.send_message(QueueUrl=queue, MessageBody=body)
    mismatched = dict(burst[0], eventID=str(uuid.uuid4()), recipientAccountId=other_account)
    on_bus(world, bus, [mismatched])
    wait_visible(world, queue, 11)
    offset = world.watch.log.stat().st_size

    rounds = poll_like_the_event_source_mapping(world, queue, dlq, expect_dead=11)

    # every one refused (failed in each batch response, then in the DLQ), none counted, no page
    assert all(r["failed"] == set(r["batch"]) for r in rounds), rounds
    assert len(dead_letters(world, dlq)) == 11
    assert launched_of(world, stranger) == 0
    assert not [it for it in table_items(world) if stranger.lower() in it["pk"]["S"]]
    assert world.drain(world.notify_queue, settle=2.0) == []
    # and the function says why in its log
    log = log_since(world, offset)
    refused = [line for line in log.splitlines() if "event refused" in line]
    assert any(other_account in line and "is not one this function watches" in line for line in refused), refused[-5:]
    assert any("ap-southeast-4" in line and "is not one this function watches" in line for line in refused), refused[-5:]
    assert any("recipientAccountId is not its envelope" in line for line in refused), refused[-5:]


# ---------- atk finding 1: a direct invoke of the function with a batch someone wrote ----------

def test_a_batch_handed_to_the_function_directly_is_counted_but_contains_no_one(world):
    # GIVEN someone with lambda:InvokeFunction on launchguard-stream, who writes the batch Lambda
    # would deliver: the stream queue's real ARN, receipt handles of its own making, and a burst
    # "by" the innocent user (3 x 4) that never happened (CloudTrail holds none of it)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    forged = cloudtrail([burst_spec(iam_user(ACCOUNT, world.benign, world.keys["benign"]), 3, 4, now - dt.timedelta(seconds=30),
                                    "198.51.100.9", "c5.4xlarge")])
    world.with_iam_ids(forged)
    messages = [{"MessageId": str(uuid.uuid4()), "ReceiptHandle": f"AQEBforged{i}", "MD5OfBody": "0" * 32,
                 "Body": json.dumps({"version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPE, "source": "aws.ec2",
                                     "account": ACCOUNT, "time": r["eventTime"], "region": "us-east-1", "resources": [], "detail": r})}
                for i, r in enumerate(forged)]
    offset = world.watch.log.stat().st_size
    # WHEN it invokes the function with them
    out = world.invoke("launchguard-stream", sqs_event(messages, world.stream_queue_arn))
    # THEN the queue refuses the handles: every message is still counted (nothing failed), none
    # is vouched for, and the function's log says why
    assert out["error"] is None, out
    assert out["payload"] == {"batchItemFailures": []}, out
    log = log_since(world, offset)
    unproven = [line for line in log.splitlines() if "not proven to come from the stream's queue" in line]
    assert len(unproven) >= len(messages), log[-2000:]
    # AND the dispatcher, finding nothing in CloudTrail's event history, contains no one
    page = world.wait_message(world.notify_queue, 150)
    assert not page["Subject"].startswith("[launchguard] CONTAINED"), page["Subject"]
    assert "not proven sent by the stream's queue" in page["Message"], page["Message"][:2000]
    assert world.state()["benign"]["keys"] == {world.keys["benign"]: "Active"}


def test_a_stream_rule_rewritten_with_an_input_transformer_contains_no_one_and_pages_health(world):
    """Task tgt (issues 32 and 26): whoever may events:PutTargets on a launchguard-stream rule (an
    account without the example SCP) makes the genuine rule deliver bodies AWS never sent: they
    pass the queue's policy (the genuine rule's aws:SourceArn) and the queue's proof (the genuine
    queue delivers them). The function reads its rules back before it vouches for a record."""
    s = world.suffix
    rule = f"launchguard-stream-ec2-{s}"
    iam = client("iam")
    victim = f"lg-oncall-{s}"
    iam.create_user(UserName=victim)
    victim_key = iam.create_access_key(UserName=victim)["AccessKey"]["AccessKeyId"]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    record = cloudtrail([burst_spec(iam_user(ACCOUNT, victim, victim_key), 1, 4, now - dt.timedelta(seconds=20), "198.51.100.77", "c5.4xlarge")])[0]
    world.with_iam_ids([record])
    # GIVEN the rule's queue target rewritten: for each RunInstances it matches, a launch of 4 "by"
    # the on-call user, under the matched event's own id and time
    body = {"version": "0", "id": "<id>", "detail-type": DETAIL_TYPE, "source": "aws.ec2", "account": ACCOUNT, "time": "<time>",
            "region": "us-east-1", "resources": [], "detail": dict(record, eventID="<eid>", eventTime="<time>")}
    world.events.put_targets(Rule=rule, EventBusName=world.bus, Targets=[{
        "Id": "stream-queue", "Arn": world.stream_queue_arn,
        "InputTransformer": {"InputPathsMap": {"id": "$.id", "eid": "$.detail.eventID", "time": "$.detail.eventTime"},
                             "InputTemplate": json.dumps(body)}}])
    try:
        # WHEN three ordinary launches of one instance by the innocent user reach the bus
        calls = cloudtrail([burst_spec(iam_user(ACCOUNT, world.benign, world.keys["benign"]), 3, 1, now - dt.timedelta(seconds=18),
                                       "192.0.2.56", "t3.micro")])
        world.with_iam_ids(calls)
        put_on_bus(world, calls)
        messages = receive_all(world, len(calls))
        assert len(messages) == len(calls), messages
        written = [json.loads(m["Body"]) for m in messages]
        assert {w["detail"]["userIdentity"]["userName"] for w in written} == {victim}, [w["detail"]["userIdentity"] for w in written]
        offset = world.watch.log.stat().st_size
        out = world.invoke("launchguard-stream", sqs_event(messages, world.stream_queue_arn))
        for m in messages:
            world.sqs.delete_message(QueueUrl=world.stream_queue, ReceiptHandle=m["ReceiptHandle"])
        assert out["error"] is None and out["payload"] == {"batchItemFailures": []}, out
        # THEN the queue proved them (they came through the genuine rule), the burst is found, but
        # no record is vouched for: the dispatcher, finding nothing in CloudTrail, contains no one
        log = log_since(world, offset)
        assert "not proven to come from the stream's queue" not in log, log[-2000:]
        page = world.wait_message(world.notify_queue, 150)
        assert not page["Subject"].startswith("[launchguard] CONTAINED"), page["Subject"]
        assert "a stream rule is not as rendered" in page["Message"], page["Message"][:2000]
        keys = iam.list_access_keys(UserName=victim)["AccessKeyMetadata"]
        assert [k["Status"] for k in keys] == ["Active"], keys
        # AND launchguard's health topic is paged with what differs
        health = world.wait_message(world.health_queue, 30)
        assert f"{rule}: target stream-queue rewrites the event with an InputTransformer" in health["Message"], health["Message"][:2000]
    finally:
        world.events.put_targets(Rule=rule, EventBusName=world.bus, Targets=[{"Id": "stream-queue", "Arn": world.stream_queue_arn}])
