"""A page in headless Chromium (Debian's package; scripts/chromium.sh installs it), offline.

Every host name resolves to nothing (`--host-resolver-rules`), so a request the page would make
fails and is logged; the browser's log (`--enable-logging=stderr --v=0`) holds console messages
and failed loads. Returns the DOM as Chromium built it, the log, and where the screenshot is.
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
PROBLEMS = re.compile(r"CONSOLE\(\d+\)|Uncaught|Refused to|net::ERR_|Failed to load", re.I)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        path = subprocess.run(["scripts/chromium.sh"], capture_output=True, text=True, check=True).stdout.strip()
    return path


def load(page: Path, screenshot: Path) -> tuple[str, str]:
    """(dom, log) of `page`; the screenshot is written to `screenshot`."""
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium(), *FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run([*base, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
        shot = subprocess.run([*base, f"--screenshot={screenshot}", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    return dom.stdout, dom.stderr + shot.stderr


def problems(log: str) -> list[str]:
    return [line for line in log.splitlines() if PROBLEMS.search(line)]
