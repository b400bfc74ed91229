"""Six ``np s`` started at once in one directory: exactly one wins.

The first round runs on a database that does not exist yet, so the six processes also
race to create the file and migrate the schema; later rounds race again in the same
directory after the winner's session was archived.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from reliability_support import connect_ro, is_pg, np_cmd, seqs

RACERS = 6


@pytest.fixture
def np_env(np_db: str) -> dict[str, str]:
    """Both engines: on PostgreSQL the database exists (migrated by its operator)."""
    env = {**os.environ, "NP_DB": np_db}
    env.pop("NP_DEBUG", None)
    return env


def active_sids(db: Path | str) -> list[str]:
    conn = connect_ro(db)
    try:
        return [r[0] for r in conn.execute("SELECT sid FROM sessions WHERE state = 'active'")]
    finally:
        conn.close()


def _race(env: dict[str, str], workdir: Path) -> list[tuple[int, str, str]]:
    procs = [
        subprocess.Popen(
            [*np_cmd(), "s", "--json"],
            cwd=str(workdir),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(RACERS)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err))
    return results


def test_six_starts_at_once_exactly_one_wins(run_np, np_env, workdir, np_db):
    assert is_pg(np_db) or not Path(np_db).exists()
    winners_seen: set[str] = set()
    for round_no in range(2):
        results = _race(np_env, workdir)
        winners = [json.loads(out) for code, out, _ in results if code == 0]
        losers = [(code, out, err) for code, out, err in results if code != 0]
        assert len(winners) == 1, results
        winner = winners[0]["session"]
        assert winner["state"] == "active"
        for code, out, err in losers:
            assert code == 1, (code, out, err)
            assert err == "" and "locked" not in out
            error = json.loads(out)["error"]
            assert error["kind"] == "session_already_active"
            assert error["code"] == 1002
            # The error carries the session that won, so the loser can resume it.
            assert error["data"]["session"]["sid"] == winner["sid"]
        assert winner["sid"] not in winners_seen
        winners_seen.add(winner["sid"])
        # Losers wrote nothing: the winner's log holds just its session_started event.
        assert seqs(np_db, winner["sid"]) == [1]
        assert active_sids(np_db) == [winner["sid"]]
        archived = run_np("a", "--json")
        assert archived.code == 0, (round_no, archived)
    assert active_sids(np_db) == []
