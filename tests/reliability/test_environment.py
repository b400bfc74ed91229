"""The environment and the disk (issue 11 §6), each through the real ``np`` on real files:
``--db``/``NP_DB`` values (paths, ``file:`` URIs, ``~``), the XDG base directory spec,
``NP_BUSY_TIMEOUT``, a full disk, the database file replaced under a running ``np serve``,
and a clock that jumps back. Every failure is one sentence, never a traceback."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NpRunner
from tests.server.serve_support import RawServer, server_env


def _sentence(err: str) -> None:
    assert err.startswith("np: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err, err


# -- --db, NP_DB and XDG ---------------------------------------------------------------


def test_a_file_uri_names_its_file_and_leaves_no_stray_tree(
    run_np: NpRunner, workdir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "data dir" / "np.db"
    r = run_np("--db", f"file:{target}", "s")
    assert r.code == 0, r
    assert target.exists() and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(os.listdir(workdir)) == []  # no ./file:/… folder
    quoted = "file://" + str(target).replace(" ", "%20")
    r = run_np("--db", quoted, "p", "--json")
    assert r.code == 0 and r.json()["session"]["dir"] == str(workdir), r
    r = run_np("p", env={"NP_DB": f"file://localhost{target}"})
    assert r.code == 0, r


@pytest.mark.parametrize(
    "value",
    ["file:/tmp/x.db?mode=ro", "file:/tmp/x.db#frag", "file://otherhost/x.db", "file:rel.db"],
)
def test_a_uri_np_cannot_honour_is_refused(run_np: NpRunner, workdir: Path, value: str) -> None:
    r = run_np("--db", value, "s")
    assert r.code == 2, r
    _sentence(r.err)
    assert os.listdir(workdir) == []


def test_a_path_with_uri_characters_is_just_a_path(run_np: NpRunner, tmp_path: Path) -> None:
    odd = tmp_path / "what?is#this%20.db"
    r = run_np("--db", str(odd), "s")
    assert r.code == 0, r
    assert odd.exists() and stat.S_IMODE(odd.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("what")] == [odd.name]


def test_tilde_in_np_db_is_home_not_a_folder_named_tilde(
    run_np: NpRunner, workdir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    r = run_np("s", env={"NP_DB": "~/plans/np.db", "HOME": str(home)})
    assert r.code == 0, r
    assert (home / "plans" / "np.db").exists()
    assert not (workdir / "~").exists()


@pytest.mark.parametrize("xdg", ["", "relative/data", "./data"])
def test_xdg_data_home_relative_or_empty_is_ignored(
    run_np: NpRunner, workdir: Path, tmp_path: Path, xdg: str
) -> None:
    """The XDG base directory spec: a relative path in XDG_DATA_HOME is invalid and must be
    ignored; empty means unset. np then uses $HOME/.local/share."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"NP_DB": "", "HOME": str(home), "XDG_DATA_HOME": xdg}
    r = run_np("s", env=env)
    assert r.code == 0, r
    assert (home / ".local" / "share" / "np" / "np.db").exists()
    assert sorted(os.listdir(workdir)) == []


