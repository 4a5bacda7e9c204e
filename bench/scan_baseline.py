"""The same count as `launchguard scan`, in Python, for the benchmark: every *.json.gz delivery
file under DIR, decompressed and parsed whole (orjson or json), the records of each rule replayed
kept once per eventID (every record's eventID counted once), RunInstances counted in instances
(launched items, or maxCount requested; dry runs and failed calls leave launched at 0), IAM calls
counted as calls, and per principal the bursts of every horizon of the rule (at least THRESHOLD
within a sliding, half-open window of WINDOW seconds), horizons read from
crates/core/rules/default.json. Prints a JSON summary.

    python bench/scan_baseline.py orjson|json DIR [RULE ...]     (default: every rule of the file)
"""
import gzip
import json
import sys
from datetime import datetime
from pathlib import Path

RULES = Path(__file__).resolve().parent.parent / "crates/core/rules/default.json"


def principal(ui: dict) -> str:
    if ui.get("type") == "AssumedRole":
        return ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn") or ui.get("arn") or "?"
    return ui.get("arn") or ui.get("principalId") or "?"


def instances(r: dict) -> int:
    launched = len((((r.get("responseElements") or {}).get("instancesSet") or {}).get("items") or [])) if not r.get("errorCode") else 0
    items = (((r.get("requestParameters") or {}).get("instancesSet") or {}).get("items") or [])
    requested = sum(int(i.get("maxCount") or i.get("minCount") or 1) for i in items)
    return max(launched, requested, 1)


def bursts(cs: list, window: int, threshold: int) -> int:
    j, total, n, end = 0, 0, 0, -1
    for i, (t, k) in enumerate(cs):
        while j < len(cs) and cs[j][0] - t < window:
            total += cs[j][1]
            j += 1
        if total >= threshold:
            if i >= end:
                n += 1
            end = max(end, j)
        total -= k
    return n


def main() -> int:
    parser, root, wanted = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    rules = [r for r in json.loads(RULES.read_text())["rules"] if not wanted or r["id"] in wanted]
    by_event = {(r["event_source"], name): r for r in rules for name in r["event_names"]}
    loads = __import__("orjson").loads if parser == "orjson" else json.loads
    seen, calls, records, duplicates = set(), {r["id"]: {} for r in rules}, 0, 0
    for p in sorted(root.rglob("*.json.gz")):
        with gzip.open(p, "rb") as f:
            doc = loads(f.read())
        for r in doc.get("Records", []):
            records += 1
            if r.get("eventID") in seen:
                duplicates += 1
                continue
            seen.add(r.get("eventID"))
            rule = by_event.get((r.get("eventSource"), r.get("eventName")))
            if rule is None:
                continue
            t = datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")).timestamp()
            n = instances(r) if rule["counts"] == "instances" else 1
            calls[rule["id"]].setdefault(principal(r.get("userIdentity") or {}), []).append((t, n))
    flagged = {}
    for rule in rules:
        for who, cs in calls[rule["id"]].items():
            cs.sort()
            n = sum(bursts(cs, h["window_seconds"], h["threshold"]) for h in rule["horizons"])
            if n:
                flagged.setdefault(rule["id"], []).append((who, n))
    print(json.dumps({"records": records, "duplicates": duplicates, "matched": {k: sum(map(len, v.values())) for k, v in calls.items()},
                      "flagged": {k: sorted(v) for k, v in flagged.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
