"""The launchguard chain on LocalStack, driven through the AWS APIs.

Shared by the end-to-end tests (test_e2e.py) and the demo (demo.py). It:
- starts LocalStack (scripts/localstack.sh) and `cargo lambda watch --only-lambda-apis` (the real
  Lambda Invoke API on 127.0.0.1), with the five functions' binaries behind it,
- serves CloudTrail's event history (LookupEvents) from the records it delivered,
- creates the account's resources (CloudTrail log group, alarm, topics, queues,
  incident log group, IAM users, keys, roles, a protected break-glass admin),
- simulates CloudTrail delivery with PutLogEvents: real background records from fixtures/ plus
  injected RunInstances bursts, both printed by the Rust test kit's `launchguard-bursts`,
- fires the alarm, and plays Lambda's SNS trigger (the "bridge", see docs/how-it-works.md): it reads the alarm's
  SNS message from an SQS queue and invokes the detector with the exact event Lambda would send.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(os.environ.get("LG_RUN_DIR", ROOT / ".lg-run"))
LS_PORT = int(os.environ.get("LG_LOCALSTACK_PORT", "4566"))
# pytest-xdist runs the test modules in parallel (scripts/e2e.sh): each worker ("gw0", "gw1", ...)
# serves the functions on a port of its own and keeps its own watch log and pid file, while all of
# them share one LocalStack (every scenario's resources carry a unique suffix).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
WORKER_INDEX = int(WORKER[2:]) if WORKER.startswith("gw") and WORKER[2:].isdigit() else 0
WATCH_PORT = int(os.environ.get("LG_WATCH_PORT", "9000")) + WORKER_INDEX
ENDPOINT = f"http://127.0.0.1:{LS_PORT}"
WATCH = f"http://127.0.0.1:{WATCH_PORT}"
REGION = "us-east-1"
ACCOUNT = "000000000000"
QUARANTINE = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
# policy name -> its document in policies/containment/ (the guard is created twice, see render.py)
CONTAINMENT_POLICIES = {"launchguard-quarantine-guard": "launchguard-quarantine-guard",
                        "launchguard-quarantine-guard-beside": "launchguard-quarantine-guard",
                        "launchguard-quarantine": "launchguard-quarantine", "launchguard-revoke-sessions": "launchguard-revoke-sessions"}


def say(msg: str) -> None:
    print(f"[launchguard] {msg}", flush=True)


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def session():
    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)




def client(name: str, endpoint: str = ENDPOINT, attempts: int = 3):
    cfg = BotoConfig(retries={"total_max_attempts": attempts, "mode": "standard"}, read_timeout=900, connect_timeout=5)
    return session().client(name, endpoint_url=endpoint, config=cfg)


class LocalStack:
    """LocalStack on 127.0.0.1, started and stopped by the project's script."""

    def __init__(self) -> None:
        # scripts/e2e.sh starts one LocalStack for every worker and stops it at the end
        self.shared = os.environ.get("LG_LOCALSTACK_SHARED") == "1"

    def start(self) -> None:
        if self.shared:
            if not port_busy(LS_PORT):
                raise RuntimeError(f"LG_LOCALSTACK_SHARED=1 but nothing listens on 127.0.0.1:{LS_PORT}")
            return
        subprocess.run([str(ROOT / "scripts/localstack.sh"), "start"], check=True)

    def stop(self) -> None:
        if not self.shared:
            subprocess.run([str(ROOT / "scripts/localstack.sh"), "stop"], check=False)


FUNCTIONS = ("launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler",
             "launchguard-iam-handler", "launchguard-ec2-handler")


