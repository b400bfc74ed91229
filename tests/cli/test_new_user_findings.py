"""Small things a new user found, each fixed as a kind (real ``np``, real SQLite files):
counts named in words (``np db copy``), an unknown task id said before a missing reason,
a line break in a question named as such, a no-op edit writing nothing, and a short
option's value attached as getopt takes it (``-n1``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.cli.maintenance import _ROW_NOUNS
from store.ops.copy import TABLES
from tests.conftest import NpRunner


def _events(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def test_db_copy_counts_every_table_in_words(
    run_np: NpRunner, db_path: Path, tmp_path: Path
) -> None:
    assert {table for table, _, _ in TABLES} <= set(_ROW_NOUNS)
    assert run_np("s").code == 0
    r = run_np("db", "copy", str(db_path), str(tmp_path / "copy.db"))
    assert r.code == 0, r
    assert "ss," not in r.out and "ss " not in r.out, r.out
    assert "0 dependencies, 0 requests, 0 joins" in r.out, r.out


def test_an_unknown_task_is_said_before_a_missing_reason(run_np: NpRunner) -> None:
    assert run_np("s").code == 0
    for status in ("failed", "cancelled"):
        r = run_np("t", "u", "-i", "zzzzzz", "-s", status)
        assert r.code == 1, r
        assert "No task with id zzzzzz" in r.err and "reason" not in r.err, r.err


def test_a_question_is_one_line_and_an_edit_to_the_same_text_writes_nothing(
    run_np: NpRunner, db_path: Path
) -> None:
    assert run_np("s").code == 0
    task = run_np("--json", "t", "a", "-t", "one", "-d", "d").json()["tasks"][0]["id"]
    r = run_np("t", "q", "-i", task, "-q", "line one\nline two")
    assert r.code == 2, r
    assert "(a question is one line)" in r.err and "title" not in r.err, r.err
    before = _events(db_path)
    for same in (["-t", "one"], ["-d", "d"], ["-t", "one", "-d", "d"]):
        assert run_np("t", "e", "-i", task, *same, "-r", "x").code == 0
    assert _events(db_path) == before
    assert run_np("t", "e", "-i", task, "-t", "two", "-r", "x").code == 0
    assert _events(db_path) == before + 1


def test_a_short_options_value_may_be_attached(run_np: NpRunner) -> None:
    assert run_np("s").code == 0
    assert run_np("t", "a", "-t", "one", "-t", "two").code == 0
    attached, apart = run_np("log", "-n1"), run_np("log", "-n", "1")
    assert attached.code == 0, attached
    assert attached.out == apart.out
    task = run_np("--json", "t").json()["tasks"][0]["id"]
    r = run_np("--json", f"-i{task}", "-sdone", "t", "u")
    assert r.code == 0, r
    assert run_np("--json", "t").json()["tasks"][0]["status"] == "completed"


def test_an_extras_install_command_fits_how_np_was_installed(monkeypatch) -> None:
    import sys

    from store.install import install_hint

    monkeypatch.setattr(sys, "prefix", "/home/u/.local/share/pipx/venvs/nasin-pali")
    pipx = install_hint("web")
    assert pipx.startswith("pipx inject nasin-pali ") and "starlette" in pipx, pipx
    monkeypatch.setattr(sys, "prefix", "/home/u/np/.venv")
    plain = install_hint("web")
    assert plain.startswith("pip install '.[web]'") and sys.executable in plain, plain


def test_a_folder_with_a_control_character_is_named_and_refused(
    run_np: NpRunner, workdir: Path
) -> None:
    assert run_np("s").code == 0
    for ch, name in (("\t", "TAB"), ("\x1b", "ESCAPE")):
        sub = workdir / f"sub{ch}dir"
        sub.mkdir()
        for args in (["p"], ["-C", str(sub), "p"]):
            r = run_np(*args, cwd=sub if args == ["p"] else workdir)
            assert r.code == 2, r
            assert "control character" in r.err and name in r.err, r.err
            assert "not a usable path" not in r.err
