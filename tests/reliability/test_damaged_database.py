"""A damaged database file (F3: a backup restored with ``cp`` under a running np, pages
overwritten) is reported as damage — storage_error 1009, exit 3, one sentence saying the
file is damaged and how to restore — never as an internal error, and a write committed
into it is never reported as "saved"."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import json_error, one_clear_sentence, run_np

LONG = "x" * 3000  # descriptions that spread the tasks over many pages


def _env(db: Path) -> dict[str, str]:
    env = {**os.environ, "NP_DB": str(db)}
    env.pop("NP_DEBUG", None)
    return env


def _planned(tmp_path: Path, batches: int = 3) -> tuple[Path, Path]:
    """A real database with one session and ``batches`` × 10 long tasks; its log folded in."""
    db, project = tmp_path / "np.db", tmp_path / "proj"
    project.mkdir()
    assert run_np(["s"], cwd=project, env=_env(db)).returncode == 0
    for b in range(batches):
        args = [a for j in range(10) for a in ("-t", f"t{b}-{j}", "-d", LONG)]
        assert run_np(["t", "a", *args], cwd=project, env=_env(db)).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db, project


def _overwrite_first_task_page(db: Path) -> None:
    """Overwrite the first leaf page of the tasks table (old tasks) with garbage: a new
    task still goes in (it lands on the last page), but reading the plan fails."""
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pageno = conn.execute(
        "SELECT min(pageno) FROM dbstat WHERE name = 'tasks' AND pagetype = 'leaf'"
    ).fetchone()[0]
    conn.close()
    with open(db, "r+b") as f:
        f.seek((pageno - 1) * page_size)
        f.write(os.urandom(page_size))


def _says_damaged(stderr: str) -> None:
    assert one_clear_sentence(stderr), stderr
    assert "damaged" in stderr and "backup" in stderr, stderr
    assert "internal error" not in stderr and "report it" not in stderr, stderr
    assert "saved" not in stderr, stderr


@pytest.mark.parametrize("verb", [["t"], ["p"], ["export"], ["r"]])
def test_reads_of_a_damaged_file_say_it_is_damaged(tmp_path: Path, verb: list[str]) -> None:
    db, project = _planned(tmp_path)
    _overwrite_first_task_page(db)
    proc = run_np(verb, cwd=project, env=_env(db))
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    _says_damaged(proc.stderr)
    err = json_error(run_np([*verb, "--json"], cwd=project, env=_env(db)).stdout)
    assert err["code"] == 1009 and err["kind"] == "storage_error", err
    assert err["data"]["cause"] == "corrupt", err


def test_a_write_committed_into_a_damaged_file_is_not_reported_saved(tmp_path: Path) -> None:
    db, project = _planned(tmp_path)
    _overwrite_first_task_page(db)
    proc = run_np(["t", "a", "-t", "after-damage"], cwd=project, env=_env(db))
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert one_clear_sentence(proc.stderr), proc.stderr
    assert "damaged" in proc.stderr and "np doctor" in proc.stderr, proc.stderr
    assert "committed" in proc.stderr, proc.stderr  # told truthfully: it went in
    assert "saved" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    err = json_error(run_np(["t", "a", "-t", "again", "--json"], cwd=project, env=_env(db)).stdout)
    assert err["code"] == 1009 and err["data"]["committed"] is True, err


def test_writes_that_meet_the_damage_say_nothing_was_written(tmp_path: Path) -> None:
    db, project = _planned(tmp_path)
    conn = sqlite3.connect(db)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with open(db, "r+b") as f:  # most of the file's middle: every write meets it
        for page in range(pages // 3, pages - 1):
            f.seek(page * 4096)
            f.write(os.urandom(4096))
    for verb in (["t", "a", "-t", "x"], ["t", "u", "-i", "1", "-s", "done"], ["t"], ["log"]):
        proc = run_np(verb, cwd=project, env=_env(db))
        assert proc.returncode == 3, (verb, proc.returncode, proc.stderr)
        _says_damaged(proc.stderr)


# A process that holds the database open the whole time, as np serve or np m does.
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("SELECT count(*) FROM tasks").fetchone()
print("ready", flush=True)
sys.stdin.readline()
"""


def test_a_backup_copied_over_the_file_under_a_running_reader(tmp_path: Path) -> None:
    """F3 as a user meets it: np backup, more work (the log grows past a checkpoint), then
    ``cp backup np.db`` while another process keeps the file open: SQLite reads the old log
    onto the restored pages. Whatever np then reads or writes says damaged, or works."""
    db, project = _planned(tmp_path, batches=1)
    backup = tmp_path / "bk.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert run_np(["backup", str(backup)], cwd=project, env=_env(db)).returncode == 0
        for b in range(12):
            args = [a for j in range(40) for a in ("-t", f"late{b}-{j}", "-d", LONG)]
            assert run_np(["t", "a", *args], cwd=project, env=_env(db)).returncode == 0
        subprocess.run(["cp", str(backup), str(db)], check=True)
        outcomes = []
        for verb in (["t"], ["p"], ["log"], ["t", "a", "-t", "after-restore"]):
            proc = run_np(verb, cwd=project, env=_env(db))
            outcomes.append(proc.returncode)
            assert "internal error" not in proc.stderr, (verb, proc.stderr)
            assert "saved" not in proc.stderr, (verb, proc.stderr)
            assert proc.returncode in (0, 3), (verb, proc.returncode, proc.stderr)
            if proc.returncode == 3:
                assert "damaged" in proc.stderr, proc.stderr
        assert 3 in outcomes, outcomes  # the cp did damage it (else this tests nothing)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