class Watch:
    """The five functions behind the real Lambda Invoke API on 127.0.0.1, with the given environment.

    `cargo lambda watch --only-lambda-apis` serves the Invoke and runtime APIs; the functions are
    the binaries scripts/e2e.sh built (target/debug, or target/release with `release`), started
    here, `concurrency` processes each, with the environment Lambda gives them. `cargo lambda
    watch` alone would `cargo run` each function, which resolves features without the
    dev-dependencies and so compiles the AWS SDK a second time beside the test build."""

    def __init__(self, env: dict[str, str], release: bool = False, concurrency: int = 1, functions: tuple[str, ...] = FUNCTIONS):
        self.env = env
        self.names = functions
        self.release = release
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.functions: list[subprocess.Popen] = []
        self.log = RUN / f"watch-{WORKER}.log"

    def binary(self, name: str) -> Path:
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        path = target / ("release" if self.release else "debug") / name
        if not path.is_file():
            build = "cargo build --release --bins" if self.release else "cargo build --workspace --all-targets"
            raise FileNotFoundError(f"{path} is not built: run `{build}` (scripts/e2e.sh does)")
        return path

    def start(self) -> None:
        if port_busy(WATCH_PORT):
            raise RuntimeError(f"port {WATCH_PORT} on 127.0.0.1 is in use: stop what runs there or set LG_WATCH_PORT")
        binaries = {name: self.binary(name) for name in self.names}
        env = {**os.environ, **self.env}
        env["PATH"] = f"{ROOT / '.venv-tools/bin'}:{env['PATH']}"
        RUN.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                ["cargo", "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port", str(WATCH_PORT)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0,
            )
        # its process group (the functions join it), for scripts/stop.sh when this process dies before stop() runs
        (RUN / f"watch-{WORKER}.pid").write_text(str(self.proc.pid))
        deadline = time.time() + 120
        while not port_busy(WATCH_PORT):
            if self.proc.poll() is not None:
                raise RuntimeError(f"cargo lambda watch exited; see {self.log}")
            if time.time() > deadline:
                raise RuntimeError(f"cargo lambda watch did not listen on {WATCH_PORT}; see {self.log}")
            time.sleep(0.2)
        with open(self.log, "ab") as out:
            for name, path in binaries.items():
                for _ in range(self.concurrency):
                    fenv = {**env, "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": "1",
                            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "4096", "AWS_LAMBDA_MAX_CONCURRENCY": "1",
                            "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{WATCH_PORT}/.rt/{name}"}
                    # in the watch's process group, so that scripts/stop.sh ends them with it
                    self.functions.append(subprocess.Popen([str(path)], cwd=ROOT, env=fenv, stdout=out, stderr=subprocess.STDOUT,
                                                           process_group=self.proc.pid))

    def stop(self) -> None:
        for f in self.functions:
            if f.poll() is None:
                f.terminate()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        for f in self.functions:
            try:
                f.wait(timeout=10)
            except subprocess.TimeoutExpired:
                f.kill()
        self.functions = []
        self.proc = None
        (RUN / f"watch-{WORKER}.pid").unlink(missing_ok=True)
        deadline = time.time() + 10
        while port_busy(WATCH_PORT) and time.time() < deadline:
            time.sleep(0.2)


def files_under(record: dict, key: str, value: str) -> bool:
    """True when CloudTrail files `record` under the lookup attribute `key` = `value`: `Username`
    is an IAM user's name, a role session's name, `root` for the root user; `AccessKeyId` the key
    used (as `MemoryTrail` in crates/aws/src/trail.rs)."""
    who = record.get("userIdentity") or {}
    if key == "AccessKeyId":
        return who.get("accessKeyId") == value
    if key == "Username":
        name = {"IAMUser": who.get("userName"), "Root": "root"}.get(who.get("type"), (who.get("arn") or "").rsplit("/", 1)[-1])
        return name == value
    return False


# moto's server (scripts/requirements-moto.txt): the DynamoDB of the stream detector's tests.
# LocalStack's DynamoDB downloads an engine at start and cannot run here. One port per worker:
# LG_MOTO_PORT, else LG_WATCH_PORT's base less 4000 (9000 -> 5000, moto's own default).
MOTO_PORT = int(os.environ.get("LG_MOTO_PORT", str(int(os.environ.get("LG_WATCH_PORT", "9000")) - 4000))) + WORKER_INDEX
MOTO = f"http://127.0.0.1:{MOTO_PORT}"


