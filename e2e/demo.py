"""`make demo`: catch and contain a mass EC2 launch on LocalStack, and say what happened."""
import datetime as dt
import json
import os
import sys
import textwrap
from pathlib import Path

from harness import ROOT, LocalStack, Scenario, Watch, say


def main() -> int:
    ls = LocalStack()
    say("starting LocalStack (CloudWatch Logs, CloudWatch, SNS, SQS, IAM, STS) on 127.0.0.1")
    ls.start()
    watch = None
    try:
        sc = Scenario()
        sc.setup()
        say("starting the five functions behind `cargo lambda watch` (the real Lambda Invoke API, on 127.0.0.1)")
        watch = Watch(sc.function_env())
        watch.start()
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        counts = sc.deliver_cloudtrail(now)
        say(f"delivered {counts['events']} CloudTrail records to {sc.trail_group}: {counts['background']} real background records "
            f"(fixtures/cloudtrail/invictus) and {counts['burst_records']} injected RunInstances calls")
        say(f"firing alarm {sc.alarm} (SetAlarmState) -> SNS -> SQS; the bridge hands the SNS event to the detector")
        msg = sc.fire_alarm()
        out = sc.bridge(msg)
        if out["error"]:
            say(f"the detector failed: {out}")
            return 1
        report = out["payload"]
        print()
        print("=" * 78)
        print(f"DETECTOR  window {report['window']['start']} .. {report['window']['end']}, "
              f"{report['scan']['rows']} records read with {report['method']}, {report['scan']['matched']} RunInstances")
        for p in report["principals"]:
            print(f"  {p['verdict']:<16} {p['principal']:<48} launched {p['launched']:>3}, requested {p['requested']:>3}, {p['calls']} calls")
        rec = sc.incidents()[-1]
        print(f"\nRESPONDERS  finding {rec['finding_id']}: {rec['status']}")
        for o in rec["outcomes"]:
            print(f"  {o['outcome']['status'].upper():<16} {o['detail'] if o['outcome']['status'] != 'refused' else o['outcome']['reason']}")
        for r in rec["refusals"]:
            print(f"  REFUSED          {r}")
        s = sc.state()
        print("\nIAM NOW")
        print(f"  {sc.user}: keys {s['user']['keys']}")
        print(f"  {sc.user}: attached {s['user']['attached']}, inline {s['user']['inline']}")
        print(f"  {sc.role}: inline {s['role']['inline']}")
        print(f"  {sc.admin} (protected): keys {s['admin']['keys']}, attached {s['admin']['attached']}")
        notes = sc.drain(sc.notify_queue)
        print(f"\nNOTIFICATION ({len(notes)} on the SNS topic, read back through SQS)")
        for n in notes:
            print(f"  Subject: {n['Subject']}")
            human = n["Message"].split("--- machine-readable")[0]
            print(textwrap.indent(human.rstrip(), "  | ", lambda _line: True))
        print(f"\nINCIDENT RECORD  log group {sc.incident_group}, stream incidents/{now:%Y/%m/%d}; query it with Logs Insights:")
        print(f"  fields finding_id, status, recorded_at | filter record_type = 'incident'")
        # the incident report the dispatcher wrote to the report bucket, kept beside the run's logs
        report_obj = (rec.get("report") or {}).get("object")
        if report_obj:
            key = report_obj.split("/", 3)[3]
            run_dir = Path(os.environ.get("LG_RUN_DIR", ROOT / ".lg-run"))
            run_dir.mkdir(parents=True, exist_ok=True)
            local = run_dir / "report.html"
            local.write_bytes(sc.s3.get_object(Bucket=sc.reports, Key=key)["Body"].read())
            print(f"\nINCIDENT REPORT  {report_obj} (linked from the notification), kept at {local}: open it in a browser")
        else:
            print(f"\nINCIDENT REPORT  none: {(rec.get('report') or {}).get('reason', 'REPORT_BUCKET not set')}")
        print("=" * 78)
        say("stopping everything this demo started")
        return 0
    finally:
        if watch:
            watch.stop()
        ls.stop()


if __name__ == "__main__":
    sys.exit(main())