def test_xdg_data_home_absolute_is_used(run_np: NpRunner, tmp_path: Path) -> None:
    data = tmp_path / "xdg"
    r = run_np("s", env={"NP_DB": "", "XDG_DATA_HOME": str(data)})
    assert r.code == 0, r
    db = data / "np" / "np.db"
    assert db.exists() and stat.S_IMODE(db.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("value", ["abc", "-1", "601", "nan", "5s"])
def test_an_unusable_busy_timeout_is_a_sentence(run_np: NpRunner, value: str) -> None:
    r = run_np("s", env={"NP_BUSY_TIMEOUT": value})
    assert r.code == 2, r
    _sentence(r.err)
    assert "NP_BUSY_TIMEOUT" in r.err
    r = run_np("s", "--json", env={"NP_BUSY_TIMEOUT": value})
    assert r.json()["error"]["data"]["field"] == "NP_BUSY_TIMEOUT"


def test_an_empty_busy_timeout_is_unset(run_np: NpRunner) -> None:
    assert run_np("s", env={"NP_BUSY_TIMEOUT": ""}).code == 0


def test_a_folder_as_database_is_a_sentence(run_np: NpRunner, tmp_path: Path) -> None:
    r = run_np("--db", str(tmp_path), "p")
    assert r.code == 3, r
    _sentence(r.err)
    r = run_np("--db", "", "p")
    assert r.code == 2, r
    _sentence(r.err)


# -- a full disk -------------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "400k") -> Iterator[Path]:
    where.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
    finally:
        os.close(fd)


def test_a_full_disk_is_named_and_reads_still_work(run_np: NpRunner, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small") as small:
        env = {"NP_DB": str(small / "np.db")}
        assert run_np("s", env=env).code == 0
        assert run_np("t", "a", "-t", "before full", env=env).code == 0
        _fill(small)
        r = run_np("t", "a", "-t", "after full", env=env)
        assert r.code == 3, r
        _sentence(r.err)
        assert "disk" in r.err and "full" in r.err, r.err
        r = run_np("p", env=env)  # no other process has the file open: reads still work
        assert r.code == 0 and "before full" in r.out, r
        (small / "filler").unlink()
        r = run_np("t", "a", "-t", "after freeing", env=env)
        assert r.code == 0, r
        with sqlite3.connect(small / "np.db") as conn:
            titles = [t for (t,) in conn.execute("SELECT title FROM tasks ORDER BY created_seq")]
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert titles == ["before full", "after freeing"]


# -- the database file replaced under a running server -----------------------------------


def test_a_restore_under_a_running_server_is_noticed(
    run_np: NpRunner, workdir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "live.db"
    env = {"NP_DB": str(db)}
    assert run_np("s", env=env).code == 0
    assert run_np("t", "a", "-t", "in the backup", env=env).code == 0
    backup = tmp_path / "backup.db"
    assert run_np("backup", str(backup), env=env).code == 0
    server = RawServer(server_env(db), workdir)
    try:
        server.initialize(workdir)
        added = server.command("np.task.add", {"tasks": [{"title": "lost by the restore"}]})
        assert "result" in added, added
        os.replace(backup, db)  # the operator restores: mv backup.db live.db
        reply = server.command("np.task.add", {"tasks": [{"title": "after the restore"}]})
        assert "result" in reply, reply
        titles = [t["title"] for t in reply["result"]["tasks"]]
        assert titles == ["in the backup", "after the restore"], titles
        # np/didChange follows the restore (the feed moved over too)
        deadline = time.monotonic() + 5
        while not server.notifications and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.notifications, "no np/didChange after the restore"
        # another process writes to the restored file while the server runs
        assert run_np("t", "a", "-t", "from the cli", env=env).code == 0
        titles.append("from the cli")
        # the server's later reads see the restored file too
        plan = server.command("np.plan", {})["result"]
        assert [t["title"] for t in plan["tasks"]] == titles
    finally:
        server.close()
    with sqlite3.connect(db) as conn:  # the write landed in the file at the path
        rows = [t for (t,) in conn.execute("SELECT title FROM tasks ORDER BY created_seq")]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert rows == ["in the backup", "after the restore", "from the cli"]
    r = run_np("p", env=env)
    assert "after the restore" in r.out and "lost by the restore" not in r.out


def test_a_change_feed_follows_a_restore(run_np: NpRunner, workdir: Path, tmp_path: Path) -> None:
    """What np serve's np/didChange and np m's refresh rest on: the feed reports the
    sessions of the new file when the path starts naming another file."""
    from store.feed import open_feed

    db = tmp_path / "live.db"
    env = {"NP_DB": str(db)}
    run_np("s", env=env)
    backup = tmp_path / "b.db"
    run_np("backup", str(backup), env=env)
    feed = open_feed(str(db))
    try:
        assert feed.poll() == []
        os.replace(backup, db)
        changes = feed.poll()
        assert [c.type for c in changes] == ["session_started"]
        run_np("t", "a", "-t", "x", env=env)
        assert [c.type for c in feed.poll()] == ["task_added"]
    finally:
        feed.close()


def test_a_removed_database_is_refused_loudly(
    run_np: NpRunner, workdir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "gone.db"
    assert run_np("s", env={"NP_DB": str(db)}).code == 0
    server = RawServer(server_env(db), workdir)
    try:
        server.initialize(workdir)
        assert "result" in server.command("np.plan", {})
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{db}{suffix}")
        reply = server.command("np.task.add", {"tasks": [{"title": "x"}]})
        assert reply["error"]["code"] == 1009, reply
        assert reply["error"]["data"]["cause"] == "replaced"
        assert "removed or moved away" in reply["error"]["message"]
    finally:
        server.close()


# -- a clock that jumps ------------------------------------------------------------------


def _faketime_env(offset: str) -> dict[str, str]:
    libfaketime = pytest.importorskip("libfaketime")
    _, env = libfaketime.get_reload_information()
    return {**env, "FAKETIME": offset}


def test_a_clock_that_jumps_back_never_makes_time_run_backwards(
    run_np: NpRunner, db_path: Path
) -> None:
    assert run_np("s").code == 0
    tid = run_np("t", "a", "-t", "x", "--json").json()["added"][0]
    back = _faketime_env("-1d")
    assert run_np("t", "u", "-i", tid, "-s", "in_progress", env=back).code == 0
    assert run_np("t", "a", "-t", "y", env=back).code == 0
    assert run_np("a", env=back).code == 0
    with sqlite3.connect(db_path) as conn:
        times = [at for (at,) in conn.execute("SELECT at FROM events ORDER BY id")]
        session = conn.execute("SELECT created_at, last_updated_at, archived_at FROM sessions")
        created, updated, archived = session.fetchone()
        tasks = list(conn.execute("SELECT created_at, updated_at FROM tasks"))
    assert times == sorted(times), times
    assert created <= updated and created <= archived, (created, updated, archived)
    assert all(c <= u for c, u in tasks), tasks


def test_a_clock_that_jumps_forward_and_back_keeps_one_order(
    run_np: NpRunner, db_path: Path
) -> None:
    assert run_np("s", env=_faketime_env("+2h")).code == 0
    assert run_np("t", "a", "-t", "now", "-t", "again").code == 0
    r = run_np("log", "--json")
    events = r.json()["events"]
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    ats = [e["at"] for e in reversed(events)]
    assert ats == sorted(ats), ats


def test_a_relative_home_with_nothing_else_is_a_sentence(run_np: NpRunner, workdir: Path) -> None:
    r = run_np("p", env={"HOME": "relative/home", "NP_DB": "", "XDG_DATA_HOME": ""})
    assert r.code == 2, r
    _sentence(r.err)
    assert "HOME" in r.err
    assert os.listdir(workdir) == []


def test_an_unwritable_log_file_is_a_sentence(run_np: NpRunner, tmp_path: Path) -> None:
    r = run_np("serve", "--log-file", str(tmp_path / "missing" / "np.log"))
    assert r.code == 2, r
    _sentence(r.err)
    assert "log file" in r.err


def test_a_file_is_not_a_session_directory(run_np: NpRunner, tmp_path: Path) -> None:
    plain = tmp_path / "notes.txt"
    plain.write_text("x")
    r = run_np("-C", str(plain), "s")
    assert r.code == 2, r
    _sentence(r.err)
    assert "not a directory" in r.err


def test_tilde_in_path_options_is_home(run_np: NpRunner, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert run_np("s").code == 0
    r = run_np("export", "--output=~/plan.md", env={"HOME": str(home)})
    assert r.code == 0, r
    assert (home / "plan.md").exists()
    r = run_np("backup", "~/copy.db", env={"HOME": str(home)})
    assert r.code == 0, r
    assert (home / "copy.db").exists()