class Moto:
    """`moto_server` on 127.0.0.1:MOTO_PORT from .venv-moto, started and stopped here (its pid in
    .lg-run/watch-moto-<worker>.pid, so that scripts/stop.sh ends it when this process died first)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.url = MOTO
        self.pidfile = RUN / f"watch-moto-{WORKER}.pid"

    def start(self) -> None:
        binary = ROOT / ".venv-moto/bin/moto_server"
        if not binary.is_file():
            raise FileNotFoundError(f"{binary} is missing: run `scripts/venv.sh moto` (scripts/e2e.sh does)")
        if port_busy(MOTO_PORT):
            raise RuntimeError(f"port {MOTO_PORT} on 127.0.0.1 is in use: stop what runs there or set LG_MOTO_PORT")
        RUN.mkdir(parents=True, exist_ok=True)
        with open(RUN / f"moto-{WORKER}.log", "ab") as out:
            self.proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(MOTO_PORT)], cwd=ROOT,
                                         stdout=out, stderr=subprocess.STDOUT, process_group=0)
        self.pidfile.write_text(str(self.proc.pid))
        deadline = time.time() + 60
        while not port_busy(MOTO_PORT):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server did not listen on {MOTO_PORT}; see {RUN}/moto-{WORKER}.log")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None
        self.pidfile.unlink(missing_ok=True)


class EventHistory:
    """CloudTrail's event history (LookupEvents by EventId, or by Username or AccessKeyId over a
    time range, paged) for the functions: neither LocalStack
    nor moto serves LookupEvents, so this worker answers it from the records the scenarios
    delivered (Scenario.put_cloudtrail registers them; a record written to a log group any other
    way is not here, as a forged log record is not in CloudTrail). The dispatcher confirms a
    finding's evidence through it before any containment (crates/responder-dispatcher/src/confirm.rs)."""

    _shared: "EventHistory | None" = None

    def __init__(self):
        self.records: dict[str, dict] = {}
        self.lock = threading.Lock()
        history = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                if not target.endswith(".LookupEvents"):
                    return self.answer(400, {"__type": "UnsupportedOperationException", "message": f"e2e event history serves LookupEvents only, not {target}"})
                attrs = body.get("LookupAttributes", [])
                ids = [a.get("AttributeValue") for a in attrs if a.get("AttributeKey") == "EventId"]
                when = lambda r: dt.datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
                page: dict = {}
                with history.lock:
                    if ids:
                        found = [history.records[i] for i in ids if i in history.records]
                    else:
                        # by who made the calls (Username, AccessKeyId) over [StartTime, EndTime], newest
                        # first, MaxResults a page, NextToken the position of the next page
                        who = [(a.get("AttributeKey"), a.get("AttributeValue")) for a in attrs]
                        start, end = float(body.get("StartTime", 0)), float(body.get("EndTime", 2**40))
                        hits = sorted((r for r in history.records.values() if who and files_under(r, *who[0]) and start <= when(r) <= end),
                                      key=when, reverse=True)
                        at, size = int(body.get("NextToken") or 0), int(body.get("MaxResults") or 50)
                        found = hits[at:at + size]
                        if at + size < len(hits):
                            page["NextToken"] = str(at + size)
                events = [{"EventId": r["eventID"], "EventName": r.get("eventName"), "EventSource": r.get("eventSource"),
                           "EventTime": when(r), "CloudTrailEvent": json.dumps(r)} for r in found]
                self.answer(200, {"Events": events, **page})

            def answer(self, status: int, doc: dict):
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @classmethod
    def shared(cls) -> "EventHistory":
        """One per test process (pytest-xdist worker), serving every scenario of it."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def add(self, records: list[dict]) -> None:
        with self.lock:
            for r in records:
                if "eventID" in r:
                    self.records[r["eventID"]] = r


class IamFaults:
    """An HTTP proxy between the functions and LocalStack's IAM that can fail chosen IAM actions
    with 503 ServiceUnavailable: IAM unreachable for one handler while the other works."""

    def __init__(self):
        self.failing: set[str] = set()
        faults = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = next((kv.split("=", 1)[1] for kv in body.decode(errors="replace").split("&") if kv.startswith("Action=")), "")
                if action in faults.failing:
                    err = (b"<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
                           b"<Message>injected by the e2e fault proxy</Message></Error><RequestId>e2e</RequestId></ErrorResponse>")
                    self.send_response(503)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(err)))
                    self.end_headers()
                    self.wfile.write(err)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                req = urllib.request.Request(ENDPOINT + self.path, data=body, headers=headers, method="POST")
                try:
                    resp = urllib.request.urlopen(req, timeout=60)
                    status, data, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "text/xml")
                except urllib.error.HTTPError as e:
                    status, data, ctype = e.code, e.read(), e.headers.get("Content-Type", "text/xml")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------- CloudTrail: the Rust test kit's `launchguard-bursts` is the only generator ----------
_SEEDS = itertools.count(1)


def cargo_binary(name: str) -> Path:
    """A binary of the workspace as `cargo build --workspace --bins` (scripts/e2e.sh, demo.sh) or
    `cargo build --release --bins` (bench/run.py) left it under $CARGO_TARGET_DIR or target/: the
    newer of debug and release."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    found = [p for p in (target / "debug" / name, target / "release" / name) if p.is_file()]
    if not found:
        raise FileNotFoundError(f"{name} is not built under {target}/debug or {target}/release: run `cargo build --workspace --bins`")
    return max(found, key=lambda p: p.stat().st_mtime)


