"""Start-up time and peak memory of each function's release binary, against a tiny local Lambda
Runtime API (and a local STS for the functions that ask who they are at start).

    python bench/startup.py [RUNS]     # prints one JSON line per function

Start-up: from spawning the process to its first `GET /runtime/invocation/next`. Peak RSS:
`VmHWM` of the process after it has answered one event. Each function gets an event that it
handles without any other AWS call (an alarm in OK for the detector, a finding about another
account for the dispatcher, a request for another account for the handlers). For scale, the same
harness runs a Python 3.11 function that imports boto3 and builds three clients.
"""
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"

FINDING = json.loads((ROOT / "fixtures/contract/finding.json").read_text())
FINDING["account_id"] = "999999999999"
REQUEST = json.loads((ROOT / "fixtures/contract/response_request.deactivate_access_key.json").read_text())
REQUEST["action"]["account_id"] = "999999999999"
IAM_REQUEST = json.loads((ROOT / "fixtures/contract/response_request.revoke_role_sessions.json").read_text())
IAM_REQUEST["action"]["account_id"] = "999999999999"
ALARM_OK = json.loads((ROOT / "fixtures/alarms/notify-slack.HEAD.cloudwatch_alarm.json").read_text())

GATE = {"COMMAND_KEY_ID": "alias/launchguard-command", "LEDGER_BUCKET": "launchguard-ledger"}
KEYS = {**GATE, "FINDING_KEY_ID": "alias/launchguard-finding", "RELEASE_KEY_ID": "alias/launchguard-release"}

FUNCTIONS = {
    "launchguard-detector": (ALARM_OK, {"CLOUDTRAIL_LOG_GROUP_NAME": "ct", "DISPATCHER_LAMBDA_NAME": "launchguard-dispatcher",
                                               "ALARM_ARNS": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:launchguard-runinstances",
                                               "FINDING_KEY_ID": "alias/launchguard-finding"}),
    "launchguard-dispatcher": (FINDING, {"ACCESS_KEY_HANDLER_LAMBDA_NAME": "a", "IAM_HANDLER_LAMBDA_NAME": "i",
                                         "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:us-east-1:{ACCOUNT}:n", "INCIDENT_LOG_GROUP": "/launchguard/incidents", **KEYS}),
    # unsealed on purpose: start-up and the first refusal, no KMS call
    "launchguard-accesskey-handler": (REQUEST, GATE),
    "launchguard-iam-handler": (IAM_REQUEST, GATE),
    "launchguard-ec2-handler": (REQUEST, GATE),
}

PYTHON_FUNCTION = """
import os, time, urllib.request, json
import boto3
s = boto3.session.Session()
clients = [s.client(n) for n in ("logs", "lambda", "sns")]
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
r = urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next")
rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
json.loads(r.read())
urllib.request.urlopen(urllib.request.Request(f"http://{api}/2018-06-01/runtime/invocation/{rid}/response", data=b"{}", method="POST"))
time.sleep(60)
"""

STS = (f"<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"
       f"<Arn>arn:aws:sts::{ACCOUNT}:assumed-role/launchguard-bench-role/bench</Arn><UserId>AROAEXAMPLE:bench</UserId>"
       f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
       f"</GetCallerIdentityResponse>").encode()


class Runtime:
    def __init__(self):
        self.event = b"{}"
        self.first_next = threading.Event()
        self.answered = threading.Event()
        self.t_next = 0.0
        self.answer = b""
        self.stop = threading.Event()
        rt = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body=b"", headers=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    if rt.first_next.is_set():
                        rt.stop.wait(120)
                        return
                    rt.t_next = time.perf_counter()
                    rt.first_next.set()
                    self._send(200, rt.event, {"Lambda-Runtime-Aws-Request-Id": "bench-1", "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60000),
                                               "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bench",
                                               "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000", "Content-Type": "application/json"})
                else:
                    self._send(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "/runtime/invocation/" in self.path:
                    rt.answer = body
                    self._send(202, b"{}")
                    rt.answered.set()
                elif b"Action=GetCallerIdentity" in body:
                    self._send(200, STS, {"Content-Type": "text/xml"})
                else:
                    self._send(400)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def once(cmd: list[str], event: dict, env: dict) -> tuple[float, int, bytes]:
    rt = Runtime()
    rt.event = json.dumps(event).encode()
    full = {"PATH": os.environ["PATH"], "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{rt.port}", "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_STREAM_NAME": "s",
            "AWS_LAMBDA_LOG_GROUP_NAME": "g", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{rt.port}", "AWS_EC2_METADATA_DISABLED": "true", **env}
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not rt.first_next.wait(30) or not rt.answered.wait(30):
            raise RuntimeError(f"{cmd[0]} did not reach the runtime API")
        startup_ms = (rt.t_next - t0) * 1000
        rss = peak_rss_kb(p.pid)
    finally:
        p.kill()
        p.wait()
        rt.stop.set()
        rt.server.shutdown()
    return startup_ms, rss, rt.answer


def measure(name: str, cmd: list[str], event: dict, env: dict, runs: int) -> dict:
    results = [once(cmd, event, env) for _ in range(runs)]
    return {"function": name, "runs": runs, "startup_ms_median": round(statistics.median(r[0] for r in results), 1),
            "startup_ms_max": round(max(r[0] for r in results), 1), "peak_rss_mb": round(max(r[1] for r in results) / 1024, 1),
            "answer": results[-1][2][:120].decode(errors="replace")}


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    lambda_dir = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "lambda"
    for fn, (event, env) in FUNCTIONS.items():
        binary = lambda_dir / fn / "bootstrap"
        if not binary.exists():
            print(f"startup.py: {binary} is missing: run `cargo lambda build --release` first", file=sys.stderr)
            return 2
        print(json.dumps(measure(fn, [str(binary)], event, env, runs)), flush=True)
    py = ROOT / ".venv-tools/bin/python"
    print(json.dumps(measure("python3.11 + boto3, 3 clients", [str(py), "-c", PYTHON_FUNCTION], ALARM_OK, {}, max(3, runs // 3))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
