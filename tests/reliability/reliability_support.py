"""Helpers shared by the reliability tests: invariant checks, file fingerprints, processes."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support import np_command

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STORM_WRITER = HERE / "storm_writer.py"
BATCH = 5  # tasks per add in storm_writer: a visible batch of any other size is half-written


def np_cmd() -> list[str]:
    return np_command()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def is_pg(db: Path | str) -> bool:
    return str(db).startswith("postgresql://")


def connect_ro(db: Path | str) -> Any:
    """A plain connection for checking a database from the test process: ``sqlite3``, or
    np's PostgreSQL connection (same ``?`` SQL, JSON read as text)."""
    if is_pg(db):
        from store.postgres.conn import connect

        return connect(str(db))
    return sqlite3.connect(str(db), isolation_level=None, timeout=10)


def integrity(db: Path | str) -> list[str]:
    """``PRAGMA integrity_check`` (PostgreSQL keeps its own pages whole: its answer is
    whether it answers)."""
    conn = connect_ro(db)
    try:
        if is_pg(db):
            return ["ok"] if conn.execute("SELECT 1").fetchone() == (1,) else ["no answer"]
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def invariant_problems(db: Path | str) -> list[str]:
    """Everything a half-written command could leave visible, checked from the outside.

    On top of ``store.ops.consistency_problems`` (seq gapless, tasks ↔ task_added,
    ``last_updated_at`` ≥ newest event, foreign keys): the storm writer's adds come in
    batches of five, so each batch is complete or absent; each task's status is the one
    its newest status event says; each task's title is the one its newest edit says.
    """
    conn = connect_ro(db)
    try:
        if is_pg(db):
            from store.postgres.ops import consistency_problems as pg_problems

            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            problems = pg_problems(conn)
        else:
            from store.sqlite.probes import consistency_problems

            conn.execute("BEGIN")  # one snapshot for every query below
            problems = consistency_problems(conn)
        batches = Counter(
            title.rsplit("-k", 1)[0]
            for (title,) in conn.execute("SELECT title FROM tasks")
            if title.startswith("w") and "-b" in title and "-k" in title
        )
        # An edit keeps the batch prefix in the title, so edited tasks count too.
        broken = {b: n for b, n in batches.items() if n != BATCH}
        if broken:
            problems.append(f"half-visible add batches: {sorted(broken.items())[:5]}")
        expected_status: dict[tuple[str, str], str] = {}
        expected_title: dict[tuple[str, str], str] = {}
        for sid, etype, payload in conn.execute(
            "SELECT sid, type, payload FROM events WHERE type IN "
            "('task_added', 'task_status_changed', 'task_updated') ORDER BY sid, seq"
        ):
            p = json.loads(payload)
            if etype == "task_added":
                key = (sid, p["task"]["id"])
                expected_status[key] = p["task"]["status"]
                expected_title[key] = p["task"]["title"]
            elif etype == "task_status_changed":
                expected_status[(sid, p["task_id"])] = p["status_after"]
            else:
                expected_title[(sid, p["task_id"])] = p["after"]["title"]
        for sid, task_id, title, status in conn.execute("SELECT sid, id, title, status FROM tasks"):
            key = (sid, task_id)
            if expected_status.get(key) != status:
                problems.append(
                    f"task {task_id} is {status} but its log says {expected_status.get(key)}"
                )
            if expected_title.get(key) != title:
                problems.append(f"task {task_id} title differs from its log")
        conn.execute("COMMIT")
    finally:
        conn.close()
    return problems


def seqs(db: Path | str, sid: str) -> list[int]:
    conn = connect_ro(db)
    try:
        return [
            r[0] for r in conn.execute("SELECT seq FROM events WHERE sid = ? ORDER BY seq", (sid,))
        ]
    finally:
        conn.close()


def start_storm_writer(
    db: Path | str,
    directory: Path,
    seed: int,
    iterations: int = 100_000,
    delay: float = 0.0,
    stop_file: Path | None = None,
) -> subprocess.Popen[str]:
    """A process that writes to ``directory``'s session through the command table until it
    has done ``iterations`` operations, ``stop_file`` exists, or it is killed. It prints
    ``ready`` once writing."""
    argv = [str(db), str(directory), str(seed), str(iterations), str(delay)]
    if stop_file is not None:
        argv.append(str(stop_file))
    return subprocess.Popen(
        [sys.executable, str(STORM_WRITER), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=str(ROOT),
    )


def wait_ready(proc: subprocess.Popen[str], timeout: float = 20) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        _, err = proc.communicate(timeout=timeout)
        raise AssertionError(f"storm writer did not start: {line!r} {err[-2000:]}")


# -- dropping root's power over permissions ---------------------------------------------------

# Run as ``python -c DROP_DAC argv...``: drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from
# the bounding set (prctl PR_CAPBSET_DROP), then execs argv. After exec, even root obeys
# permission bits. No preexec_fn, so it is safe to start from threads.
DROP_DAC = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "for cap in (1, 2):\n"
    "    if libc.prctl(24, cap, 0, 0, 0) != 0:\n"
    "        sys.exit(f'prctl failed: {os.strerror(ctypes.get_errno())}')\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def permission_wrapper(probe_dir: Path) -> list[str] | None:
    """A command prefix under which file permissions bind the child process, or None.

    As an ordinary user none is needed (``[]``). As root (CI containers), the prefix drops
    root's permission-bypassing capabilities before exec. The technique is verified
    against ``probe_dir``, which must be read-only at the time: None if it fails here.
    """
    wrapper = [sys.executable, "-c", DROP_DAC] if os.geteuid() == 0 else []
    probe = probe_dir / "probe"
    try:
        result = subprocess.run(
            [*wrapper, sys.executable, "-c", f"open({str(probe)!r}, 'w')"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode == 0:  # the read-only folder was writable after all
        probe.unlink(missing_ok=True)
        return None
    if b"PermissionError" not in result.stderr:
        return None
    return wrapper


def run_np(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float = 60,
    wrapper: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    command = np_cmd()
    if wrapper and len(command) == 1:
        command = [sys.executable, command[0]]  # execv needs an interpreter for the script
    return subprocess.run(
        [*wrapper, *command, *args],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_clear_sentence(stderr: str) -> bool:
    """One line, prefixed ``np:``, no traceback, ending like a sentence."""
    text = stderr.strip()
    return (
        bool(text)
        and "\n" not in text
        and text.startswith("np: ")
        and "Traceback" not in text
        and text.endswith((".", ".)"))
    )


def json_error(stdout: str) -> dict[str, Any]:
    doc = json.loads(stdout)
    assert set(doc) == {"error"}, doc
    err: dict[str, Any] = doc["error"]
    return err
