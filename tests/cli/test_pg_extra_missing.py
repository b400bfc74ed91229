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


def _without_psycopg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_every_maintenance_verb_on_sqlite_files_works_without_the_driver(tmp_path: Path) -> None:
    """np db migrate, np db copy, np doctor and np backup on plain SQLite files never need
    psycopg (they used to fail with exit 3: their SQLite code lived in the PostgreSQL
    package). Run with psycopg made unimportable."""
    source, copy = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    work = tmp_path / "w"
    work.mkdir()
    steps = [
        ["--db", source, "db", "migrate"],
        ["--db", source, "--dir", str(work), "s"],
        ["--db", source, "--dir", str(work), "t", "a", "-t", "one"],
        ["db", "copy", source, copy],
        ["--db", copy, "doctor"],
        ["--db", source, "backup", str(tmp_path / "backup.db")],
        ["--db", copy, "--dir", str(work), "p"],
    ]
    for args in steps:
        proc = _without_psycopg(tmp_path, *args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert "postgres" not in proc.stderr, (args, proc.stderr)
    assert "one" in _without_psycopg(tmp_path, "--db", copy, "--dir", str(work), "p").stdout
    assert (tmp_path / "backup.db").exists()
