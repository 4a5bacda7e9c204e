import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LocalStack, cargo_binary  # noqa: E402

# deploy/render.py renders the alarms with launchguard-render: the binary scripts/e2e.sh built,
# not a `cargo run` of its own (another build of core)
if "LG_RENDER_BIN" not in os.environ:
    try:
        os.environ["LG_RENDER_BIN"] = str(cargo_binary("launchguard-render"))
    except FileNotFoundError:
        pass


@pytest.fixture(scope="session")
def localstack():
    """One LocalStack for the whole run, stopped at the end even when a test fails."""
    ls = LocalStack()
    ls.start()
    try:
        yield ls
    finally:
        ls.stop()
