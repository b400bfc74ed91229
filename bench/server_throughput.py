"""``np serve``: write round trips per second, change-notification latency, idle CPU.

* Throughput: sequential ``np.task.update`` requests (a status update, a touch and an
  event per request, and the plan in the answer) through ``np serve``, against the bare
  pygls floor of ``bench/bare_server.py`` (one tiny ``BEGIN IMMEDIATE`` insert per
  request) in the same run, in alternating blocks. Target ratio ≥ 0.8 (issue 3).
* ``np/didChange`` latency: another connection commits a status change through the store
  (the code path the CLI runs; its commit instant can be timed only from inside the
  committing process) and the time until the notification reaches the client is taken on
  one monotonic clock. Baseline: a bare ``PRAGMA data_version`` poller with the server's
  100 ms interval, watching the same commits. Target p95 ≤ 250 ms.
* Idle CPU of ``np serve`` over a quiet stretch, against the idle bare pygls server.

    python bench/server_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PROFILES,
    PYTHON,
    Profile,
    Row,
    median,
    np_command,
    np_env,
    percentile,
    seed_session,
    workspace,
)
from bench.lspclient import RawLspClient

BARE_SERVER = Path(__file__).resolve().parent / "bare_server.py"
THROUGHPUT_TARGET = 0.8
NOTIFY_TARGET_MS = 250.0
POLL_INTERVAL = 0.1


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _ok(response: dict[str, Any]) -> dict[str, Any]:
    if "result" not in response:
        raise RuntimeError(f"request failed: {response.get('error')}")
    result: dict[str, Any] = response["result"]
    return result


def _rate(client: RawLspClient, command: str, arg_for: Any, n: int) -> tuple[float, list[float]]:
    """Sequential round trips: (requests per second, per-request ms)."""
    latencies = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        _ok(client.execute(command, arg_for(i)))
        latencies.append((time.perf_counter() - t0) * 1000)
    return n / (time.perf_counter() - started), latencies


def _data_version_poller(db: Path, seen: dict[int, float], stop: threading.Event) -> None:
    """The floor for change detection: poll ``PRAGMA data_version`` every 100 ms and note
    when each new max(events.id) is first seen."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        while not stop.is_set():
            now_version = conn.execute("PRAGMA data_version").fetchone()[0]
            if now_version != version:
                version = now_version
                (top,) = conn.execute("SELECT max(id) FROM events").fetchone()
                seen.setdefault(int(top), time.perf_counter())
            stop.wait(POLL_INTERVAL)
    finally:
        conn.close()


def measure(profile: Profile) -> list[Row]:
    with workspace("server") as base:
        db, project = base / "np.db", base / "project"
        tasks = seed_session(db, project, tasks=10, events=10)
        env = np_env(db)
        npc = RawLspClient([*np_command(), "serve"], env=env, cwd=project)
        bare = RawLspClient([PYTHON, str(BARE_SERVER), str(base / "bare.db")], env=env, cwd=base)
        try:
            _ok(npc.initialize(project))
            _ok(bare.initialize(base))
            rows = _throughput(profile, npc, bare, tasks)
            rows.append(_notify_latency(profile, npc, db, project, tasks))
            rows.append(_idle_cpu(profile, npc, bare))
        finally:
            npc.close()
            bare.close()
    return rows


