"""`cargo install --locked --path crates/cli` as README documents it: the installed `launchguard`
runs from anywhere, prints its version, and scans a bundled sample with the documented exit status.

The test installs with `--debug` and the workspace's target directory: the same package, lock file
and install path as the documented command, with the dev profile's artifacts (a release build with
LTO took 5 min 17 s on a clean machine, issue 31, and would be most of `make test`'s time). The
release profile is built by `make build` and `make bench`. It needs no LocalStack
(`scripts/e2e.sh -k test_install` runs it alone) and installs into a temporary root, never into ~/.cargo."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cargo_install_puts_a_working_launchguard_on_the_path():
    cargo = shutil.which("cargo")
    assert cargo, "cargo is needed (rustup.rs)"
    with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as elsewhere:
        # WHEN installed as README says, into a temporary root
        target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
        done = subprocess.run([cargo, "install", "--locked", "--debug", "--path", "crates/cli", "--root", root, "--target-dir", target],
                              cwd=ROOT, capture_output=True, text=True, timeout=3600)
        assert done.returncode == 0, done.stderr[-3000:]
        binary = Path(root) / "bin" / "launchguard"
        assert binary.is_file()
        env = {**os.environ, "PATH": f"{root}/bin:{os.environ['PATH']}"}
        # THEN it runs from another directory by its name
        version = subprocess.run(["launchguard", "--version"], cwd=elsewhere, env=env, capture_output=True, text=True)
        assert version.returncode == 0 and version.stdout.startswith("launchguard "), version
        # AND scans the bundled sample: one flagged burst, exit status 3
        sample = ROOT / "fixtures/windows/terraform-18-in-100s.json"
        scan = subprocess.run(["launchguard", "scan", str(sample)], cwd=elsewhere, env=env, capture_output=True, text=True)
        assert scan.returncode == 3, scan.stdout + scan.stderr
        assert "FLAGGED" in scan.stdout
