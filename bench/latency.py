"""Containment latency on LocalStack for 1, 10 and 100 flagged IAM users.

    .venv-localstack/bin/python bench/latency.py      (part of `make bench`; needs release builds)

The functions run as release builds (8 processes each) behind `cargo lambda watch --only-lambda-apis`; the chain is the real
one (SNS alarm message -> bridge -> detector -> dispatcher -> handlers -> LocalStack IAM). The
detector is invoked synchronously here and `cargo lambda watch` runs the asynchronous dispatcher
invocation inline, so the invocation returns after the last IAM change. Containment latency is
that time minus the time the detector spent reading CloudTrail (reported apart).
Each flagged user launched 12 instances with its own key: 2 actions per user (deactivate the key,
quarantine the user), with the dispatcher's default concurrency of 8.
"""
import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from harness import ACCOUNT, LocalStack, Scenario, Watch, burst_spec, cloudtrail, iam_user  # noqa: E402


def run_case(n: int) -> dict:
    sc = Scenario()
    sc.setup()
    users = []
    for i in range(n):
        name = f"burst-{sc.suffix}-{i:03d}"
        sc.iam.create_user(UserName=name)
        users.append((name, sc.iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    bursts = [burst_spec(iam_user(ACCOUNT, name, key), 3, 4, now - dt.timedelta(minutes=2), "203.0.113.9", "c5.large") for name, key in users]
    sc.put_cloudtrail(cloudtrail(bursts, background_start=now - dt.timedelta(minutes=40)))
    # like Lambda, up to 8 instances of a function at once (watch's default is 1)
    watch = Watch(sc.function_env(LG_MAX_CONCURRENCY="8"), release=True, concurrency=8)
    watch.start()
    try:
        # start each function's process once (watch spawns them on first use)
        for fn in ("launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler", "launchguard-iam-handler"):
            sc.invoke(fn, {"warm": "up"})
        msg = sc.fire_alarm()
        t0 = time.perf_counter()
        out = sc.bridge(msg)
        total = (time.perf_counter() - t0) * 1000
    finally:
        watch.stop()
    report = out["payload"]
    assert out["error"] is None and report["status"] == "dispatched", out
    timings = dict(report["timings_ms"])
    read = timings.get("read", 0) + timings.get("fallback_read", 0)
    inactive = sum(1 for name, key in users if sc.iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive")
    assert inactive == n, f"{inactive} of {n} keys deactivated"
    flagged = sum(1 for p in report["principals"] if p["verdict"] == "flagged")
    return {"principals": n, "flagged": flagged, "actions": 2 * n, "query_wait_ms": read, "containment_ms": round(total - read), "total_ms": round(total)}


def main() -> int:
    ls = LocalStack()
    ls.start()
    try:
        for n in (1, 10, 100):
            print(json.dumps(run_case(n)), flush=True)
    finally:
        ls.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
