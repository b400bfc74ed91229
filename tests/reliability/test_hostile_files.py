"""Hostile files at the database path: refused with exit code 3, one clear sentence, and
the file left exactly as it was (same bytes, no stray files beside it)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from reliability_support import (
    json_error,
    listing,
    one_clear_sentence,
    permission_wrapper,
    run_np,
    sha256,
)

# A read, an agent's first write, and a batch write (the last also with --json).
COMMANDS = [["p"], ["s"], ["t", "a", "-t", "x", "-t", "y"]]


def _make_np_db(db: Path, workdir: Path) -> None:
    from server.commands import Context, execute
    from store import Store

    with Store(str(db)) as store:
        ctx = Context(store, str(workdir), "test")
        execute("np.session.start", ctx, {})
        execute("np.task.add", ctx, {"tasks": [{"title": "a"}, {"title": "b"}]})


def _assert_refused(
    db: Path,
    workdir: Path,
    words: tuple[str, ...],
    wrapper: Sequence[str] = (),
    commands: Sequence[list[str]] = COMMANDS,
) -> None:
    before_hash = sha256(db) if db.exists() else None
    folder = db.parent if db.parent.exists() else db.parent.parent
    before_files = listing(folder)
    env = {**os.environ, "NP_DB": str(db)}
    env.pop("NP_DEBUG", None)
    runs = [(list(args), False) for args in commands] + [(list(commands[-1]), True)]
    with ThreadPoolExecutor(4) as pool:  # at once: refusing must hold under concurrency too
        procs = list(
            pool.map(
                lambda run: run_np(
                    [*run[0], *(["--json"] if run[1] else [])],
                    cwd=workdir,
                    env=env,
                    wrapper=wrapper,
                ),
                runs,
            )
        )
    for (args, as_json), proc in zip(runs, procs, strict=True):
        assert proc.returncode == 3, (args, proc.returncode, proc.stdout, proc.stderr)
        if as_json:
            error = json_error(proc.stdout)
            assert error["kind"] == "storage_error" and error["code"] == 1009
            assert any(w in error["message"].lower() for w in words), error
            assert proc.stderr == ""
        else:
            assert proc.stdout == ""
            assert one_clear_sentence(proc.stderr), proc.stderr
            assert any(w in proc.stderr.lower() for w in words), proc.stderr
            assert str(Path(__file__).parent.parent) not in proc.stderr  # no source paths
    assert listing(folder) == before_files
    if before_hash is not None:
        assert sha256(db) == before_hash


def test_a_non_sqlite_file_is_refused_untouched(tmp_path, workdir):
    db = tmp_path / "data" / "np.db"
    db.parent.mkdir()
    db.write_bytes(b"# my notes\nThis is a text file that happens to sit where np.db would.\n" * 50)
    _assert_refused(db, workdir, ("not an np database", "damaged"))


@pytest.mark.parametrize("keep", [0.5, 100 / 61440], ids=["half", "first-100-bytes"])
def test_a_truncated_database_is_refused_untouched(tmp_path, workdir, keep):
    db = tmp_path / "data" / "np.db"
    _make_np_db(db, workdir)
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        fh.truncate(max(int(size * keep), 100))
    _assert_refused(db, workdir, ("damaged", "not an np database"))


def test_a_database_from_a_newer_np_is_refused_untouched(tmp_path, workdir):
    db = tmp_path / "data" / "np.db"
    _make_np_db(db, workdir)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    _assert_refused(db, workdir, ("newer np",))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    conn.close()


@pytest.fixture
def read_only_folder(tmp_path: Path):
    folder = tmp_path / "ro"
    folder.mkdir()
    yield folder
    folder.chmod(0o700)


def _wrapper_or_skip(folder: Path) -> list[str]:
    mode = stat.S_IMODE(folder.stat().st_mode)
    folder.chmod(0o555)
    try:
        wrapper = permission_wrapper(folder)
    finally:
        folder.chmod(mode)
    if wrapper is None:
        pytest.skip(
            "cannot make a read-only folder bind here (running as root and dropping "
            "CAP_DAC_OVERRIDE from a child process is not permitted)"
        )
    return wrapper


def test_an_existing_database_in_a_read_only_folder_is_refused_untouched(read_only_folder, workdir):
    wrapper = _wrapper_or_skip(read_only_folder)
    db = read_only_folder / "np.db"
    _make_np_db(db, workdir)
    read_only_folder.chmod(0o555)
    _assert_refused(db, workdir, ("read-only", "cannot be written"), wrapper=wrapper)


def test_no_database_can_be_created_in_a_read_only_folder(read_only_folder, workdir):
    wrapper = _wrapper_or_skip(read_only_folder)
    read_only_folder.chmod(0o555)
    for db in (read_only_folder / "np.db", read_only_folder / "sub" / "np.db"):
        # np s tries to create it and cannot; a read, or a write that needs a session,
        # never tries (no database there)
        _assert_refused(db, workdir, ("cannot create",), wrapper=wrapper, commands=[["s"]])
        env = {**os.environ, "NP_DB": str(db)}
        env.pop("NP_DEBUG", None)
        for args in (["p"], COMMANDS[2]):
            told = run_np(args, cwd=workdir, env=env, wrapper=wrapper)
            assert told.returncode == 1 and "no np database" in told.stderr, told
        assert not db.exists()
