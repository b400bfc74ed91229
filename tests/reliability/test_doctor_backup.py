"""``np doctor`` and ``np backup PATH``.

Doctor: exit 0 when healthy, 1 naming the problem otherwise (text and ``--json``), and it
never changes the file it examines. Backup: a consistent copy through SQLite's online
backup API while other processes keep writing; the copy passes ``integrity_check`` and
np's own invariants; an existing file is never overwritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from reliability_support import (
    integrity,
    invariant_problems,
    listing,
    sha256,
    start_storm_writer,
    wait_ready,
)

from store.ops import OK, WARN, backup, diagnose
from store.sqlite.probes import probe_write_lock

CHECKS = ["database", "schema", "integrity", "consistency", "sessions", "wal", "permissions"]


def seed_plan(db: Path, workdir: Path) -> None:
    """A small plan written in-process through the command table (fast, same code path)."""
    from server.commands import Context, execute
    from store import Store

    with Store(str(db)) as store:
        ctx = Context(store, str(workdir), "test")
        execute("np.session.start", ctx, {})
        execute("np.goal.set", ctx, {"title": "Ship it", "description": "Issue 7"})
        added = execute("np.task.add", ctx, {"tasks": [{"title": t} for t in ("a", "b", "c")]})
        update = {"id": added["added"][0], "status": "failed", "reason": "flaky"}
        execute("np.task.update", ctx, {"updates": [update]})


@pytest.fixture
def plan_db(db_path: Path, workdir: Path) -> Path:
    seed_plan(db_path, workdir)
    return db_path


def _statuses(doc: dict[str, object]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in doc["checks"]}  # type: ignore[attr-defined, index]


# -- doctor -----------------------------------------------------------------------------------


def test_doctor_healthy_text_and_json(run_np, plan_db):
    before = sha256(plan_db)
    text = run_np("doctor")
    assert text.code == 0, text
    assert text.out.strip().endswith("Healthy.")
    for name in [*CHECKS, "write_lock"]:
        assert name in text.out
    doc = run_np("doctor", "--json")
    assert doc.code == 0
    report = doc.json()
    assert report["healthy"] is True and report["problems"] == []
    statuses = _statuses(report)
    assert all(statuses[name] == OK for name in [*CHECKS, "write_lock"]), statuses
    consistency = next(c for c in report["checks"] if c["name"] == "consistency")
    assert consistency["data"]["tasks"] == 3 and consistency["data"]["events"] == 6
    sessions = next(c for c in report["checks"] if c["name"] == "sessions")
    assert len(sessions["data"]["active"]) == 1
    assert sha256(plan_db) == before  # the doctor only reads


def test_doctor_without_a_database_does_not_create_one(run_np, db_path):
    result = run_np("doctor", "--json")
    assert result.code == 0
    assert result.json()["checks"][0]["data"]["exists"] is False
    assert not db_path.exists() and not db_path.parent.exists()


def _corrupt_index(db: Path) -> None:
    """Empty the root page of the events (sid, seq) index: the table and the index then
    disagree, which only ``integrity_check`` notices; the file still opens."""
    conn = sqlite3.connect(db)
    root, page = conn.execute(
        "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master "
        "WHERE name = 'sqlite_autoindex_events_1'"
    ).fetchone()
    conn.close()
    with open(db, "r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(bytes([0x0A, 0, 0, 0, 0]) + page.to_bytes(2, "big") + b"\0")


def test_doctor_names_damage_found_by_integrity_check(run_np, plan_db):
    _corrupt_index(plan_db)
    before = sha256(plan_db)
    result = run_np("doctor")
    assert result.code == 1
    assert "FAIL  integrity" in result.out and "missing from index" in result.out
    assert "Unhealthy" in result.out and "integrity" in result.out.splitlines()[-1]
    report = run_np("doctor", "--json")
    assert report.code == 1
    assert "integrity" in report.json()["problems"]
    assert sha256(plan_db) == before


def test_doctor_names_half_written_state(run_np, plan_db):
    conn = sqlite3.connect(plan_db, isolation_level=None)
    conn.execute(
        "INSERT INTO tasks (sid, id, title, description, status, created_at, updated_at, "
        "created_seq) SELECT sid, 'ghost', 'no event', '', 'pending', created_at, "
        "created_at, 999 FROM sessions"
    )
    conn.execute("UPDATE sessions SET last_updated_at = '2000-01-01T00:00:00.000000Z'")
    conn.close()
    result = run_np("doctor", "--json")
    assert result.code == 1
    report = result.json()
    assert report["problems"] == ["consistency"]
    problems = next(c for c in report["checks"] if c["name"] == "consistency")["data"]["problems"]
    assert any("without a task_added event" in p and "ghost" in p for p in problems)
    assert any("last_updated_at is older" in p for p in problems)


def test_doctor_names_newer_schema_and_non_database(run_np, plan_db):
    conn = sqlite3.connect(plan_db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    newer = run_np("doctor", "--json")
    assert newer.code == 1 and newer.json()["problems"] == ["schema"]
    assert "newer np" in run_np("doctor").out

    plan_db.write_bytes(b"not a database at all\n" * 100)
    before = sha256(plan_db)
    junk = run_np("doctor")
    assert junk.code == 1
    assert "FAIL  database" in junk.out and "not a readable SQLite database" in junk.out
    assert sha256(plan_db) == before


def test_doctor_warns_about_loose_permissions_but_stays_healthy(run_np, plan_db):
    plan_db.chmod(0o644)
    result = run_np("doctor", "--json")
    assert result.code == 0
    report = result.json()
    assert report["warnings"] == ["permissions"]
    assert _statuses(report)["permissions"] == WARN


def test_doctor_names_a_write_lock_held_past_the_timeout(plan_db):
    holder = sqlite3.connect(plan_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        report = diagnose(str(plan_db), lock_timeout=0.2)
        assert not report.healthy
        assert [c.name for c in report.problems] == ["write_lock"]
        assert "held the write lock" in report.problems[0].message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert probe_write_lock(str(plan_db), timeout=0.2) < 0.2
    assert diagnose(str(plan_db)).healthy


def test_doctor_waits_for_a_short_lock_within_the_timeout(plan_db):
    holder = sqlite3.connect(plan_db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.6, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        waited = probe_write_lock(str(plan_db), timeout=5)
    finally:
        release.join()
        holder.close()
    assert 0.1 < waited < 5  # it waited for the holder, then got the lock


# -- backup -----------------------------------------------------------------------------------


def test_backup_makes_a_verified_private_copy(run_np, plan_db, tmp_path):
    dest = tmp_path / "backups" / "np-copy.db"
    dest.parent.mkdir()
    result = run_np("backup", str(dest), "--json")
    assert result.code == 0, result
    info = result.json()["backup"]
    assert info["path"] == str(dest) and info["integrity"] == "ok"
    assert info["counts"]["tasks"] == 3
    assert integrity(dest) == ["ok"]
    assert (dest.stat().st_mode & 0o777) == 0o600
    assert listing(dest.parent) == ["np-copy.db"]  # no temporary files left behind
    original = run_np("p", "--json").json()
    restored = run_np("--db", str(dest), "p", "--json").json()
    assert restored == original
    text = run_np("backup", str(tmp_path / "backups" / "second.db"))
    assert text.code == 0 and "integrity check: ok" in text.out


def test_backup_never_overwrites(run_np, plan_db, tmp_path):
    dest = tmp_path / "precious.db"
    dest.write_bytes(b"do not touch")
    result = run_np("backup", str(dest))
    assert result.code == 2
    assert "never overwrites" in result.err
    assert dest.read_bytes() == b"do not touch"
    as_json = run_np("backup", str(dest), "--json")
    assert as_json.code == 2 and as_json.json()["error"]["kind"] == "invalid_argument"


def test_backup_into_a_folder_gets_a_time_stamped_name(run_np, plan_db, tmp_path):
    folder = tmp_path / "nightly"
    folder.mkdir()
    names = set()
    for _ in range(2):
        result = run_np("backup", str(folder), "--json")
        assert result.code == 0, result
        names.add(Path(result.json()["backup"]["path"]).name)
    assert sorted(names) == listing(folder)
    assert all(n.startswith("np-backup-") and n.endswith(".db") for n in names)


def test_backup_refusals(run_np, plan_db, tmp_path):
    missing_folder = run_np("backup", str(tmp_path / "nowhere" / "x.db"))
    assert missing_folder.code == 2 and "does not exist" in missing_folder.err
    usage = run_np("backup")
    assert usage.code == 2
    plan_db.write_bytes(b"garbage" * 1000)
    out = tmp_path / "out"
    out.mkdir()
    broken = run_np("backup", str(out / "copy.db"))
    assert broken.code == 3, broken
    assert broken.err.startswith("np: ") and "Traceback" not in broken.err
    assert listing(out) == []  # nothing half-made left behind


def test_backup_is_consistent_while_other_processes_write(
    np_env, run_np, workdir, db_path, tmp_path
):
    assert run_np("s").code == 0
    stop = tmp_path / "stop"
    writers = [start_storm_writer(db_path, workdir, seed=100 + k, stop_file=stop) for k in range(2)]
    for w in writers:
        wait_ready(w)
    copies: list[Path] = []
    try:
        for n in range(6):
            time.sleep(0.1)
            dest = tmp_path / f"copy{n}.db"
            if n % 2:
                result = run_np("backup", str(dest))
                assert result.code == 0, result
            else:
                backup(str(db_path), str(dest))
            copies.append(dest)
        report = diagnose(str(db_path))  # the doctor, too, reads one consistent snapshot
        assert report.healthy, report.to_dict()
    finally:
        stop.touch()
        for w in writers:
            _, err = w.communicate(timeout=60)
            assert w.returncode == 0, err[-2000:]
    sizes = set()
    for copy in copies:
        assert integrity(copy) == ["ok"], copy
        assert invariant_problems(copy) == [], copy
        conn = sqlite3.connect(copy)
        sizes.add(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        conn.close()
    assert len(sizes) > 1, "the writers did not write during the backups"
    assert diagnose(str(db_path)).healthy


def test_backup_json_error_shape(run_np, tmp_path, db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"x" * 5000)
    result = run_np("backup", str(tmp_path / "c.db"), "--json")
    assert result.code == 3
    error = json.loads(result.out)["error"]
    assert error["kind"] == "storage_error" and error["code"] == 1009
    assert str(os.sep + "server" + os.sep) not in error["message"]
