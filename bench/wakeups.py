"""How often the alarms wake the detector (issue 30, item 3; part of `make bench`,
`bench/run.py --only wakeups`).

`launchguard-wakeups` (crates/testkit) evaluates, with the CloudWatch model of
launchguard_testkit::cloudwatch, the alarms rendered from the bundled rules and the hand-set alarms
deployed before them (fixtures/alarms/hand-set-797d214.json) on:
1. the real invictus-ir delivery files of ../shared/datasets/ (one day, 2,900 records);
2. the `launchguard scan` benchmark's 3-day archive (bench/scan.py; built here when missing).
A detector invocation is an alarm going into ALARM, or a scheduled re-check (every 5 minutes) that
finds it still there. Prints one JSON line per data set and alarm set.

LG_BIN_DIR names the folder of the built binaries (default: $CARGO_TARGET_DIR/release).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scan  # noqa: E402

ROOT = scan.ROOT
BIN = Path(os.environ.get("LG_BIN_DIR", scan.TARGET / "release"))
INVICTUS = ROOT.parent / "shared/datasets/invictus-ir__aws_dataset"
HAND_SET = ROOT / "fixtures/alarms/hand-set-797d214.json"


def archive() -> Path:
    if not any(scan.ARCHIVE.rglob("*.json.gz")):
        spec = {"background_start": "2026-03-01T00:00:00Z", "bursts": [*scan.BURSTS.values(), scan.STEADY, scan.AUTOSCALING]}
        scan.sh([str(BIN / "launchguard-bursts"), "--archive", str(scan.ARCHIVE), "--files", "300", "--records-per-file", "2000",
                 "--hours", "72"], input=json.dumps(spec).encode())
    return scan.ARCHIVE


def main() -> int:
    if "LG_BIN_DIR" not in os.environ:
        scan.sh(["cargo", "build", "--release", "--locked", "-p", "launchguard-testkit", "--bins"])
    for label, path in (("invictus-ir (real, ../shared/datasets)", INVICTUS), ("scan benchmark archive (bench/scan.py)", archive())):
        out = subprocess.run([str(BIN / "launchguard-wakeups"), "--hand-set", str(HAND_SET), str(path)], cwd=ROOT, capture_output=True,
                             text=True)
        if out.returncode != 0:
            sys.exit(f"bench/wakeups.py: launchguard-wakeups {path} failed: {out.stderr}")
        for line in out.stdout.splitlines():
            print(json.dumps({"data": label, **json.loads(line)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
