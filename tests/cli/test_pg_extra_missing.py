"""Without the postgres extra, a PostgreSQL URL is one sentence (exit 3) that says how to
install it, never a traceback, and the URL's password is not repeated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BLOCK = "import sys; sys.modules['psycopg'] = None; from server.cli import main; sys.exit(main())"


@pytest.mark.parametrize(
    "args",
    [
        ["p"],
        ["t", "a", "-t", "x"],
        ["m"],
        ["doctor"],
        ["db", "migrate"],
    ],
)
def test_a_postgresql_url_without_the_driver_says_how_to_install_it(
    args: list[str], tmp_path: Path
) -> None:
    url = "postgresql://np:s3cret@/np?host=/nonexistent"
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK, "--db", url, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 3, proc
    assert "pip install '.[postgres]'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout
