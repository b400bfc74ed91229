"""Distinct folders never share a session (fresh finding F6): the stored form of a
directory (``sessions.dir``) is injective. A byte that is not UTF-8 is stored ``\\xNN`` and a
backslash ``\\\\``, so a folder named ``u<0xFF><0xE9>`` (key ``u\\xff\\xe9``) and a
folder literally named ``u\\xff\\xe9`` (key ``u\\\\xff\\\\xe9``) each have their own plan,
whether reached by ``cd``, from a subfolder (the parent walk), after a rename (``np mv``) or
over ``np serve`` (``rootUri``). Paths without a backslash are stored as they always were;
a session whose key was written before (a raw backslash) is still found by its folder's
identity. The siblings checked here: ``np ls``'s "folder missing" mark and ``np doctor``'s
missing folders test the real path, not the escaped key (F7)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cli.test_errors import assert_clean_error
from tests.conftest import NpRunner
from tests.server.serve_support import RawServer, server_env

RAW = "u\udcff\udce9"  # the bytes u 0xFF 0xE9 (PEP 383 spelling)
LITERAL = "u\\xff\\xe9"  # the ten characters u \ x f f \ x e 9


def _sessions(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT dir, sid FROM sessions WHERE state = 'active'"))


def test_a_raw_byte_folder_and_a_literal_backslash_folder_have_their_own_plans(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    raw, literal = tmp_path / RAW, tmp_path / LITERAL
    (raw / "sub").mkdir(parents=True)
    (literal / "sub").mkdir(parents=True)
    assert run_np("s", cwd=raw).code == 0
    assert run_np("t", "a", "-t", "x", cwd=raw).code == 0
    r = run_np("p", cwd=literal)  # the tester's repro: this showed task x
    assert_clean_error(r, 1)
    assert "no active session" in r.err.lower() and "x" not in r.out
    r = run_np("s", cwd=literal)
    assert r.code == 0, r
    r = run_np("t", "a", "-t", "written from the literal-backslash dir", cwd=literal / "sub")
    assert r.code == 0, r
    keys = _sessions(db_path)
    assert set(keys) == {f"{tmp_path}/u\\xff\\xe9", f"{tmp_path}/u\\\\xff\\\\xe9"}, keys
    raw_plan = run_np("--json", "p", cwd=raw / "sub").json()
    literal_plan = run_np("--json", "p", cwd=literal / "sub").json()
    assert [t["title"] for t in raw_plan["tasks"]] == ["x"]
    assert [t["title"] for t in literal_plan["tasks"]] == ["written from the literal-backslash dir"]
    assert raw_plan["session"]["sid"] != literal_plan["session"]["sid"]
    # Both folders exist: np ls marks neither missing, np doctor misses none.
    r = run_np("ls", cwd=tmp_path)
    assert r.code == 0 and "folder missing" not in r.out, r.out
    doctor = run_np("--json", "doctor", cwd=tmp_path).json()
    (sessions,) = [c for c in doctor["checks"] if c["name"] == "sessions"]
    assert sessions["data"]["missing_dirs"] == [], sessions
    # Archiving one leaves the other; archiving it again names the archived one.
    assert run_np("a", cwd=literal).code == 0
    r = run_np("a", cwd=literal)
    assert r.code == 0 and "already archived" in r.out, r
    assert run_np("p", cwd=raw).code == 0
    assert list(_sessions(db_path)) == [f"{tmp_path}/u\\xff\\xe9"]


def test_a_renamed_raw_byte_folder_is_found_and_moved(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    old = tmp_path / "old\udcfe"
    old.mkdir()
    sid = run_np("--json", "s", cwd=old).json()["session"]["sid"]
    new = tmp_path / "new\udcfe\\x41"  # a raw byte and a literal backslash
    old.rename(new)
    r = run_np("r", cwd=new)
    assert_clean_error(r, 1)
    assert "renamed or moved" in r.err and sid in r.err, r.err
    r = run_np("ls", cwd=tmp_path)
    assert "folder missing" in r.out, r.out  # it is: the key names the old folder
    r = run_np("mv", "-r", "renamed", cwd=new)
    assert r.code == 0, r
    assert _sessions(db_path) == {f"{tmp_path}/new\\xfe\\\\x41": sid}
    assert "folder missing" not in run_np("ls", cwd=tmp_path).out
    assert run_np("--json", "p", cwd=new).json()["session"]["sid"] == sid


def test_a_clean_path_with_a_backslash_and_its_key_from_before(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    """A clean path holding a backslash is now stored with it doubled; a session whose key
    was written before (the raw path) is still found, by its folder's identity, and
    ``np mv --session`` rewrites its key."""
    folder = tmp_path / "a\\b"
    (folder / "src").mkdir(parents=True)
    sid = run_np("--json", "s", cwd=folder).json()["session"]["sid"]
    assert _sessions(db_path) == {f"{tmp_path}/a\\\\b": sid}
    assert run_np("p", cwd=folder / "src").code == 0
    with sqlite3.connect(db_path) as conn:  # as an older np stored it
        conn.execute("UPDATE sessions SET dir = ? WHERE sid = ?", (f"{tmp_path}/a\\b", sid))
    for where in (folder, folder / "src"):
        r = run_np("--json", "p", cwd=where)
        assert r.code == 0 and r.json()["session"]["sid"] == sid, r
    r = run_np("s", cwd=folder)  # no second plan for the same folder
    assert_clean_error(r, 1)
    assert "already active" in r.err, r.err
    assert "folder missing" not in run_np("ls", cwd=tmp_path).out
    r = run_np("mv", "--session", sid, "-r", "rewrite the key", cwd=folder)
    assert r.code == 0, r
    assert _sessions(db_path) == {f"{tmp_path}/a\\\\b": sid}


def test_np_serve_roots_of_the_two_folders_are_two_projects(tmp_path: Path) -> None:
    raw, literal = tmp_path / RAW, tmp_path / LITERAL
    raw.mkdir()
    literal.mkdir()
    env = server_env(tmp_path / "np.db")
    sids = []
    for root in (raw, literal):  # rootUri file:///…/u%FF%E9 and file:///…/u%5Cxff%5Cxe9
        server = RawServer(env, tmp_path)
        try:
            server.initialize(root)
            reply = server.command("np.plan", {})
            assert reply["error"]["data"]["kind"] == "no_active_session", reply
            reply = server.command("np.session.start", {})
            sids.append(reply["result"]["session"]["sid"])
        finally:
            server.close()
    assert len(set(sids)) == 2