def _throughput(
    profile: Profile, npc: RawLspClient, bare: RawLspClient, tasks: list[str]
) -> list[Row]:
    task = tasks[0]
    statuses = ("completed", "in_progress")

    def update(i: int) -> dict[str, Any]:
        return {"updates": [{"id": task, "status": statuses[i % 2]}]}

    warm = max(5, profile.server_requests // 20)
    _rate(npc, "np.task.update", update, warm)
    _rate(bare, "bench.write", lambda i: {}, warm)
    blocks = 4
    per = max(1, profile.server_requests // blocks)
    np_lat: list[float] = []
    bare_lat: list[float] = []
    np_time = bare_time = 0.0
    for _ in range(blocks):  # alternate blocks so drift in machine load hits both alike
        rate, lat = _rate(npc, "np.task.update", update, per)
        np_time += per / rate
        np_lat += lat
        rate, lat = _rate(bare, "bench.write", lambda i: {}, per)
        bare_time += per / rate
        bare_lat += lat
    npc.drain_notifications()
    # Where the gap comes from: a read with no plan, a plan read, and the write above.
    _, list_lat = _rate(npc, "np.session.list", lambda i: {}, per)
    _, plan_lat = _rate(npc, "np.plan", lambda i: {}, per)
    np_rate = len(np_lat) / np_time
    bare_rate = len(bare_lat) / bare_time
    ratio = np_rate / bare_rate
    return [
        Row(
            name="Server write round trips, sequential `np.task.update`",
            value=np_rate,
            unit="/s",
            baseline_name="bare pygls + BEGIN IMMEDIATE insert",
            baseline=bare_rate,
            target=f"≥ {THROUGHPUT_TARGET:g}×",
            ratio=ratio,
            ok=ratio >= THROUGHPUT_TARGET,
            notes=[
                f"np p50 {median(np_lat):.2f} ms, p95 {percentile(np_lat, 95):.2f} ms; "
                f"bare p50 {median(bare_lat):.2f} ms, p95 {percentile(bare_lat, 95):.2f} ms; "
                f"n = {len(np_lat)} each",
                f"np p50 by command: np.session.list (no plan, no write) "
                f"{median(list_lat):.2f} ms, np.plan {median(plan_lat):.2f} ms, "
                f"np.task.update {median(np_lat):.2f} ms",
            ],
        )
    ]


def _notify_latency(
    profile: Profile, npc: RawLspClient, db: Path, project: Path, tasks: list[str]
) -> Row:
    from store import Status, StatusChange, Store

    seen: dict[int, float] = {}
    stop = threading.Event()
    poller = threading.Thread(target=_data_version_poller, args=(db, seen, stop), daemon=True)
    poller.start()
    npc.drain_notifications()
    rng = random.Random(7)
    np_ms: list[float] = []
    floor_ms: list[float] = []
    with Store(str(db)) as store:
        sid = store.find_active(str(project))
        assert sid is not None
        for i in range(profile.notify_samples):
            time.sleep(rng.uniform(0.05, 0.25))  # commits land at random points of the poll
            status = Status.COMPLETED if i % 2 == 0 else Status.PENDING
            with store.transaction("bench: np t u") as unit:
                unit.set_statuses(sid.sid, [StatusChange(tasks[1], status)])
                seq = unit.events[-1].seq
            committed = time.perf_counter()
            (top,) = store.conn.execute("SELECT max(id) FROM events").fetchone()
            deadline = committed + 5
            arrived = None
            while arrived is None and time.perf_counter() < deadline:
                try:
                    at, msg = npc.notifications.get(
                        timeout=max(0.0, deadline - time.perf_counter())
                    )
                except Exception:
                    break
                params = msg.get("params") or {}
                if msg.get("method") == "np/didChange" and params.get("seq") == seq:
                    arrived = at
            if arrived is None:
                raise RuntimeError(f"no np/didChange for seq {seq} within 5 s")
            np_ms.append((arrived - committed) * 1000)
            wait_floor = time.perf_counter() + 1
            while int(top) not in seen and time.perf_counter() < wait_floor:
                time.sleep(0.005)
            if int(top) in seen:
                floor_ms.append(max(0.0, seen[int(top)] - committed) * 1000)
    stop.set()
    poller.join()
    p95 = percentile(np_ms, 95)
    return Row(
        name="CLI commit → `np/didChange` p95 (p50 in notes)",
        value=p95,
        unit="ms",
        baseline_name="bare data_version poll (100 ms) p95",
        baseline=percentile(floor_ms, 95) if floor_ms else None,
        target=f"p95 ≤ {NOTIFY_TARGET_MS:g} ms",
        ratio=None,
        ok=p95 <= NOTIFY_TARGET_MS,
        notes=[
            f"np p50 {median(np_ms):.1f} ms, max {max(np_ms):.1f} ms; "
            + (f"floor p50 {median(floor_ms):.1f} ms; " if floor_ms else "")
            + f"n = {len(np_ms)}"
        ],
    )


def _idle_cpu(profile: Profile, npc: RawLspClient, bare: RawLspClient) -> Row:
    npc.drain_notifications()
    time.sleep(0.3)
    started = time.perf_counter()
    np_cpu0, bare_cpu0 = _cpu_seconds(npc.proc.pid), _cpu_seconds(bare.proc.pid)
    time.sleep(profile.idle_seconds)
    wall = time.perf_counter() - started
    np_pct = (_cpu_seconds(npc.proc.pid) - np_cpu0) / wall * 100
    bare_pct = (_cpu_seconds(bare.proc.pid) - bare_cpu0) / wall * 100
    return Row(
        name=f"Idle server CPU over {profile.idle_seconds:g} s",
        value=np_pct,
        unit="%",
        baseline_name="idle bare pygls server",
        baseline=bare_pct,
        target="next to none",
        ok=np_pct < 1.0,
        notes=["CPU time from /proc/PID/stat (utime + stime), one core = 100 %"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    for row in measure(PROFILES["quick" if args.quick else "full"]):
        print(
            f"{row.name}: {row.figure()} vs {row.baseline_figure()} {row.ratio_text()} "
            f"(target {row.target}: {row.verdict()})"
        )
        for note in row.notes:
            print(f"    {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
