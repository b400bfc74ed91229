"""PostgreSQL for the tests: one private cluster per test run, one fresh database per test.

The cluster is ``$NP_TEST_PG`` when set (``.ci/run`` starts one with ``.ci/postgres.sh``),
else one this module starts the same way in a temporary folder and stops at the end.
When neither works the PostgreSQL variants skip, except with ``NP_REQUIRE_PG=1`` or in CI
(``CI=true``), where they fail: a green run cannot hide PostgreSQL tests that never ran.

Each test gets its own database (``CREATE DATABASE``, about 0.1 s): the append-only
guards forbid ``TRUNCATE`` and ``DELETE``, as they should, so nothing is cleaned in place.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "postgres.sh"
ENGINES = ["sqlite", "postgresql"]
_counter = itertools.count(1)


def required() -> bool:
    return os.environ.get("NP_REQUIRE_PG") == "1" or os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    if required():
        pytest.fail(f"PostgreSQL is required here (NP_REQUIRE_PG/CI) but {reason}")
    pytest.skip(f"no PostgreSQL for the tests: {reason}")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL cluster's maintenance database (``postgres``)."""
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[dev]')")
    url = os.environ.get("NP_TEST_PG")
    folder: str | None = None
    if not url:
        sbin = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"  # as .ci/postgres.sh looks
        if shutil.which("runuser", path=sbin) is None and os.geteuid() == 0:
            unavailable("runuser is missing")
        folder = tempfile.mkdtemp(prefix="np-test-pg-")
        proc = subprocess.run(
            ["bash", str(SCRIPT), "start", folder], capture_output=True, text=True, timeout=300
        )
        if proc.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            unavailable(f"a private cluster did not start: {proc.stderr.strip()[-400:]}")
        url = proc.stdout.strip().split("=", 1)[1].strip("'")
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        unavailable(f"cannot connect to NP_TEST_PG: {exc}")
    yield url
    if folder is not None:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True, timeout=120)


def create_database(server: str, *, migrate: bool = True) -> str:
    """A new empty database on ``server`` (migrated unless told otherwise); its URL."""
    import psycopg

    name = f"np_t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = with_database(server, name)
    if migrate:
        from store.postgres.conn import connect
        from store.postgres.schema import migrate as run_migrations

        pg = connect(url)
        try:
            run_migrations(pg.raw)
        finally:
            pg.close()
    return url


def drop_database(server: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