def iam_user(account: str, name: str, key: str) -> dict:
    """An IAM user launching with its access key (the `actor` of a burst)."""
    return {"type": "iam_user", "account": account, "name": name, "key": key}


def assumed_role(account: str, role: str, session: str, key: str) -> dict:
    """A session of a role launching with its temporary key (ASIA...)."""
    return {"type": "assumed_role", "account": account, "role": role, "session": session, "key": key}


def autoscaling(account: str) -> dict:
    """Auto Scaling's service-linked role (launches from autoscaling.amazonaws.com)."""
    return {"type": "autoscaling", "account": account}


def burst_spec(actor: dict, calls: int, per_call: int, start: dt.datetime, source_ip: str | None = None,
               instance_type: str | None = None) -> dict:
    """`calls` RunInstances calls of `per_call` instances each, 7 s apart from `start` (whole
    seconds). Each burst gets a seed of its own in this process, so that records delivered to one
    log group never share an eventID (the detector de-duplicates by it)."""
    spec = {"actor": actor, "calls": calls, "per_call": per_call, "start": iso(start), "seed": next(_SEEDS)}
    if source_ip is not None:
        spec["source_ip"] = source_ip
    if instance_type is not None:
        spec["instance_type"] = instance_type
    return spec


def iam_burst_spec(actor: dict, event: str, calls: int, start: dt.datetime, user_prefix: str | None = None,
                   key_ids: list[str] | None = None) -> dict:
    """`calls` IAM calls (`CreateUser` or `CreateAccessKey`), 20 s apart from `start`, made from the
    real invictus-ir records; the users created (or the keys' users) are `<user_prefix>-<n>`;
    `key_ids` are the ids IAM really returned (one per call)."""
    spec = {"actor": actor, "event": event, "calls": calls, "start": iso(start), "seed": next(_SEEDS)}
    if user_prefix is not None:
        spec["user_prefix"] = user_prefix
    if key_ids is not None:
        spec["key_ids"] = key_ids
    return spec


