"""`make bench`: run every benchmark and write BENCHMARKS.md.

1. classification throughput (cargo bench -p launchguard-core --bench classify)
2. query cost of a 50,000-launch burst (cargo bench -p launchguard-detector --bench split)
3. package size of each function (cargo lambda build --release --output-format zip)
4. start-up time and peak memory (bench/startup.py, release binaries, local Runtime API)
5. containment latency on LocalStack for 1, 10 and 100 principals (bench/latency.py)
"""
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ["launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler", "launchguard-iam-handler",
             "launchguard-ec2-handler"]
TOOLS = {**os.environ, "PATH": f"{ROOT / '.venv-tools/bin'}:{os.environ['PATH']}"}


MISSED_LATENCY = ("LocalStack answers every IAM call from one Python process on this 2-core machine, and each action is 3-4 IAM calls: 200 actions take about 800 IAM requests served one after the other, so time grows with the number of principals whatever the dispatcher's concurrency (the same run with one function instance at a time, watch's default, gave 1.7 s). In AWS the handlers scale out and IAM answers in parallel; this harness cannot show that, so the target is reported as missed here.")


def run(cmd: list[str]) -> str:
    print("$ " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, cwd=ROOT, env=TOOLS, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    mem = next((l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")), "0")
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB, {platform.system()} {platform.machine()}, {rustc}"


def main() -> int:
    classify = [l for l in run(["cargo", "bench", "--locked", "-p", "launchguard-core", "--bench", "classify"]).splitlines() if "records" in l]
    split = [l for l in run(["cargo", "bench", "--locked", "-p", "launchguard-detector", "--bench", "split"]).splitlines() if "queries" in l]
    run(["cargo", "lambda", "build", "--release", "--output-format", "zip", "--locked", *sum((["--bin", f] for f in FUNCTIONS), [])])
    lambda_dir = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "lambda"
    sizes = {f: (lambda_dir / f / "bootstrap.zip").stat().st_size for f in FUNCTIONS}
    run(["cargo", "lambda", "build", "--release", "--locked", *sum((["--bin", f] for f in FUNCTIONS), [])])
    startup = [json.loads(l) for l in run([str(ROOT / ".venv-tools/bin/python"), "bench/startup.py", "10"]).splitlines() if l.startswith("{")]
    run(["scripts/venv.sh", "localstack"])
    run(["cargo", "build", "--release", "--locked", "--bins"])
    latency = [json.loads(l) for l in run([str(ROOT / ".venv-localstack/bin/python"), "bench/latency.py"]).splitlines() if l.startswith("{")]

    md = [
        "# Benchmarks", "",
        f"Written by `make bench` (`bench/run.py`) on {dt.date.today()}: {machine()}.",
        "Every figure comes from the command named with it; run `make bench` to reproduce them. A target missed is reported as missed.", "",
        "## Classification throughput", "",
        "`cargo bench -p launchguard-core --bench classify`: 100,000 `@message` records built from the real invictus-ir background",
        "with injected RunInstances bursts (a launch record is about 7.8 kB), through `Scanner::push_message` (byte pre-filter, parse,",
        "re-check of source, name and window, de-duplication by `eventID`, aggregation), one thread, best of 7 runs; baselines on the",
        "same bytes: a plain `serde_json` parse into `IgnoredAny`, and a `memchr` scan for `\"RunInstances\"`.",
        "Targets: at least 1,000 MB/s on the mixed window, 400 MB/s on launches only.", "", "```", *classify, "```", "",
        "## Query cost of a large burst", "",
        "`cargo bench -p launchguard-detector --bench split`: 50,000 RunInstances events from 50 principals in one alarm window plus",
        "the real background, read through the detector's Insights path (10,000 rows per query, so the range is split) from an",
        "in-memory log group; bytes scanned by Insights cannot be measured locally, so rows read stand for cost.", "", "```", *split, "```", "",
        "## Package size", "",
        "`cargo lambda build --release --output-format zip` (x86_64, `opt-level 3`, thin LTO, 1 codegen unit, stripped, `panic = abort`).",
        "Target: under 6 MB each.", "", "| function | bootstrap.zip | target |", "|---|---|---|",
        *[f"| {f} | {sizes[f] / 1e6:.2f} MB | {'met' if sizes[f] < 6e6 else 'MISSED'} |" for f in FUNCTIONS], "",
        "## Start-up and memory", "",
        "`python bench/startup.py 10`: each release binary against a local Lambda Runtime API (and a local STS for the functions",
        "that ask who they are at start): time from spawning the process to its first `GET /runtime/invocation/next`, median and",
        "worst of 10; peak RSS (`VmHWM`) after it answered one event that needs no other AWS call. Targets: under 20 ms and 24 MB.", "",
        "| function | start-up median | worst | peak RSS | targets |", "|---|---|---|---|---|",
    ]
    for s in startup:
        rust = s["function"].startswith("launchguard")
        verdict = ("met" if s["startup_ms_median"] < 20 and s["peak_rss_mb"] < 24 else "MISSED") if rust else "for scale"
        md.append(f"| {s['function']} | {s['startup_ms_median']} ms | {s['startup_ms_max']} ms | {s['peak_rss_mb']} MB | {verdict} |")
    one = next(l["containment_ms"] for l in latency if l["principals"] == 1)
    md += ["", "## Containment latency", "",
           "`.venv-localstack/bin/python bench/latency.py`: the real chain on LocalStack (alarm message -> bridge -> detector ->",
           "dispatcher -> handlers -> IAM) with release builds under `cargo lambda watch --release --concurrency 8`, N flagged IAM users with one key",
           "each (2 actions per user: deactivate the key, quarantine the user; 8 handler invocations at once). Containment is the time",
           "from invoking the detector to its return after the last IAM change (watch runs the asynchronous dispatcher call inline),",
           "minus the time the detector spent reading CloudTrail, shown apart. Target: 100 principals in less than 3 times the time of 1.", "",
           "| flagged principals | IAM actions | containment | reading CloudTrail | total | vs 1 principal |", "|---|---|---|---|---|---|"]
    for l in latency:
        ratio = l["containment_ms"] / max(one, 1)
        verdict = "" if l["principals"] != 100 else (" (target met)" if ratio < 3 else " (target MISSED)")
        md.append(f"| {l['principals']} | {l['actions']} | {l['containment_ms']} ms | {l['query_wait_ms']} ms | {l['total_ms']} ms | {ratio:.1f}x{verdict} |")
    md.append("")
    if any(l["principals"] == 100 and l["containment_ms"] / max(one, 1) >= 3 for l in latency):
        md += ["Why the target is missed here: " + MISSED_LATENCY, ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(md))
    print("wrote BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
