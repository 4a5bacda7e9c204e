"""`launchguard scan s3://bucket/prefix` on LocalStack S3: an archive uploaded as a trail delivers
it (gzip delivery files under AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/, a digest file
beside them, one file cut short), listed and streamed with aws-sdk-s3.

Needs only S3: it uses the session's `localstack` fixture (conftest.py; LG_LOCALSTACK_PORT picks
the port) and the `launchguard` binary that scripts/e2e.sh builds (target/debug, or
$CARGO_TARGET_DIR).
"""
import gzip
import json
import os
import subprocess
from pathlib import Path

from harness import ENDPOINT, REGION, ROOT, client

BUCKET = "lg-scan-trail"
PREFIX = "AWSLogs/111122223333/CloudTrail/us-east-1"
BIN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug/launchguard"


def bursts_spec() -> str:
    actor = {"type": "iam_user", "account": "111122223333", "name": "s3-miner", "key": "AKIAEXAMPLES3MINER01"}
    return json.dumps({"background_start": "2026-03-01T23:50:00Z",
                       "bursts": [{"actor": actor, "calls": 12, "per_call": 1, "start": "2026-03-01T23:59:50Z", "spacing_seconds": 2}]})


def records() -> list[dict]:
    out = subprocess.run([str(BIN.parent / "launchguard-bursts")], input=bursts_spec(), capture_output=True, text=True, check=True, cwd=ROOT)
    return [json.loads(l) for l in out.stdout.splitlines()]


def test_an_s3_prefix_is_listed_and_streamed(localstack):
    # GIVEN the real background and a burst across midnight, delivered as gzip files in two day
    # folders, a digest file, and a file whose gzip stops half way
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    rs = records()
    burst = [r for r in rs if r.get("userIdentity", {}).get("userName") == "s3-miner"]
    background = [r for r in rs if r not in burst]
    day1, day2 = [r for r in burst if r["eventTime"] < "2026-03-02"], [r for r in burst if r["eventTime"] >= "2026-03-02"]
    assert day1 and day2
    put = lambda key, body: s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    put(f"{PREFIX}/2026/03/01/bg.json.gz", gzip.compress(json.dumps({"Records": background}).encode()))
    put(f"{PREFIX}/2026/03/01/burst-a.json.gz", gzip.compress(json.dumps({"Records": day1}).encode()))
    put(f"{PREFIX}/2026/03/02/burst-b.json.gz", gzip.compress(json.dumps({"Records": day2}).encode()))
    cut = gzip.compress(json.dumps({"Records": background[:500]}).encode())
    put(f"{PREFIX}/2026/03/02/cut.json.gz", cut[: len(cut) // 2])
    put("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/03/02/digest.json.gz", gzip.compress(b'{"digestEndTime":"x"}'))

    # WHEN the prefix is scanned with the emulator's endpoint
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": ENDPOINT, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION}
    out = subprocess.run([str(BIN), "scan", "--json", f"s3://{BUCKET}/AWSLogs/"], capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(out.stdout)

    # THEN four objects are read (the digest skipped), the cut one is named, and the exit status says
    # a burst was flagged (3 wins over 1, "some input not read whole": the report names both)
    assert out.returncode == 3, out.stderr
    assert report["inputs"]["listed"] == 4
    assert [i["input"] for i in report["incomplete_inputs"]] == [f"s3://{BUCKET}/{PREFIX}/2026/03/02/cut.json.gz"]
    assert len(background) + len(burst) < report["stats"]["rows"] < len(background) + len(burst) + 500
    # AND the burst across the two files and days is one flagged burst
    miner = [b for b in report["bursts"] if "s3-miner" in json.dumps(b["principal"])]
    assert len(miner) == 1 and miner[0]["verdict"] == "flagged"
    assert (miner[0]["calls"], miner[0]["start"], miner[0]["access_keys"]) == (12, "2026-03-01T23:59:50Z", ["AKIAEXAMPLES3MINER01"])
