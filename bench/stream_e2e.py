"""The stream path end to end on LocalStack: from PutEvents of the crossing event to the offender's key Inactive.

    .venv-localstack/bin/python bench/stream_e2e.py [RUNS]      (bench/run.py --only stream-e2e; default 5 runs)

Needs the debug builds scripts/e2e.sh makes (`cargo build --workspace --all-targets`), LocalStack
(started here unless LG_LOCALSTACK_SHARED=1) and moto's server (`scripts/venv.sh moto`) for DynamoDB.
The chain is e2e/test_stream.py's: EventBridge bus with the rendered RunInstances rule (LocalStack)
-> SQS (LocalStack) -> this script playing Lambda's SQS event source mapping (long-poll receive of
up to 10, invoke, delete what the function did not report failed) -> launchguard-stream under
`cargo lambda watch` (counters in moto's DynamoDB) -> dispatcher -> access-key and IAM handlers ->
LocalStack IAM. Each run is a fresh IAM user launching 3 x 4 instances 7 s apart (12 of the rule's
10 in 5 minutes): the first two calls are put on the bus and handled first; the clock starts just
before PutEvents of the third (the crossing event) and stops when ListAccessKeys shows the used key
Inactive (polled after each invocation and every 50 ms, deadline 60 s).

Not AWS: LocalStack and moto answer from Python processes on a shared 2-core machine; the functions
are debug builds, one process each; Lambda's real event source mapping, its batching window
(1 s in the stack) and cold starts are not in it. Output: one JSON object per run, then a summary.
"""
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from harness import ACCOUNT, FUNCTIONS, LocalStack, Moto, Scenario, Watch, burst_spec, cargo_binary, client, cloudtrail, iam_user  # noqa: E402

# deploy/render.py renders the rule's pattern with the launchguard-render scripts/e2e.sh built (as
# e2e/conftest.py does), not a `cargo run` of its own
os.environ.setdefault("LG_RENDER_BIN", str(cargo_binary("launchguard-render")))
from test_stream import DETAIL_TYPE, render, run_instances_pattern, sqs_event, stream_table  # noqa: E402

DEADLINE_S = 60.0


class Chain:
    def __init__(self, sc: Scenario, moto: Moto) -> None:
        self.sc = sc
        s = sc.suffix
        self.ddb = client("dynamodb", endpoint=moto.url)
        self.table = f"launchguard-stream-{s}"
        spec = stream_table(self.table)
        self.ddb.create_table(**spec["create"])
        self.ddb.update_time_to_live(TableName=self.table, TimeToLiveSpecification=spec["ttl"])
        self.events = client("events")
        self.bus = f"lg-stream-bench-{s}"
        self.events.create_event_bus(Name=self.bus)
        self.queue = sc.sqs.create_queue(QueueName=f"lg-stream-bench-{s}")["QueueUrl"]
        arn = sc.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_arn = arn
        # every rule the stack renders, as rendered (the function reads them back before it vouches
        # for a record: crates/stream/src/rules.rs), each named with the scenario's suffix
        self.suffix = f"-{s}"
        for res in render.rendered()["stream_resources"].values():
            p = res["Properties"]
            rule = f"{p['Name']}{self.suffix}"
            self.events.put_rule(Name=rule, EventBusName=self.bus, EventPattern=json.dumps(p["EventPattern"]), State="ENABLED")
            self.events.put_targets(Rule=rule, EventBusName=self.bus, Targets=[{"Id": "stream-queue", "Arn": arn}])
        assert run_instances_pattern()
        self.health_topic = client("sns").create_topic(Name=f"lg-health-bench-{s}")["TopicArn"]

    def put(self, records: list[dict]) -> None:
        # AWS refuses PutEvents with an `aws.*` source; LocalStack accepts it (e2e/test_stream.py)
        entries = [{"Source": "aws.ec2", "DetailType": DETAIL_TYPE, "Detail": json.dumps(r), "EventBusName": self.bus} for r in records]
        out = self.events.put_events(Entries=entries)
        assert out["FailedEntryCount"] == 0, out

    def poll_once(self) -> int:
        """One turn of the event source mapping: receive (long poll, 1 s), invoke, delete."""
        msgs = self.sc.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not msgs:
            return 0
        out = self.sc.invoke("launchguard-stream", sqs_event(msgs, self.queue_arn))
        assert out["error"] is None, out
        failed = {f["itemIdentifier"] for f in out["payload"]["batchItemFailures"]}
        assert not failed, out
        for m in msgs:
            self.sc.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
        return len(msgs)