def cloudtrail(bursts: list[dict], background_start: dt.datetime | None = None, iam_bursts: list[dict] | None = None) -> list[dict]:
    """CloudTrail records from the Rust test kit (`launchguard-bursts`, crates/testkit): the real
    invictus-ir background shifted to start at `background_start` (when given), then the bursts
    (RunInstances), then the IAM bursts."""
    spec = {"bursts": bursts, "iam_bursts": iam_bursts or []}
    if background_start is not None:
        spec["background_start"] = iso(background_start)
    out = subprocess.run([str(cargo_binary("launchguard-bursts")), "--fixtures", str(ROOT / "fixtures")],
                         input=json.dumps(spec), capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"launchguard-bursts failed ({out.returncode}): {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.splitlines() if line]


def log_events(records: list[dict]) -> list[dict]:
    """Records as CloudWatch Logs events (timestamp from eventTime), in time order."""
    return sorted(
        ({"timestamp": int(dt.datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp() * 1000),
          "message": json.dumps(r, separators=(",", ":"))} for r in records),
        key=lambda e: e["timestamp"],
    )


@dataclass
class Scenario:
    """One isolated run: every resource name carries a fresh suffix."""

    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    keys: dict = field(default_factory=dict)

    def __post_init__(self):
        s = self.suffix
        self.trail_group = f"/launchguard-e2e/cloudtrail-{s}"
        self.incident_group = f"/launchguard-e2e/incidents-{s}"
        self.alarm = f"launchguard-runinstances-{s}"
        self.user = f"ci-deployer-{s}"
        self.benign = f"benign-{s}"
        # protected by the pattern arn:aws:iam::*:user/breakglass-* although its name differs in case
        self.admin = f"BreakGlass-Admin-{s}"
        self.role = f"DataScience-{s}"
        self.logs, self.iam, self.sns, self.sqs, self.cw = (client(n) for n in ("logs", "iam", "sns", "sqs", "cloudwatch"))
        self.kms, self.s3 = client("kms"), client("s3")

    # ---------- setup ----------
    def _queue_for(self, topic_arn: str, name: str) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        return url

    def setup(self) -> None:
        s = self.suffix
        say(f"creating the account's resources (suffix {s})")
        self.logs.create_log_group(logGroupName=self.trail_group)
        self.logs.create_log_stream(logGroupName=self.trail_group, logStreamName="cloudtrail")
        self.logs.create_log_group(logGroupName=self.incident_group)
        # No metric filter: LocalStack ignores a filter's pattern and, on every PutLogEvents, sends one
        # internal PutMetricData per event for every metric filter of the region, so the filters
        # that parallel scenarios add made each delivery of the real background take about a minute.
        # The alarm is put in ALARM with SetAlarmState (fire_alarm); the filter patterns the stack
        # deploys are checked against the rules offline (e2e/test_documents.py, crates/testkit).
        self.alarm_topic = self.sns.create_topic(Name=f"launchguard-alarms-{s}")["TopicArn"]
        self.notify_topic = self.sns.create_topic(Name=f"launchguard-notifications-{s}")["TopicArn"]
        self.alarm_queue = self._queue_for(self.alarm_topic, f"lg-alarms-{s}")
        self.notify_queue = self._queue_for(self.notify_topic, f"lg-notifications-{s}")
        self.cw.put_metric_alarm(
            AlarmName=self.alarm, Namespace="LaunchGuard", MetricName=f"RunInstances-{s}", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=10, ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[self.alarm_topic],
            TreatMissingData="notBreaching",
        )
        # launchguard's three MAC keys (the stack creates them with their key policies in AWS) and
        # its ledger bucket; a fourth key plays an attacker's key of the same kind
        self.key_ids = {name: self.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                                                  Description=f"launchguard e2e {name} key")["KeyMetadata"]["Arn"]
                        for name in ("command", "finding", "release", "attacker", "stream")}
        self.ledger = f"lg-ledger-{s}"
        self.s3.create_bucket(Bucket=self.ledger)
        # the report bucket (REPORT_BUCKET): the dispatcher writes incident reports there
        self.reports = f"lg-reports-{s}"
        self.s3.create_bucket(Bucket=self.reports)
        for u in (self.user, self.benign, self.admin):
            self.iam.create_user(UserName=u)
        self.keys["used"] = self.iam.create_access_key(UserName=self.user)["AccessKey"]["AccessKeyId"]
        self.keys["spare"] = self.iam.create_access_key(UserName=self.user)["AccessKey"]["AccessKeyId"]
        self.keys["benign"] = self.iam.create_access_key(UserName=self.benign)["AccessKey"]["AccessKeyId"]
        self.keys["admin"] = self.iam.create_access_key(UserName=self.admin)["AccessKey"]["AccessKeyId"]
        self.keys["role"] = "ASIA" + uuid.uuid4().hex[:16].upper()
        # the person who releases (RELEASE_PRINCIPALS in AWS): `launchguard release` runs with
        # their own credentials, and a release names who asks (never the account root)
        self.responder = f"security-responder-{s}"
        self.iam.create_user(UserName=self.responder)
        self.responder_key = self.iam.create_access_key(UserName=self.responder)["AccessKey"]
        # the stack's deny-only containment policies (deploy/wiring.template.json), which the
        # iam-handler attaches by ARN (it writes no policy document)
        for name, source in CONTAINMENT_POLICIES.items():
            try:
                self.iam.create_policy(PolicyName=name, Path="/launchguard/",
                                       PolicyDocument=(ROOT / "policies/containment" / f"{source}.json").read_text())
            except self.iam.exceptions.EntityAlreadyExistsException:
                pass
        # the user's earlier policies, which must all survive the quarantine
        self.iam.attach_user_policy(UserName=self.user, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2FullAccess")
        self.iam.put_user_policy(UserName=self.user, PolicyName="deploy-artifacts",
                                 PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
        self.iam.attach_user_policy(UserName=self.admin, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
        self.iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=json.dumps(trust))
        self.iam.put_role_policy(RoleName=self.role, PolicyName="sagemaker",
                                 PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]}))

    def function_env(self, iam_endpoint: str | None = None, **overrides: str) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": ENDPOINT, "AWS_ENDPOINT_URL_LAMBDA": WATCH, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true",
            "CLOUDTRAIL_LOG_GROUP_NAME": self.trail_group, "DISPATCHER_LAMBDA_NAME": "launchguard-dispatcher",
            "ACCESS_KEY_HANDLER_LAMBDA_NAME": "launchguard-accesskey-handler", "IAM_HANDLER_LAMBDA_NAME": "launchguard-iam-handler",
            "NOTIFICATION_TOPIC_ARN": self.notify_topic, "INCIDENT_LOG_GROUP": self.incident_group,
            "PROTECTED_PRINCIPALS": "arn:aws:iam::*:user/breakglass-*", "LG_ACCOUNT_ID": ACCOUNT,
            # the detector acts only on this scenario's alarm
            "ALARM_ARNS": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{self.alarm}",
            # LocalStack issues user keys starting with LKIA (AWS: AKIA)
            "LG_LONG_TERM_KEY_PREFIXES": "AKIA,LKIA", "LG_POLL_INITIAL_MS": "100", "LG_QUERY_DEADLINE_SECONDS": "60",
            "DRY_RUN": "false", "RUST_LOG": "info",
            "COMMAND_KEY_ID": self.key_ids["command"], "FINDING_KEY_ID": self.key_ids["finding"],
            "RELEASE_KEY_ID": self.key_ids["release"], "LEDGER_BUCKET": self.ledger,
            # the stream detector seals with its own key, which the dispatcher tells apart
            "STREAM_FINDING_KEY_ID": self.key_ids["stream"],
            "REPORT_BUCKET": self.reports, "LG_REPORT_URL_SECONDS": "3600",
        }
        # CloudTrail's event history, which the dispatcher confirms evidence with (EventHistory)
        env["AWS_ENDPOINT_URL_CLOUDTRAIL"] = EventHistory.shared().url
        if iam_endpoint:
            env["AWS_ENDPOINT_URL_IAM"] = iam_endpoint
        env.update(overrides)
        return env

    # ---------- CloudTrail ----------
    def bursts(self, start: dt.datetime) -> dict[str, dict]:
        """The injected bursts of the scenario, all starting at `start` (crates/testkit/tests/bursts.rs
        runs launchguard-bursts with the same spec)."""
        acct = ACCOUNT
        return {
            "iam_user": burst_spec(iam_user(acct, self.user, self.keys["used"]), 3, 4, start, "203.0.113.7", "c5.4xlarge"),
            "role": burst_spec(assumed_role(acct, self.role, "mallory", self.keys["role"]), 5, 3, start, "198.51.100.23", "p3.2xlarge"),
            "protected_admin": burst_spec(iam_user(acct, self.admin, self.keys["admin"]), 2, 10, start, "192.0.2.10", "m5.large"),
            "autoscaling": burst_spec(autoscaling(acct), 3, 10, start, instance_type="t3.micro"),
            "benign": burst_spec(iam_user(acct, self.benign, self.keys["benign"]), 2, 1, start, "192.0.2.55", "t3.micro"),
        }

    def deliver_cloudtrail(self, alarm_at: dt.datetime) -> dict:
        """Real background plus the injected bursts (from launchguard-bursts), written with
        PutLogEvents. Returns the counts."""
        bursts = self.bursts(alarm_at - dt.timedelta(minutes=2))
        records = cloudtrail(list(bursts.values()), background_start=alarm_at - dt.timedelta(minutes=40))
        injected = sum(b["calls"] for b in bursts.values())
        events = self.put_cloudtrail(records)
        return {"background": len(records) - injected, "burst_records": injected, "events": events}

    def with_iam_ids(self, records: list[dict]) -> None:
        """Give the records IAM's unique ids in this account, as CloudTrail records them (the
        dispatcher binds its actions to them): an IAM user's `principalId` is its `UserId`; a role
        session's `sessionIssuer.principalId` and the `RoleId` part of its `principalId` are the
        role's `RoleId`. A user or role the account does not hold keeps the test kit's id."""
        ids: dict[tuple[str, str], str | None] = {}

        def iam_id(kind: str, name: str) -> str | None:
            if (kind, name) not in ids:
                try:
                    ids[kind, name] = (self.iam.get_user(UserName=name)["User"]["UserId"] if kind == "user"
                                       else self.iam.get_role(RoleName=name)["Role"]["RoleId"])
                except self.iam.exceptions.NoSuchEntityException:
                    ids[kind, name] = None
            return ids[kind, name]

        for r in records:
            who = r.get("userIdentity") or {}
            issuer = (who.get("sessionContext") or {}).get("sessionIssuer") or {}
            if who.get("type") == "IAMUser" and who.get("userName") and (uid := iam_id("user", who["userName"])):
                who["principalId"] = uid
            elif (who.get("type") == "AssumedRole" and issuer.get("type") == "Role" and issuer.get("userName")
                  and (rid := iam_id("role", issuer["userName"]))):
                issuer["principalId"] = rid
                session = str(who.get("principalId") or "").partition(":")[2]
                who["principalId"] = f"{rid}:{session}" if session else rid

    def put_cloudtrail(self, records: list[dict]) -> int:
        """Deliver records to the scenario's CloudTrail log group in time order (PutLogEvents
        batches within its limits). Returns how many events were written. An IAM user's records
        carry the user's real `UserId` as `userIdentity.principalId`, as CloudTrail records it (the
        dispatcher binds its actions to it)."""
        self.with_iam_ids(records)
        EventHistory.shared().add(records)
        events = log_events(records)
        batch, size = [], 0
        for e in events:
            n = len(e["message"]) + 26
            if batch and (len(batch) >= 2000 or size + n > 900_000):
                self.logs.put_log_events(logGroupName=self.trail_group, logStreamName="cloudtrail", logEvents=batch)
                batch, size = [], 0
            batch.append(e)
            size += n
        if batch:
            self.logs.put_log_events(logGroupName=self.trail_group, logStreamName="cloudtrail", logEvents=batch)
        return len(events)

    # ---------- alarm and bridge ----------
    def fire_alarm(self) -> dict:
        """SetAlarmState ALARM (LocalStack's metric filters ignore patterns), then read the SNS message from SQS."""
        self.cw.set_alarm_state(AlarmName=self.alarm, StateValue="ALARM", StateReason="Threshold Crossed: RunInstances >= 10 in 60 seconds")
        return self.wait_message(self.alarm_queue, 30)

    def wait_message(self, queue_url: str, timeout: float) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            msgs = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=2).get("Messages", [])
            for m in msgs:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                return json.loads(m["Body"])
        raise TimeoutError(f"no message on {queue_url} within {timeout}s")

    def drain(self, queue_url: str, settle: float = 3.0) -> list[dict]:
        out, quiet_since = [], time.time()
        while time.time() - quiet_since < settle:
            msgs = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            for m in msgs:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                out.append(json.loads(m["Body"]))
                quiet_since = time.time()
        return out

    def sns_event(self, notification: dict) -> dict:
        """The exact event Lambda's SNS trigger delivers for an SNS notification."""
        return {"Records": [{
            "EventSource": "aws:sns", "EventVersion": "1.0",
            "EventSubscriptionArn": f"{notification['TopicArn']}:{uuid.uuid4()}",
            "Sns": {
                "Type": notification["Type"], "MessageId": notification["MessageId"], "TopicArn": notification["TopicArn"],
                "Subject": notification.get("Subject"), "Message": notification["Message"], "Timestamp": notification["Timestamp"],
                "SignatureVersion": notification.get("SignatureVersion", "1"), "Signature": notification.get("Signature", ""),
                "SigningCertUrl": notification.get("SigningCertURL", ""), "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
                "MessageAttributes": notification.get("MessageAttributes", {}),
            },
        }]}

    def invoke(self, function: str, payload: dict, invocation_type: str = "RequestResponse") -> dict:
        """POST to the Lambda Invoke API served by `cargo lambda watch` (no client retries: watch
        answers a function error with HTTP 500, and a retry would invoke the function again)."""
        req = urllib.request.Request(f"{WATCH}/2015-03-31/functions/{function}/invocations", data=json.dumps(payload).encode(),
                                     method="POST", headers={"X-Amz-Invocation-Type": invocation_type, "Content-Type": "application/json"})
        try:
            resp = urllib.request.urlopen(req, timeout=900)
            status, body, error = resp.status, resp.read(), resp.headers.get("X-Amz-Function-Error")
        except urllib.error.HTTPError as e:
            status, body, error = e.code, e.read(), e.headers.get("X-Amz-Function-Error") or f"HTTP {e.code}"
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode(errors="replace")
        return {"status": status, "error": error, "payload": parsed}

    def seal(self, key: str, purpose: str, payload: dict | str, at: dt.datetime | None = None) -> dict:
        """Seal a payload the way launchguard does (SECURITY.md, "Releasing without the CLI"): an
        HMAC made by KMS over a version tag, the purpose, the instant and the payload's SHA-256.
        The tests use it to play the dispatcher, a detector, a person who may release, or an
        attacker holding another key."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        at = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        issued = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        message = f"launchguard-mac/v1\n{purpose}\n{issued}\n{hashlib.sha256(text.encode()).hexdigest()}".encode()
        mac = self.kms.generate_mac(KeyId=self.key_ids[key], MacAlgorithm="HMAC_SHA_256", Message=message)["Mac"]
        return {"schema_version": 1, "kind": "sealed", "purpose": purpose, "issued_at": issued, "key_id": self.key_ids[key],
                "mac_algorithm": "HMAC_SHA_256", "mac": mac.hex(), "payload": text}

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run the `launchguard` command line (built by scripts/e2e.sh) against LocalStack and watch,
        as the responder (its own access key)."""
        env = {**os.environ, "AWS_ENDPOINT_URL": ENDPOINT, "AWS_ENDPOINT_URL_LAMBDA": WATCH, "AWS_REGION": REGION,
               "AWS_ACCESS_KEY_ID": self.responder_key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": self.responder_key["SecretAccessKey"],
               "AWS_EC2_METADATA_DISABLED": "true"}
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        return subprocess.run([str(target / "debug/launchguard"), *args], env=env, capture_output=True, text=True, timeout=300)

    def ledger_keys(self, prefix: str = "") -> list[str]:
        out = self.s3.list_objects_v2(Bucket=self.ledger, Prefix=prefix)
        return sorted(o["Key"] for o in out.get("Contents", []))

    def bridge(self, notification: dict) -> dict:
        """Play Lambda's SNS trigger: invoke the detector with the SNS event."""
        return self.invoke("launchguard-detector", self.sns_event(notification))

    # ---------- state ----------
    def user_state(self, user: str) -> dict:
        keys = {k["AccessKeyId"]: k["Status"] for k in self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
        attached = sorted(p["PolicyArn"] for p in self.iam.list_attached_user_policies(UserName=user)["AttachedPolicies"])
        inline = sorted(self.iam.list_user_policies(UserName=user)["PolicyNames"])
        return {"keys": keys, "attached": attached, "inline": inline}

    def role_state(self, role: str) -> dict:
        return {"inline": sorted(self.iam.list_role_policies(RoleName=role)["PolicyNames"]),
                "attached": sorted(p["PolicyArn"] for p in self.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])}

    def state(self) -> dict:
        return {"user": self.user_state(self.user), "benign": self.user_state(self.benign), "admin": self.user_state(self.admin), "role": self.role_state(self.role)}

    def incidents(self) -> list[dict]:
        events = self.logs.filter_log_events(logGroupName=self.incident_group).get("events", [])
        return [json.loads(e["message"]) for e in events]
