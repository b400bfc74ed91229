"""Several writer processes on one session at once: aggregate committed writes per second
and p99 write latency, against raw ``sqlite3`` doing the same rows on the same file.

Each np writer is a process that runs ``np.task.update`` through the command table (what
the CLI and the server run: validation, one ``BEGIN IMMEDIATE`` unit of work with the
status update, the touch and the event, then the plan it returns) on its own tasks of
one shared session, as fast as it can, for a fixed time. The raw writers run the same
writes as bare SQL (``BEGIN IMMEDIATE``; update the task; touch the session; insert the
event with the next seq; ``COMMIT``) with the same pragmas: the floor for that file.

    python bench/concurrent_writers.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PROFILES, PYTHON, ROOT, Profile, Row, percentile, seed_session, workspace

TASKS_PER_WRITER = 4


def _worker(kind: str, db: str, project: str, seconds: float, ids: list[str]) -> None:
    """Runs in a child: wait for ``go`` on stdin, write for ``seconds``, print latencies."""
    statuses = ["in_progress", "completed"]
    latencies: list[float] = []
    if kind == "np":
        from server.commands import Context, execute
        from store import Store

        store = Store(db)
        ctx = Context(store, project, "bench writer")

        def write(i: int) -> None:
            task = ids[i % len(ids)]
            execute(
                "np.task.update",
                ctx,
                {"updates": [{"id": task, "status": statuses[(i // len(ids)) % 2]}]},
            )

    else:
        conn = sqlite3.connect(db, isolation_level=None, timeout=5.0)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        (sid,) = conn.execute("SELECT sid FROM sessions WHERE state = 'active'").fetchone()

        def write(i: int) -> None:
            task = ids[i % len(ids)]
            status = statuses[(i // len(ids)) % 2]
            at = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE sessions SET last_updated_at = ? WHERE sid = ?", (at, sid))
            conn.execute(
                "UPDATE tasks SET status = ?, updated_at = ? WHERE sid = ? AND id = ?",
                (status, at, sid, task),
            )
            (seq,) = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM events WHERE sid = ?", (sid,)
            ).fetchone()
            conn.execute(
                "INSERT INTO events (sid, seq, at, type, reason, cmd, payload) "
                "VALUES (?, ?, ?, 'task_status_changed', NULL, 'bench raw', ?)",
                (sid, seq, at, json.dumps({"task_id": task, "status_after": status})),
            )
            conn.execute("COMMIT")

    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        t0 = time.perf_counter()
        write(i)
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    print(json.dumps({"elapsed": time.perf_counter() - started, "latencies": latencies}))


def _run(
    kind: str, writers: int, seconds: float, db: Path, project: Path, ids: list[str]
) -> tuple[float, float, int]:
    """(aggregate committed writes/s, p99 ms, writes) for ``writers`` processes."""
    procs = []
    for w in range(writers):
        mine = ids[w * TASKS_PER_WRITER : (w + 1) * TASKS_PER_WRITER]
        procs.append(
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "bench.concurrent_writers",
                    "--worker",
                    kind,
                    str(db),
                    str(project),
                    str(seconds),
                    *mine,
                ],
                cwd=str(ROOT),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a writer failed to start")
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    latencies: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"a {kind} writer failed")
        latencies += json.loads(out.strip().splitlines()[-1])["latencies"]
    wall = time.perf_counter() - started
    return len(latencies) / wall, percentile(latencies, 99), len(latencies)


def measure(profile: Profile) -> list[Row]:
    with workspace("writers") as base:
        db, project = base / "np.db", base / "project"
        ids = seed_session(db, project, tasks=profile.writers * TASKS_PER_WRITER, events=0)
        raw_rate, raw_p99, raw_n = _run(
            "raw", profile.writers, profile.writer_seconds, db, project, ids
        )
        np_rate, np_p99, np_n = _run(
            "np", profile.writers, profile.writer_seconds, db, project, ids
        )
        conn = sqlite3.connect(db)
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
        conn.close()
        gapless = seqs == list(range(1, len(seqs) + 1))
    n = profile.writers
    return [
        Row(
            name=f"{n} concurrent writer processes: committed writes/s",
            value=np_rate,
            unit="/s",
            baseline_name="raw sqlite3, same writes",
            baseline=raw_rate,
            ratio=np_rate / raw_rate,
            notes=[
                f"np {np_n} writes, raw {raw_n} writes in {profile.writer_seconds:g} s each; "
                f"seq gapless afterwards: {gapless}"
            ],
        ),
        Row(
            name=f"{n} concurrent writer processes: p99 write latency",
            value=np_p99,
            unit="ms",
            baseline_name="raw sqlite3 p99",
            baseline=raw_p99,
            ratio=np_p99 / raw_p99 if raw_p99 else None,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--worker"]:
        kind, db, project, seconds, *ids = args[1:]
        _worker(kind, db, project, float(seconds), ids)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args(args)
    for row in measure(PROFILES["quick" if opts.quick else "full"]):
        print(f"{row.name}: {row.figure()} vs {row.baseline_figure()} ({row.ratio_text()})")
        for note in row.notes:
            print(f"    {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
