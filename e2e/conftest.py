import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LocalStack  # noqa: E402


@pytest.fixture(scope="session")
def localstack():
    """One LocalStack for the whole run, stopped at the end even when a test fails."""
    ls = LocalStack()
    ls.start()
    try:
        yield ls
    finally:
        ls.stop()
