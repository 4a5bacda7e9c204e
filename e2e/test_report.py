"""Issue 14 end to end on LocalStack: the dispatcher writes the incident report to S3 and the
notification links it; the page loads in headless Chromium with no console error and no request;
`launchguard report --since` lists the incident and its open containments."""
import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest

import browser
from harness import ROOT, Scenario, Watch


@pytest.fixture(scope="module")
def world(localstack):
    sc = Scenario()
    try:
        sc.setup()
        sc.watch = Watch(sc.function_env())
        sc.watch.start()
        yield sc
    finally:
        if sc.__dict__.get("watch"):
            sc.watch.stop()


def run_dir() -> Path:
    d = Path(os.environ.get("LG_RUN_DIR", ROOT / ".lg-run"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_the_report_is_written_linked_and_loads_offline(world):
    # GIVEN a contained mass launch
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    world.deliver_cloudtrail(now)
    out = world.bridge(world.fire_alarm())
    assert out["error"] is None, out
    world.finding_id = out["payload"]["finding_id"]
    # THEN the report object exists under the finding
    objects = sorted(o["Key"] for o in world.s3.list_objects_v2(Bucket=world.reports, Prefix="reports/").get("Contents", []))
    html_keys = [k for k in objects if k.endswith(".html")]
    assert len(html_keys) == 1 and html_keys[0].startswith(f"reports/{world.finding_id}/"), objects
    assert any(k.endswith(".md") for k in objects), objects
    # AND the notification links it with a pre-signed URL of bounded lifetime
    body = world.wait_message(world.notify_queue, 60)
    message = body["Message"]
    link = re.search(r"incident report \(HTML; the link works until [^)]*\): (\S+)", message)
    assert link, message[:2000]
    assert html_keys[0] in link.group(1) and "X-Amz-Expires=3600" in link.group(1), link.group(1)
    # AND the incident record names the object
    record = [r for r in world.incidents() if r.get("record_type") == "incident"][0]
    assert record["report"]["object"] == f"s3://{world.reports}/{html_keys[0]}", record.get("report")
    # WHEN the page is opened in a headless browser with the network cut
    page = run_dir() / "report.html"
    page.write_bytes(world.s3.get_object(Bucket=world.reports, Key=html_keys[0])["Body"].read())
    dom, log, requests = browser.load(page, run_dir() / "report.png")
    # THEN it rendered (the principals, the chart), with no console error and no request
    assert world.user in dom and world.role in dom and "<svg" in dom, dom[:2000]
    assert browser.problems(log) == [], browser.problems(log)
    assert requests == [], requests
    assert not re.search(r"""<[^>]*\b(src|href)\s*=\s*["']?https?:""", dom, re.I)
    assert (run_dir() / "report.png").stat().st_size > 10_000


def test_the_period_summary_lists_the_incident_and_its_open_containments(world):
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    r = world.cli("report", "--since", since, "--format", "json", "--log-group", world.incident_group, "--ledger-bucket", world.ledger)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert [i["finding_id"] for i in summary["incidents"]] == [world.finding_id], summary["incidents"]
    open_actions = {o["action"] for o in summary["open"]}
    assert {"deactivate_access_key", "quarantine_user", "revoke_role_sessions"} <= open_actions, summary["open"]
    assert all(o["open_seconds"] >= 0 for o in summary["open"])
    r = world.cli("report", "--finding", world.finding_id, "--format", "md", "--log-group", world.incident_group, "--ledger-bucket", world.ledger)
    assert r.returncode == 0, r.stderr
    # Markdown escapes `_` (a value never becomes emphasis): the action name is written revoke\_role\_sessions
    assert world.user in r.stdout and "revoke\\_role\\_sessions" in r.stdout, r.stdout
