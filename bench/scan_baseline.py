"""The same count as `launchguard scan`, in Python, for the benchmark: every *.json.gz delivery
file under DIR, decompressed and parsed whole (orjson or json), RunInstances records kept once per
eventID, instances per call (launched items, or maxCount requested), and per principal the bursts
of a sliding window (at least THRESHOLD instances within WINDOW seconds). Prints a JSON summary.

    python bench/scan_baseline.py orjson|json DIR [WINDOW] [THRESHOLD]
"""
import gzip
import json
import sys
from datetime import datetime
from pathlib import Path


def principal(ui: dict) -> str:
    if ui.get("type") == "AssumedRole":
        return ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn") or ui.get("arn") or "?"
    return ui.get("arn") or ui.get("principalId") or "?"


def instances(r: dict) -> int:
    launched = len((((r.get("responseElements") or {}).get("instancesSet") or {}).get("items") or [])) if not r.get("errorCode") else 0
    items = (((r.get("requestParameters") or {}).get("instancesSet") or {}).get("items") or [])
    requested = sum(int(i.get("maxCount") or i.get("minCount") or 1) for i in items)
    return max(launched, requested, 1)


def main() -> int:
    parser, root = sys.argv[1], Path(sys.argv[2])
    window = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    threshold = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    loads = __import__("orjson").loads if parser == "orjson" else json.loads
    seen, calls, records = set(), {}, 0
    for p in sorted(root.rglob("*.json.gz")):
        with gzip.open(p, "rb") as f:
            doc = loads(f.read())
        for r in doc.get("Records", []):
            records += 1
            if r.get("eventName") != "RunInstances" or r.get("eventSource") != "ec2.amazonaws.com":
                continue
            if r.get("eventID") in seen:
                continue
            seen.add(r.get("eventID"))
            t = datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")).timestamp()
            calls.setdefault(principal(r.get("userIdentity") or {}), []).append((t, instances(r)))
    flagged = []
    for who, cs in calls.items():
        cs.sort()
        j, total, bursts, end = 0, 0, 0, -1
        for i, (t, n) in enumerate(cs):
            while j < len(cs) and cs[j][0] - t < window:
                total += cs[j][1]
                j += 1
            if total >= threshold:
                if i >= end:
                    bursts += 1
                end = max(end, j)
            total -= n
        if bursts:
            flagged.append((who, bursts))
    print(json.dumps({"records": records, "launches": len(seen), "flagged": sorted(flagged)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
