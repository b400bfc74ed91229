"""Bad input: one clear sentence, the right exit code, nothing written, no traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import NpResult, NpRunner


def assert_clean_error(r: NpResult, code: int, kind: str | None = None) -> None:
    assert r.code == code, r
    assert "Traceback" not in r.err and "Traceback" not in r.out
    if kind is None:
        assert r.out == ""
        assert r.err.startswith("np: ") and r.err.count("\n") == 1
    else:
        err = r.json()["error"]
        assert err["kind"] == kind, err
        assert err["data"]["kind"] == kind


def event_count(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.fixture
def session(run_np: NpRunner) -> list[str]:
    run_np("s")
    run_np("g", "s", "-t", "G", "-d", "D")
    r = run_np("t", "a", "-t", "a", "-t", "b", "--json")
    return list(r.json()["added"])


def test_no_session(run_np: NpRunner) -> None:
    for args in (["p"], ["g"], ["t"], ["r"], ["a"], ["log"], ["export"], ["t", "a", "-t", "x"]):
        r = run_np(*args)
        assert_clean_error(r, 1)
        assert "np s" in r.err
    r = run_np("p", "--json")
    assert_clean_error(r, 1, "no_active_session")
    assert r.json()["error"]["code"] == 1001


def test_already_active(run_np: NpRunner, session: list[str]) -> None:
    r = run_np("s", "--json")
    assert_clean_error(r, 1, "session_already_active")
    assert r.json()["error"]["code"] == 1002
    assert r.json()["error"]["data"]["session"]["state"] == "active"


def test_goal_errors(run_np: NpRunner, db_path: Path, session: list[str]) -> None:
    before = event_count(db_path)
    assert_clean_error(run_np("g", "s", "-t", "again", "-d", "x", "--json"), 1, "goal_already_set")
    assert_clean_error(run_np("g", "u", "-t", "new", "--json"), 1, "reason_required")
    assert_clean_error(run_np("g", "u", "-t", "new", "-r", "   ", "--json"), 1, "reason_required")
    assert_clean_error(run_np("g", "u", "-r", "why", "--json"), 2, "invalid_argument")
    assert event_count(db_path) == before


def test_goal_not_set(run_np: NpRunner) -> None:
    run_np("s")
    r = run_np("g", "u", "-t", "x", "-r", "y", "--json")
    assert_clean_error(r, 1, "goal_not_set")
    assert r.json()["error"]["code"] == 1004
    assert_clean_error(run_np("g", "s", "-t", "x", "--json"), 2, "invalid_argument")


def test_task_errors(run_np: NpRunner, db_path: Path, session: list[str]) -> None:
    a, _b = session
    before = event_count(db_path)
    r = run_np("t", "u", "-i", a, "-s", "completed", "-i", "zzzzzz", "-s", "completed", "--json")
    assert_clean_error(r, 1, "task_not_found")
    assert r.json()["error"]["data"]["ids"] == ["zzzzzz"]
    assert_clean_error(run_np("t", "u", "-i", a, "-s", "failed"), 1)
    assert_clean_error(run_np("t", "u", "-i", a, "-s", "cancelled", "--json"), 1, "reason_required")
    assert_clean_error(run_np("t", "u", "-i", a, "-s", "finished", "--json"), 2, "invalid_argument")
    assert_clean_error(run_np("t", "e", "-i", a, "-t", "x", "--json"), 1, "reason_required")
    assert_clean_error(run_np("t", "e", "-i", "nope", "-t", "x", "-r", "y"), 1)
    assert_clean_error(run_np("t", "a", "-t", "", "--json"), 2, "invalid_argument")
    assert_clean_error(run_np("t", "a", "-t", "ok", "-t", "x" * 301), 2)
    assert_clean_error(run_np("t", "a", "-t", "ok", "-d", "y" * 20_001), 2)
    assert_clean_error(run_np("t", "a", "-t", "bell \x07"), 2)
    assert_clean_error(run_np("t", "u", "-i", a, "-s", "failed", "-r", "r" * 2001), 2)
    assert_clean_error(run_np("t", "-s", "nonsense"), 2)
    assert event_count(db_path) == before
    assert [t["status"] for t in run_np("t", "--json").json()["tasks"]] == ["pending", "pending"]


@pytest.mark.parametrize(
    "args",
    [
        ["t", "a"],
        ["t", "a", "-d", "desc first"],
        ["t", "a", "-t", "x", "-d", "one", "-d", "two"],
        ["t", "u", "-i", "a"],
        ["t", "u", "-s", "completed"],
        [
            "t",
            "u",
            "-i",
            "a",
            "-s",
            "failed",
            "-i",
            "b",
            "-s",
            "failed",
            "-r",
            "1",
            "-r",
            "2",
            "-r",
            "3",
        ],
        ["t", "x"],
        ["frobnicate"],
        ["p", "--bogus"],
        ["p", "-t", "title"],
        ["t", "a", "-t"],
        ["s", "extra", "words"],
    ],
)
def test_usage_errors(run_np: NpRunner, db_path: Path, session: list[str], args: list[str]) -> None:
    before = event_count(db_path)
    assert_clean_error(run_np(*args), 2)
    # --json first: after a flag that takes a value ("-t") it would be that value (B9)
    assert_clean_error(run_np("--json", *args), 2, "invalid_argument")
    assert event_count(db_path) == before


def test_reasons_pair_by_position_or_apply_to_all(run_np: NpRunner, session: list[str]) -> None:
    a, b = session
    r = run_np("t", "u", "-i", a, "-s", "failed", "-i", b, "-s", "cancelled", "-r", "shared")
    assert r.code == 0, r
    run_np("t", "u", "-i", a, "-s", "pending", "-i", b, "-s", "pending")
    r = run_np(
        "t", "u", "-i", a, "-s", "failed", "-r", "ra", "-i", b, "-s", "cancelled", "-r", "rb"
    )
    assert r.code == 0, r
    log = run_np("log", "-n", "2", "--json").json()["events"]
    assert [(e["payload"]["task_id"], e["reason"]) for e in reversed(log)] == [(a, "ra"), (b, "rb")]


def test_storage_errors_exit_3_and_leave_the_file(run_np: NpRunner, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all\n" * 50)
    before = junk.read_bytes()
    r = run_np("--db", str(junk), "p")
    assert_clean_error(r, 3)
    assert "np database" in r.err
    r = run_np("--db", str(junk), "p", "--json")
    assert_clean_error(r, 3, "storage_error")
    assert r.json()["error"]["code"] == 1009
    assert junk.read_bytes() == before

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = run_np("--db", str(blocker / "np.db"), "s")
    assert_clean_error(r, 3)


def test_a_vanished_working_directory(
    np_env: dict[str, str], tmp_path: Path, run_np: NpRunner
) -> None:
    import shlex
    import subprocess

    from tests.conftest import np_command

    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"cd {shlex.quote(str(gone))} && rmdir {shlex.quote(str(gone))} && "
    script += shlex.join([*np_command(), "p"])
    proc = subprocess.run(["sh", "-c", script], env=np_env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("np: The current directory no longer exists")
    assert "Traceback" not in proc.stderr


def test_common_status_spellings_are_understood(run_np: NpRunner, session: list[str]) -> None:
    a, b = session
    r = run_np("t", "u", "-i", a, "-s", "done", "-i", b, "-s", "canceled", "-r", "dup", "--json")
    assert r.code == 0, r
    assert [t["status"] for t in r.json()["tasks"]] == ["completed", "cancelled"]
    r = run_np("t", "u", "-i", a, "-s", "In-Progress", "--json")
    assert [t["status"] for t in r.json()["tasks"]] == ["in_progress", "cancelled"]
