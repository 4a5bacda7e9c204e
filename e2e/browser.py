"""A page in headless Chromium (Debian's package; scripts/chromium.sh installs it), offline.

Every host name resolves to nothing (`--host-resolver-rules`), so nothing leaves the machine;
the browser's log (`--enable-logging=stderr --v=0`) holds every console message
(`INFO:CONSOLE:…`), and its network log (`--log-net-log`) every URL it tried to fetch. Chromium's
own background requests (Google's time, accounts and dictionary services) are in that log too
and are not the page's.
"""
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--enable-logging=stderr", "--v=0", "--window-size=1200,1600"]

# what a console error or a blocked or failed request looks like in Chromium's log
PROBLEMS = re.compile(r":CONSOLE[:(]|CONSOLE\(\d+\)|Uncaught|Refused to|Failed to load", re.I)
# the browser's own background requests, never the page's
BROWSER_SERVICES = re.compile(r"^https?://([^/]*\.)?(google\.com|gvt1\.com|googleapis\.com|gstatic\.com)(/|:|$)")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        path = subprocess.run(["scripts/chromium.sh"], capture_output=True, text=True, check=True).stdout.strip()
    return path


def load(page: Path, screenshot: Path) -> tuple[str, str, list[str]]:
    """(dom, log, urls requested by the page) of `page`; the screenshot is written to `screenshot`."""
    with tempfile.TemporaryDirectory() as profile:
        net = Path(profile) / "net.json"
        base = [chromium(), *FLAGS, f"--user-data-dir={profile}/p"]
        dom = subprocess.run([*base, f"--log-net-log={net}", "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
        shot = subprocess.run([*base, f"--screenshot={screenshot}", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
        urls = sorted(set(re.findall(r'"url":"([^"]*)"', net.read_text(errors="replace")))) if net.exists() else ["(no net log)"]
    page_urls = [u for u in urls if u.startswith(("http:", "https:", "ftp:", "ws:", "wss:")) and not BROWSER_SERVICES.match(u)]
    return dom.stdout, dom.stderr + shot.stderr, page_urls


def problems(log: str) -> list[str]:
    return [line for line in log.splitlines() if PROBLEMS.search(line)]
