"""No plan at a folder that holds every project (issue 20, kind 2), in every door.

``/``, the home folder (``$HOME`` and the password entry's), every folder above it and the
folders of all homes (``/home``, ``/Users``) are no project: a session is never started or
moved there (CLI and ``np serve``, both engines), a plan kept there from before never
spreads to the projects below, and ``np serve`` started there, or given a workspace that
is no local folder (``vscode-vfs://…``), never acts in its own working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from serve_support import RawServer, server_env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home" / "ana"
    (h / "proj").mkdir(parents=True)
    return h


def _sessions(run_np, env: dict[str, str]) -> list[str]:
    r = run_np("ls", "--json", env=env)
    assert r.code == 0, r
    return [s["dir"] for s in r.json()["sessions"]]


def test_no_plan_at_home_root_or_above(run_np, np_db: str, home: Path) -> None:
    env = {"HOME": str(home), "NP_DB": np_db}
    for where in (home, home.parent, Path("/"), Path("/home")):
        r = run_np("s", "-C", str(where), env=env)
        assert r.code == 2, (where, r)
        assert "holds every project" in r.err, r.err
    r = run_np("s", cwd=home, env=env)  # standing there, without -C
    assert r.code == 2, r
    link = home / "proj" / "up"
    link.symlink_to(home)  # reached through a link: still the home folder
    assert run_np("s", "-C", str(link), env=env).code == 2
    # the projects below are unaffected, and a session cannot be moved up there
    assert run_np("s", cwd=home / "proj", env=env).code == 0
    r = run_np("mv", "-C", str(home), "-r", "up one", env=env)
    assert r.code in (1, 2), r
    assert _sessions(run_np, env) == [str(home / "proj")]


def test_a_plan_kept_at_home_from_before_never_spreads_below(run_np, home: Path, db_path) -> None:
    import sqlite3

    env = {"HOME": str(home)}
    assert run_np("s", cwd=home / "proj", env=env).code == 0
    conn = sqlite3.connect(str(db_path))  # an older np accepted a plan at $HOME
    st = os.stat(home)
    conn.execute(
        "UPDATE sessions SET dir = ?, dir_dev = ?, dir_ino = ?", (str(home), st.st_dev, st.st_ino)
    )
    conn.commit()
    conn.close()
    below = run_np("p", cwd=home / "proj", env=env)
    assert below.code == 1, below  # not this project's plan
    assert run_np("s", cwd=home / "proj", env=env).code == 0  # not refused beneath
    there = run_np("p", cwd=home, env=env)
    assert there.code == 0, there  # still readable, and archivable, where it is
    assert run_np("a", cwd=home, env=env).code == 0


def _serve(db: Path, cwd: Path, home: Path, *args: str) -> RawServer:
    return RawServer(server_env(db, HOME=str(home)), cwd, args)


def test_serve_started_in_home_or_root_needs_a_dir(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "np.db"
    for cwd in (home, Path("/")):
        with _serve(db, cwd, home) as server:
            server.initialize()
            reply = server.command("np.session.start", {})
            assert reply["error"]["data"]["kind"] == "invalid_argument", reply
            assert "dir" in reply["error"]["message"]
            explicit = server.command("np.session.start", {"dir": str(cwd)})
            assert "holds every project" in explicit["error"]["message"], explicit
            fine = server.command("np.session.start", {"dir": str(home / "proj")})
            assert "result" in fine, fine
            archived = server.command("np.session.archive", {"dir": str(home / "proj")})
            assert "result" in archived, archived


def test_serve_with_a_workspace_that_is_no_local_folder_never_uses_its_cwd(
    tmp_path: Path, home: Path
) -> None:
    db = tmp_path / "np.db"
    project = home / "proj"
    with _serve(db, project, home) as server:
        params = {
            "processId": os.getpid(),
            "capabilities": {},
            "rootUri": "vscode-vfs://github/ana/proj",
            "workspaceFolders": [{"uri": "vscode-vfs://github/ana/proj", "name": "proj"}],
        }
        assert "result" in server.request("initialize", params, 60)
        server.notify("initialized", {})
        reply = server.command("np.session.start", {})
        assert "error" in reply, reply
        assert reply["error"]["data"]["kind"] == "invalid_argument"
        assert reply["error"]["data"]["field"] == "dir"
        listed = server.command("np.session.list", {})
        assert listed["result"]["sessions"] == []
    # the same server in a project with no workspace named still uses its folder
    with _serve(db, project, home) as server:
        server.initialize()
        assert "result" in server.command("np.session.start", {})
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "ls", "--json"],
        env=server_env(db),
        capture_output=True,
        text=True,
        check=True,
        cwd=str(project),
    ).stdout
    assert str(project) in out
