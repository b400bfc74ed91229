"""No np output is ever written onto a database (issue 20, kinds 1 and 5).

Kind 1: ``np export -o``, ``np backup``, ``np db copy`` and the servers' ``--log-file`` never
write onto the database np uses, its ``-wal``/``-shm``/``-journal`` (also one that does not
exist between two commits), another SQLite file, or a symbolic or hard link to any of them;
nor does ``--db`` create a database where another one keeps its log.

Kind 5: another program's SQLite file is never np's: every command, reads included, is
refused and leaves the file byte for byte as it was; ``np doctor`` says it is not np's;
``np db copy`` from a missing source creates nothing, from another program's file alters
nothing.

Real processes and files; the database is held open by a second connection where a test
needs its ``-wal`` to exist (as it does while ``np serve`` or ``np m`` runs).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from reliability_support import integrity, sha256

SIDECARS = ("-wal", "-shm", "-journal")


@pytest.fixture
def plan(run_np, db_path: Path) -> Path:
    assert run_np("s").code == 0
    assert run_np("g", "s", "-t", "Keep me", "-d", "d").code == 0
    assert run_np("t", "a", "-t", "one", "-t", "two").code == 0
    return db_path


def _titles(db: Path) -> list[str]:
    conn = sqlite3.connect(str(db))
    try:
        return [r[0] for r in conn.execute("SELECT title FROM tasks ORDER BY created_seq")]
    finally:
        conn.close()


def _targets(db: Path) -> dict[str, Path]:
    """Every name under which a write would land on the database or its sidecars."""
    folder = db.parent
    out = {"db": db, **{s: Path(f"{db}{s}") for s in SIDECARS}}
    (folder / "to-wal").symlink_to(db.name + "-wal")  # dangling between two commits
    (folder / "to-db").symlink_to(db.name)
    os.link(db, folder / "hard-db")
    out |= {"link-wal": folder / "to-wal", "link-db": folder / "to-db"}
    out["hard-db"] = folder / "hard-db"
    return out


def _held_open(db: Path) -> sqlite3.Connection:
    """A second connection that wrote and stays open: the -wal and -shm exist, as while a
    server runs."""
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("UPDATE sessions SET last_updated_at = last_updated_at")
    assert Path(f"{db}-wal").exists()
    return conn


@pytest.mark.parametrize("hold", [False, True], ids=["closed", "served"])
def test_export_never_overwrites_a_database(run_np, plan: Path, hold: bool) -> None:
    held = _held_open(plan) if hold else None
    try:
        for name, target in _targets(plan).items():
            existed = target.exists()
            before = sha256(target) if existed else None
            r = run_np("export", "-o", str(target), "--force")
            assert r.code == 2, (name, r)
            assert "never writes the export onto a database" in r.err, (name, r.err)
            assert "--force" not in r.err  # no advice that leads back to the damage
            assert target.exists() == existed, name
            if before is not None and name not in ("-wal", "-shm", "link-wal"):
                assert sha256(target) == before, name
    finally:
        if held is not None:
            held.close()
    assert _titles(plan) == ["one", "two"]
    assert integrity(plan) == ["ok"]
    doctor = run_np("doctor")
    assert doctor.code == 0, doctor


def test_backup_and_copy_never_land_on_the_database_or_its_sidecars(
    run_np, plan: Path, tmp_path: Path
) -> None:
    for name, target in _targets(plan).items():
        existed = target.exists()
        r = run_np("backup", str(target))
        assert r.code == 2, (name, r)
        assert target.exists() == existed, name
        c = run_np("db", "copy", str(plan), str(target))
        assert c.code in (2, 3), (name, c)
        assert target.exists() == existed, name
    # the next commands find everything, and no backup was silently deleted
    assert run_np("t", "a", "-t", "three").code == 0
    assert _titles(plan) == ["one", "two", "three"]
    fine = run_np("backup", str(tmp_path / "good.db"))
    assert fine.code == 0, fine


def test_exports_and_backups_never_land_on_another_programs_database(
    run_np, plan: Path, tmp_path: Path
) -> None:
    other = tmp_path / "contacts.sqlite"
    conn = sqlite3.connect(str(other))
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.execute("INSERT INTO people VALUES ('ana')")
    conn.commit()
    conn.close()
    before = sha256(other)
    for args in (
        ("export", "-o", str(other), "--force"),
        ("export", "--format", "json", "-o", str(other), "--force"),
        ("backup", str(other)),
        ("backup", f"{other}-journal"),
    ):
        r = run_np(*args)
        assert r.code == 2, (args, r)
    assert sha256(other) == before
    assert not Path(f"{other}-journal").exists()


@pytest.mark.parametrize("program", ["serve", "mcp"])
def test_server_log_never_lands_on_the_database(run_np, plan: Path, program: str) -> None:
    if program == "mcp":
        pytest.importorskip("mcp")
    held = _held_open(plan)
    try:
        before = Path(f"{plan}-wal").stat().st_size
        for suffix in ("-wal", "-shm"):
            r = run_np(program, "--log-file", f"{plan}{suffix}")
            assert r.code == 2, (suffix, r)
            assert "never writes its log onto a database" in r.err
        assert Path(f"{plan}-wal").stat().st_size == before
    finally:
        held.close()
    r = run_np("serve", "--log-file", str(plan))
    assert r.code == 2, r
    assert _titles(plan) == ["one", "two"]


def test_no_database_is_created_where_another_keeps_its_log(run_np, plan: Path) -> None:
    wal = Path(f"{plan}-wal")
    assert not wal.exists()  # every np process ended: the log was checkpointed away
    r = run_np("--db", str(wal), "s")
    assert r.code == 3, r
    assert not wal.exists()
    assert _titles(plan) == ["one", "two"]


# -- kind 5: another program's SQLite file ---------------------------------------------------


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    path = tmp_path / "app.sqlite"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE sessions_of_app (id INTEGER PRIMARY KEY, who TEXT)")
    conn.execute("INSERT INTO sessions_of_app (who) VALUES ('ana')")
    conn.execute("PRAGMA user_version = 2")  # another program's own schema counter
    conn.commit()
    conn.close()
    return path


COMMANDS = [
    ("p",),
    ("t",),
    ("g",),
    ("log",),
    ("ls",),
    ("export",),
    ("r",),
    ("s",),
    ("t", "a", "-t", "x"),
    ("a",),
]


def test_another_programs_database_is_never_touched(run_np, foreign: Path) -> None:
    before = sha256(foreign)
    env = {"NP_DB": str(foreign)}
    for args in COMMANDS:
        r = run_np(*args, env=env)
        assert r.code == 3, (args, r)
        assert "belongs to another program" in r.err, (args, r.err)
        assert sha256(foreign) == before, args
        assert not Path(f"{foreign}-wal").exists(), args
    doctor = run_np("doctor", "--json", env=env)
    assert doctor.code == 1, doctor
    schema = next(c for c in doctor.json()["checks"] if c["name"] == "schema")
    assert schema["status"] == "fail" and schema["data"]["foreign"] is True
    assert "another program" in schema["message"]
    assert sha256(foreign) == before


def test_db_copy_never_creates_its_source_nor_alters_a_foreign_one(
    run_np, foreign: Path, tmp_path: Path
) -> None:
    missing, dest = tmp_path / "mistyped.db", tmp_path / "copy.db"
    r = run_np("db", "copy", str(missing), str(dest))
    assert r.code == 2, r
    assert "no database" in r.err.lower()
    assert not missing.exists() and not dest.exists()
    before = sha256(foreign)
    r = run_np("db", "copy", str(foreign), str(dest))
    assert r.code == 3, r
    assert sha256(foreign) == before
    assert not dest.exists()
    # into another program's file: refused, untouched
    source = tmp_path / "np-source.db"
    assert run_np("--db", str(source), "s").code == 0
    r = run_np("db", "copy", str(source), str(foreign))
    assert r.code == 3, r
    assert sha256(foreign) == before


def test_an_empty_file_is_still_a_new_np_database(run_np, tmp_path: Path) -> None:
    """The regression side: an empty file (``touch np.db``) is np's to create in."""
    empty = tmp_path / "empty.db"
    empty.touch()
    r = run_np("s", env={"NP_DB": str(empty)})
    assert r.code == 0, r
