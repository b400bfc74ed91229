"""A write waiting for the SQLite write lock stops at once on Ctrl-C, SIGTERM or SIGHUP
(the new user's finding: SQLite's busy handler waits inside C, where Python's signal
handlers never ran, so np exited only when the whole busy timeout was over).

A real lock holder (``BEGIN IMMEDIATE`` on the file) and a real ``np t a`` with a busy
timeout of 600 s; the signal is sent once np sleeps in SQLite's busy handler
(:func:`tests.support.waits_in_sqlite`). The test's own 30 s timeout only turns the old
behaviour (a wait of 600 s) into a failure; it measures nothing.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import np_command, waits_in_sqlite

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_write_waiting_for_the_lock_stops_at_once(
    run_np, db_path: Path, workdir: Path, np_env, stop: str
) -> None:
    assert run_np("s").code == 0
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        proc = subprocess.Popen(
            [*np_command(), "t", "a", "-t", "never"],
            cwd=workdir,
            env={**np_env, "NP_BUSY_TIMEOUT": "600"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            waits_in_sqlite(proc)
            proc.send_signal(getattr(signal, stop))
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 130, (proc.returncode, err)
    assert "nothing was written" in err, err
    assert "Traceback" not in err
    assert run_np("t", "--json").json()["tasks"] == []


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_a_write_waiting_for_a_postgresql_lock_stops_at_once(
    pg_server: str, workdir: Path, stop: str
) -> None:
    """The same on PostgreSQL: the lock wait is the server's (lock_timeout); the CLI stops
    at once all the same (psycopg cancels the query), exit 130, nothing written. The signal
    is sent once the server reports np's query waiting for a lock (pg_stat_activity)."""
    import psycopg
    from pg_support import create_database, drop_database

    url = create_database(pg_server)
    env = {**os.environ, "NP_DB": url, "NP_BUSY_TIMEOUT": "600"}
    env.pop("NP_DEBUG", None)
    assert subprocess.run([*np_command(), "s"], cwd=workdir, env=env).returncode == 0
    try:
        with psycopg.connect(url) as holder:
            holder.execute("LOCK TABLE sessions, tasks IN ACCESS EXCLUSIVE MODE")
            proc = subprocess.Popen(
                [*np_command(), "t", "a", "-t", "never"],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                with psycopg.connect(url, autocommit=True) as watch:
                    waiting = (
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )
                    while proc.poll() is None and not watch.execute(waiting).fetchone()[0]:  # type: ignore[index]
                        time.sleep(0.01)  # a poll of the server's view, not a wait for time
                proc.send_signal(getattr(signal, stop))
                _, err = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            holder.rollback()
        assert proc.returncode == 130, (proc.returncode, err)
        assert "nothing was written" in err, err
        listed = subprocess.run(
            [*np_command(), "t", "--json"], cwd=workdir, env=env, capture_output=True, text=True
        )
        assert '"tasks":[]' in listed.stdout.replace(" ", ""), listed
    finally:
        drop_database(pg_server, url)
