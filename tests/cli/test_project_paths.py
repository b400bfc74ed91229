"""One project, however it is reached (issue 11 §5): through a symlink under the project
(the shell's logical ``$PWD``), through a bind mount (the directory's identity), and after
the folder was renamed — where np says what happened, refuses a second plan, and the
operator moves the session with ``np mv`` (an event, with its reason)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_errors import assert_clean_error
from tests.conftest import NpRunner
from tests.server.serve_support import RawServer, server_env


def _sessions(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT dir, state FROM sessions ORDER BY created_at"))


def test_a_symlink_inside_the_project_reaches_its_session(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    project = tmp_path / "proj"
    elsewhere = tmp_path / "shared" / "lib"
    project.mkdir()
    elsewhere.mkdir(parents=True)
    (project / "lib").symlink_to(elsewhere)
    assert run_np("s", cwd=project).code == 0
    inside = project / "lib"  # what the shell says after `cd proj/lib`
    env = {"PWD": str(inside)}
    r = run_np("p", "--json", cwd=inside, env=env)
    assert r.code == 0, r
    assert r.json()["session"]["dir"] == str(project)
    r = run_np("s", cwd=inside, env=env)  # no second plan for the same work
    assert r.code == 1, r
    assert "already active" in r.err
    assert run_np("t", "a", "-t", "from the link", cwd=inside, env=env).code == 0
    r = run_np("-C", "lib", "p", cwd=project, env={"PWD": str(project)})  # -C, logically
    assert r.code == 0 and "from the link" in r.out, r
    assert len(_sessions(db_path)) == 1


def test_a_stale_pwd_is_not_believed(run_np: NpRunner, tmp_path: Path) -> None:
    """$PWD naming another directory (a stale environment) is ignored."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert run_np("s", cwd=a).code == 0
    r = run_np("p", cwd=b, env={"PWD": str(a)})
    assert r.code == 1 and "no active session" in r.err.lower(), r


@contextlib.contextmanager
def bind_mount(source: Path, target: Path) -> Iterator[Path]:
    target.mkdir()
    proc = subprocess.run(
        ["mount", "--bind", str(source), str(target)], capture_output=True, check=False
    )
    if proc.returncode != 0:
        pytest.skip("cannot bind-mount here (needs root)")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_a_bind_mount_of_the_project_reaches_its_session(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    assert run_np("s", cwd=project).code == 0
    with bind_mount(project, tmp_path / "mnt") as mounted:
        for where in (mounted, mounted / "src"):
            r = run_np("p", "--json", cwd=where, env={"PWD": str(where)})
            assert r.code == 0, r
            assert r.json()["session"]["dir"] == str(project)
        r = run_np("s", cwd=mounted, env={"PWD": str(mounted)})
        assert r.code == 1 and "already active" in r.err, r
        assert run_np("t", "a", "-t", "via the mount", cwd=mounted).code == 0
    assert len(_sessions(db_path)) == 1


def test_a_renamed_project_is_explained_and_moved_by_the_operator(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    old = tmp_path / "proj"
    (old / "src").mkdir(parents=True)
    sid = run_np("s", "--json", cwd=old).json()["session"]["sid"]
    run_np("t", "a", "-t", "keep me", cwd=old)
    new = tmp_path / "renamed"
    old.rename(new)
    for where in (new, new / "src"):
        r = run_np("r", cwd=where)
        assert_clean_error(r, 1)
        assert str(old) in r.err and "renamed or moved" in r.err, r.err
        assert f"np mv --session {sid}" in r.err, r.err
        r = run_np("r", "--json", cwd=where)
        err = r.json()["error"]
        assert err["kind"] == "no_active_session" and err["data"]["moved"]["sid"] == sid
    r = run_np("ls", cwd=new)  # the operator sees it too
    assert f"{old}  (folder missing" in r.out, r.out
    r = run_np("s", cwd=new)  # the agent cannot orphan the plan with a second one
    assert_clean_error(r, 1)
    assert "renamed or moved" in r.err
    assert len(_sessions(db_path)) == 1
    r = run_np("mv", cwd=new)  # the reason is required
    assert_clean_error(r, 1)
    r = run_np("mv", "-r", "the folder was renamed", cwd=new)
    assert r.code == 0, r
    assert str(new) in r.out
    r = run_np("r", cwd=new / "src")
    assert r.code == 0 and "keep me" in r.out, r
    log = run_np("log", "-n", "1", "--json", cwd=new).json()["events"][0]
    assert log["type"] == "session_moved"
    assert log["payload"] == {"dir_before": str(old), "dir_after": str(new)}
    assert log["reason"] == "the folder was renamed"
    assert "np mv" in log["cmd"]
    assert _sessions(db_path) == [(str(new), "active")]


def test_mv_with_a_session_id_and_its_refusals(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    sid_a = run_np("s", "--json", cwd=a).json()["session"]["sid"]
    run_np("s", cwd=b)
    r = run_np("mv", "-r", "why", cwd=c)  # nothing moved here, no --session: a plan error
    assert_clean_error(r, 1)
    assert "np ls --all" in r.err and "np mv --session SID" in r.err, r.err
    r = run_np("mv", "--session", sid_a, "-r", "taken", cwd=b)  # b has its own session
    assert_clean_error(r, 1)
    assert "already active" in r.err
    r = run_np("mv", "--session", sid_a, "-r", "operator's choice", cwd=c)
    assert r.code == 0, r
    assert run_np("p", "--json", cwd=c).json()["session"]["sid"] == sid_a


def test_the_move_over_json_rpc(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    server = RawServer(server_env(tmp_path / "np.db"), tmp_path)
    try:
        server.initialize(tmp_path)
        sid = server.command("np.session.start", {"dir": str(old)})["result"]["session"]["sid"]
        new = tmp_path / "new"
        os.rename(old, new)
        reply = server.command("np.plan", {"dir": str(new)})
        err = reply["error"]
        assert err["code"] == 1001 and err["data"]["moved"]["sid"] == sid
        assert "np.session.move" in err["message"] and "np mv" not in err["message"]
        reply = server.command("np.session.move", {"dir": str(new)})
        assert reply["error"]["data"]["kind"] == "reason_required", reply
        reply = server.command("np.session.move", {"dir": str(new), "reason": "renamed"})
        assert reply["result"]["session"]["dir"] == str(new)
        plan = server.command("np.plan", {"dir": str(new)})["result"]
        assert plan["session"]["sid"] == sid
    finally:
        server.close()
