"""np through a real PgBouncer on the CLI's machine (README, "Sharing plans across
machines", the connection-cost pick of issue 19), in front of the tests' cluster.

Session pooling: the CLI's verbs work, a change feed opened through the pooler (``LISTEN``,
as ``np serve`` and ``np m`` open it) hears a CLI commit, and ``np doctor`` says when np's
connection settings (startup options, which the pooler ignores) did not reach the server
and which ``ALTER ROLE`` fixes it. Transaction pooling: writes work, and ``np doctor``
flags that notifications are lost. A pooler that refuses np's startup options is named
with the line to add, not reported as an unreachable server. A writer whose pooler's link
to the server drops mid-unit holds nothing another machine's write waits for.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from pg_support import create_database, drop_database, unavailable

from bench.delay_proxy import DelayProxy
from bench.pg_connect import pgbouncer, pgbouncer_ini
from tests.support import np_command

Pooler = Callable[..., AbstractContextManager[str]]


def np(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NP_DB": url, "NP_ACTOR": ""}
    env.pop("NP_DEBUG", None)
    return subprocess.run(
        [*np_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def pooled(pg_server: str) -> Iterator[tuple[Pooler, str, str]]:
    """(start a pooler for this test's database as ``role``, the server URL, role)."""
    import psycopg

    sbin = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    if shutil.which("pgbouncer", path=sbin) is None:
        unavailable("pgbouncer is not installed (.ci/postgres.sh installs it)")
    url = create_database(pg_server)
    database = url.split("?", 1)[0].rsplit("/", 1)[1]
    socket_dir = url.split("host=", 1)[1].split("&", 1)[0]
    role = f"np_pooled_{os.getpid()}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN IN ROLE np_app")
    folders: list[str] = []

    def start(via: str = socket_dir, **settings: object) -> AbstractContextManager[str]:
        """A pooler whose connections to the server go to the socket folder ``via``."""
        folder = tempfile.mkdtemp(prefix="np-pgb-")  # short: a Unix socket path is short
        folders.append(folder)
        Path(folder).chmod(0o755)
        target = f"host={via} port=5432 dbname={database} application_name=np"
        ini = pgbouncer_ini(
            Path(folder),
            {database: target},
            users=(role,),
            **settings,  # type: ignore[arg-type]
        )
        return pgbouncer(ini)

    yield start, url, role
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    drop_database(pg_server, url)
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")


def _through(url: str, role: str, query: str) -> str:
    database = url.split("?", 1)[0].rsplit("/", 1)[1]
    return f"postgresql://{role}@/{database}?{query}"


def _checks(url: str) -> dict[str, tuple[str, str]]:
    from store.ops import diagnose

    return {c.name: (str(c.status), c.message) for c in diagnose(url).checks}


def test_session_pooling_serves_the_cli_the_feed_and_names_missing_settings(
    pooled: tuple[Pooler, str, str], workdir: Path
) -> None:
    import psycopg

    from store.feed import open_feed

    start, server_url, role = pooled
    with start() as query:  # np's startup options are ignored: doctor says what to set
        checks = _checks(_through(server_url, role, query))
    status, message = checks["settings"]
    assert status == "warn", checks
    assert f"ALTER ROLE {role} SET lock_timeout = '5000ms'" in message
    assert "TimeZone = 'UTC'" in message
    assert checks["notify"][0] == "ok"
    with psycopg.connect(server_url, autocommit=True) as admin:
        for statement in message.rsplit("role: ", 1)[1].rstrip(".").split("; "):
            assert statement.startswith(f"ALTER ROLE {role} SET ")
            admin.execute(statement)
    with start() as query:
        url = _through(server_url, role, query)
        checks = _checks(url)
        assert checks["settings"][0] == "ok" and checks["notify"][0] == "ok", checks
        assert np(url, workdir, "s").returncode == 0
        added = np(url, workdir, "--json", "t", "a", "-t", "through the pooler")
        assert added.returncode == 0, added.stderr
        task = json.loads(added.stdout)["tasks"][0]["id"]
        feed = open_feed(url)
        try:
            feed.poll()  # the feed's cursor starts now
            done = np(url, workdir, "t", "u", "-i", task, "-s", "completed")
            assert done.returncode == 0, done.stderr
            heard: list[object] = []
            deadline = time.monotonic() + 20
            while not heard and time.monotonic() < deadline:  # woken by the notification
                select.select([feed.fileno()], [], [], 1)
                heard = list(feed.poll())
            assert heard, "the feed opened through the pooler never heard the commit"
        finally:
            feed.close()
        shown = json.loads(np(url, workdir, "--json", "p").stdout)
        assert [t["status"] for t in shown["tasks"]] == ["completed"]


