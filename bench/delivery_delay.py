"""How late CloudTrail delivers, measured on real delivery files (SECURITY.md, "What the alarms
cannot see"): `python bench/delivery_delay.py [DIR]` (default: the invictus-ir files of
../shared/datasets/).

A CloudTrail delivery file is named `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json`,
the minute the file was delivered. For each record, the delay is that minute minus its
`eventTime` (so up to 59 s too short). A metric filter publishes a record's datapoint at its
`eventTime`; an alarm with one evaluation period stops looking at a period once the next one
begins, so a record delivered after the end of its own period (periods aligned to the clock, as
CloudWatch aligns them) comes too late for that period's evaluation. This counts those records for
each period launchguard's rendered alarms use. It measures delivery to S3; delivery to CloudWatch
Logs, which the metric filters read, is a separate path that this data does not show.
"""
import datetime as dt
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared/datasets/invictus-ir__aws_dataset"
NAME = re.compile(r"_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4})Z_")
PERIODS = (300, 600, 3600, 86400)


def delays(folder: Path) -> list[tuple[float, float]]:
    """(eventTime, delivery minute) of every record, epoch seconds."""
    out = []
    for f in sorted(folder.glob("*.json")):
        m = NAME.search(f.name)
        if not m:
            continue
        delivered = dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M").replace(tzinfo=dt.timezone.utc).timestamp()
        for r in json.loads(f.read_text())["Records"]:
            t = dt.datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")).timestamp()
            out.append((t, delivered))
    return out


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    pairs = delays(folder)
    if not pairs:
        sys.exit(f"delivery_delay: no CloudTrail delivery files in {folder}")
    d = sorted(delivered - t for t, delivered in pairs)
    q = lambda x: d[min(len(d) - 1, int(x * len(d)))]  # noqa: E731
    late = {p: sum(1 for t, delivered in pairs if delivered >= (int(t) // p + 1) * p) for p in PERIODS}
    print(json.dumps({"records": len(d), "delivery_minutes": len({delivered for _, delivered in pairs}), "delay_s": {
        "min": d[0], "median": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": d[-1]},
        "over_300_s": sum(1 for x in d if x > 300), "over_600_s": sum(1 for x in d if x > 600),
        "delivered_after_their_period_ends": {str(p): late[p] for p in PERIODS}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
