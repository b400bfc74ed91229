"""``NP_SCOPE`` is checked like ``NP_ACTOR``: 1 to 200 printable characters on one line, else
one sentence naming it, exit 2, and nothing stored (F11)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import create_database, drop_database

from tests.support import np_command

BAD = ["a\nb", "\x1b[31mred", "x" * 3000, "tab\there", "bad\udcffbytes"]


@pytest.mark.parametrize("value", BAD)
def test_scope_from_env_refuses_what_is_not_one_printable_line(value: str) -> None:
    from store.errors import InvalidArgument
    from store.settings import scope_from_env

    with pytest.raises(InvalidArgument, match="NP_SCOPE"):
        scope_from_env(value, "host")


def test_scope_from_env_keeps_a_good_name_and_falls_back_to_the_host() -> None:
    from store.settings import scope_from_env

    assert scope_from_env("  github.com/acme/shop ", "h") == "github.com/acme/shop"
    assert scope_from_env("x" * 200, "h") == "x" * 200
    assert scope_from_env("   ", "h") == "h"


@pytest.fixture
def pg_db(pg_server: str) -> Iterator[str]:
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)


def np(*args: str, cwd: Path, db: str, scope: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NP_DEBUG", "NP_SCOPE")}
    env["NP_DB"] = db
    env_b = {k.encode(): v.encode("utf-8", "surrogateescape") for k, v in env.items()}
    if scope is not None:
        env_b[b"NP_SCOPE"] = scope.encode("utf-8", "surrogateescape")
    return subprocess.run(
        [*np_command(), *args],
        cwd=cwd,
        env=env_b,  # type: ignore[arg-type]
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("value", BAD)
def test_np_refuses_a_bad_np_scope_on_postgresql_and_stores_nothing(
    value: str, pg_db: str, workdir: Path
) -> None:
    r = np("s", cwd=workdir, db=pg_db, scope=value)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "NP_SCOPE" in r.stderr and r.stderr.count("\n") == 1 and r.stdout == ""
    listed = np("ls", "--json", cwd=workdir, db=pg_db, scope="ok")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["sessions"] == []
    good = np("s", cwd=workdir, db=pg_db, scope="github.com/acme/shop")
    assert good.returncode == 0, good.stderr


def test_np_ls_shows_a_stored_scope_escaped_on_one_bounded_line() -> None:
    """A scope stored before the check (or by another np) never reaches the terminal raw."""
    from server.cli.verbs import _sessions_text

    def row(sid: str, scope: str) -> dict[str, str]:
        return {
            "sid": sid,
            "state": "archived",
            "last_updated_at": "2026-01-01T00:00:00Z",
            "scope": scope,
            "dir": "/p",
        }

    text = _sessions_text(
        {"sessions": [row("A", "a\nb"), row("B", "\x1b[31mred"), row("C", "x" * 3000)]}
    )
    lines = text.split("\n")
    assert lines[0].startswith("SESSION ") and lines[-1].startswith("(active sessions;")
    rows = lines[1:-1]  # between the header and the --all hint
    assert len(rows) == 3 and "\x1b" not in text
    assert "a\\nb" in rows[0] and "\\x1b[31mred" in rows[1]
    assert all(len(line) < 150 for line in lines)  # the scope cut to 60 characters