def test_transaction_pooling_writes_but_doctor_flags_lost_notifications(
    pooled: tuple[Pooler, str, str], workdir: Path
) -> None:
    start, server_url, role = pooled
    with start(pool_mode="transaction") as query:
        url = _through(server_url, role, query)
        assert np(url, workdir, "s").returncode == 0
        assert np(url, workdir, "t", "a", "-t", "one").returncode == 0
        status, message = _checks(url)["notify"]
        assert status == "warn" and "transaction-mode pooler" in message


def test_a_pooler_refusing_np_s_startup_options_names_the_setting(
    pooled: tuple[Pooler, str, str], workdir: Path
) -> None:
    start, server_url, role = pooled
    with start(ignore_options=False) as query:
        failed = np(_through(server_url, role, query), workdir, "--json", "p")
    assert failed.returncode == 3
    error = json.loads(failed.stdout or failed.stderr)["error"]
    assert error["data"]["cause"] == "pooler_options"
    assert "ignore_startup_parameters = options" in error["message"]
    assert "cannot be reached" not in error["message"]


def test_a_pooled_writer_whose_link_drops_mid_unit_stalls_nobody(
    pooled: tuple[Pooler, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As tests/store/test_pg_link_drop.py, with writer A behind its machine's PgBouncer
    and the link between that pooler and the server going silent after A's reads: machine
    B writes to the same plan without waiting for any lock (``NP_BUSY_TIMEOUT=0``); A's
    writes, once the link is back, are refused whole; the log holds B's change once."""
    from store import NewTask, Store
    from store.errors import WriteConflict

    start, server_url, role = pooled
    monkeypatch.setenv("NP_BUSY_TIMEOUT", "0")
    work = tmp_path / "project"
    work.mkdir()
    with Store(server_url) as setup, setup.transaction("np s") as unit:
        sid = unit.start_session(str(work)).sid
    socket_dir = server_url.split("host=", 1)[1].split("&", 1)[0]
    link_dir = tempfile.mkdtemp(prefix="np-link-")
    Path(link_dir).chmod(0o755)
    try:
        with (
            DelayProxy(f"{link_dir}/.s.PGSQL.5432", f"{socket_dir}/.s.PGSQL.5432", 0.002) as link,
            start(via=link_dir) as query,
        ):
            # PgBouncer runs as postgres when the tests run as root: it may connect here.
            Path(f"{link_dir}/.s.PGSQL.5432").chmod(0o777)
            a_url = _through(server_url, role, query)
            paused = threading.Event()
            outcome: list[BaseException | str] = []

            def writer_a() -> None:
                try:
                    with Store(a_url) as a, a.transaction("np t a (A)", "agent@a") as unit:
                        unit.active_for(str(work))  # the reads (no lock is taken)
                        link.pause()  # the pooler's link to the server goes silent now
                        paused.set()
                        unit.add_tasks(sid, [NewTask("from A")])
                    outcome.append("committed")
                except BaseException as exc:
                    outcome.append(exc)
                finally:
                    paused.set()

            thread = threading.Thread(target=writer_a, daemon=True)
            thread.start()
            assert paused.wait(30)
            with Store(server_url) as b, b.transaction("np t a (B)", "agent@b") as unit:
                unit.add_tasks(sid, [NewTask("from B")])
            link.pause(False)
            thread.join(60)
            assert not thread.is_alive()
    finally:
        shutil.rmtree(link_dir, ignore_errors=True)
    assert len(outcome) == 1 and isinstance(outcome[0], WriteConflict), outcome
    with Store(server_url) as check:
        titles = [t.title for t in check.tasks(sid)]
        events = check.events(sid)
    assert titles == ["from B"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert "np t a (A)" not in [e.cmd for e in events]