def key_status(sc: Scenario, user: str, key: str) -> str:
    return next(k["Status"] for k in sc.iam.list_access_keys(UserName=user)["AccessKeyMetadata"] if k["AccessKeyId"] == key)


def one_run(sc: Scenario, chain: Chain, i: int) -> dict:
    user = f"stream-bench-{sc.suffix}-{i}"
    sc.iam.create_user(UserName=user)
    key = sc.iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    records = cloudtrail([burst_spec(iam_user(ACCOUNT, user, key), 3, 4, now - dt.timedelta(seconds=30), "203.0.113.9", "c5.large")])
    assert len(records) == 3, records
    # the dispatcher confirms a finding's evidence against CloudTrail's event history
    sc.put_cloudtrail(records)
    records.sort(key=lambda r: r["eventTime"])
    chain.put(records[:2])
    handled, deadline = 0, time.time() + DEADLINE_S
    while handled < 2 and time.time() < deadline:
        handled += chain.poll_once()
    assert handled == 2 and key_status(sc, user, key) == "Active", (handled, user)
    t0 = time.perf_counter()
    chain.put(records[2:])
    while time.perf_counter() - t0 < DEADLINE_S:
        chain.poll_once()
        if key_status(sc, user, key) == "Inactive":
            return {"run": i, "user": user, "put_to_inactive_ms": round((time.perf_counter() - t0) * 1000)}
        time.sleep(0.05)
    return {"run": i, "user": user, "put_to_inactive_ms": None, "missed": f"key still Active after {DEADLINE_S:.0f} s"}


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    ls, moto = LocalStack(), Moto()
    ls.start()
    watch = None
    try:
        moto.start()
        sc = Scenario()
        sc.setup()
        chain = Chain(sc, moto)
        watch = Watch(sc.function_env(AWS_ENDPOINT_URL_DYNAMODB=moto.url, LG_STREAM_TABLE=chain.table,
                                      LG_STREAM_QUEUE_ARN=chain.queue_arn, LG_STREAM_QUEUE_URL=chain.queue,
                                      LG_STREAM_EVENT_BUS=chain.bus, LG_STREAM_RULE_SUFFIX=chain.suffix, LG_HEALTH_TOPIC_ARN=chain.health_topic),
                      functions=(*FUNCTIONS, "launchguard-stream"))
        watch.start()
        # start each function's process once (watch hands it its first event then)
        for fn in ("launchguard-stream", "launchguard-dispatcher", "launchguard-accesskey-handler", "launchguard-iam-handler"):
            sc.invoke(fn, {"Records": []} if fn == "launchguard-stream" else {"warm": "up"})
        rows = []
        for i in range(runs):
            row = one_run(sc, chain, i)
            rows.append(row)
            print(json.dumps(row), flush=True)
        times = sorted(r["put_to_inactive_ms"] for r in rows if r["put_to_inactive_ms"] is not None)
        load = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps({"summary": True, "runs": runs, "contained": len(times), "p50_ms": round(statistics.median(times)) if times else None,
                          "max_ms": max(times) if times else None, "min_ms": min(times) if times else None, "load": load}), flush=True)
    finally:
        if watch:
            watch.stop()
        moto.stop()
        ls.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
