"""Round trips and wall time per CLI verb on PostgreSQL at 0, 12 and 50 ms of added RTT,
beside the floor (one round trip on an open connection), through ``bench.delay_proxy`` on
loopback (Unix socket, trust: connecting is 1 round trip here; TLS and SCRAM add their own,
see README); and, on an open connection, a long-lived door's write (the command table, as
``np serve`` and ``np mcp`` run it) and ``np m``'s refresh after another machine's commit
(from that commit's return to the monitor's data being current: the notification's way
back plus the refresh). Not pass/fail: ``tests/store/test_pg_round_trips.py`` holds the
counts.

    .venv/bin/python -m bench.pg_round_trips          # needs NP_TEST_PG or .ci/postgres.sh
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.delay_proxy import DelayProxy
from bench.postgres import cluster, new_database, through

VERBS: list[tuple[str, ...]] = [
    ("s",),
    ("t", "a", "-t", "one"),
    ("p",),
    ("t", "u", "-i", "{id}", "-s", "completed"),
    ("ls",),
]
RTTS = (0, 12, 50)
RUNS = 3
DOOR_WRITES = 20  # np.task.update calls on one open connection, per RTT
REFRESHES = 10  # np m refreshes after another machine's commit, per RTT


def _np(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NP_DB": url, "NP_ACTOR": ""}
    np_bin = Path(sys.executable).parent / "np"
    return subprocess.run(
        [str(np_bin), "--json", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def floor_ms(url: str) -> float:
    """One round trip on an open connection (``SELECT 1``), median of 20."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        took = []
        for _ in range(20):
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


def door_writes(via: str, proxy: DelayProxy, work: Path) -> dict[str, object]:
    """``np.task.update`` through the command table on one open connection (after the
    connection's first write, as a running ``np serve`` has it)."""
    from server.commands.table import Context, execute
    from store import Store

    trips, times = [], []
    with Store(via) as store:
        ctx = Context(store, str(work), "bench door", actor="bench")
        execute("np.session.start", ctx, {})
        task = execute("np.task.add", ctx, {"tasks": [{"title": "x"}]})["added"][0]
        for n in range(DOOR_WRITES):
            status = "completed" if n % 2 == 0 else "in_progress"
            proxy.reset()
            started = time.perf_counter()
            execute("np.task.update", ctx, {"updates": [{"id": task, "status": status}]})
            times.append((time.perf_counter() - started) * 1000)
            trips.append(proxy.flights)
    return {"round_trips": max(trips), "ms": round(statistics.median(times), 1)}


def monitor_refreshes(url: str, via: str, proxy: DelayProxy, work: Path) -> dict[str, object]:
    """Another machine (straight to the server) adds a task; ``np m``'s feed and store (through
    the proxy) wake on the notification and refresh: round trips and time from the commit's
    return to the refreshed data."""
    import select

    from server.commands.table import Context, execute
    from server.monitor.watcher import Watcher
    from store import Store
    from store.feed import open_feed

    trips, times = [], []
    with Store(url) as other, Store(via) as store:
        ctx = Context(other, str(work), "bench other", actor="other")
        execute("np.session.start", ctx, {})
        feed = open_feed(via)
        try:
            watcher = Watcher(store, str(work))
            watcher.load()
            socket = feed.fileno()
            assert socket is not None
            for n in range(REFRESHES):
                execute("np.task.add", ctx, {"tasks": [{"title": f"t{n}"}]})
                proxy.reset()
                started = time.perf_counter()
                touched: set[str] = set()
                while not touched:
                    select.select([socket], [], [], 10)
                    touched = {change.sid for change in feed.poll()}
                watcher.apply(touched)
                times.append((time.perf_counter() - started) * 1000)
                trips.append(proxy.flights)
                assert watcher.plan is not None and len(watcher.plan.tasks) == n + 1
        finally:
            feed.close()
    return {"round_trips": max(trips), "ms": round(statistics.median(times), 1)}


def measure(server: str, base: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    socket_dir = server.split("host=", 1)[1].split("&", 1)[0]
    for rtt in RTTS:
        folder = base / f"proxy{rtt}"
        folder.mkdir()
        url = new_database(server, f"np_rt{rtt}")
        with DelayProxy(
            str(folder / ".s.PGSQL.5432"), f"{socket_dir}/.s.PGSQL.5432", rtt / 1000
        ) as proxy:
            via = through(url, str(folder))
            row: dict[str, object] = {"floor_ms": round(floor_ms(via), 1)}
            for verb in VERBS:
                trips, times = [], []
                for n in range(RUNS):
                    work = base / f"w{rtt}" / str(n) / "a" / "b" / "c" / "project"
                    work.mkdir(parents=True, exist_ok=True)
                    if verb[0] != "s":
                        _np(via, work, "s")
                    task = _np(via, work, "t", "a", "-t", "x") if "{id}" in verb else None
                    args = [
                        a.format(id=json.loads(task.stdout)["tasks"][0]["id"]) if task else a
                        for a in verb
                    ]
                    proxy.reset()
                    started = time.perf_counter()
                    proc = _np(via, work, *args)
                    times.append((time.perf_counter() - started) * 1000)
                    trips.append(proxy.flights)
                    assert proc.returncode == 0, proc.stderr
                row[" ".join(verb[:2])] = {
                    "round_trips": max(trips),
                    "ms": round(statistics.median(times)),
                }
            door = base / f"door{rtt}"
            door.mkdir()
            row["door write"] = door_writes(via, proxy, door)
            watched = base / f"m{rtt}"
            watched.mkdir()
            row["np m refresh"] = monitor_refreshes(url, via, proxy, watched)
            out[f"{rtt} ms"] = row
    return out


def main() -> None:
    given = os.environ.get("NP_TEST_PG")
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="np-rt-"))
        server = given or stack.enter_context(cluster())[0]
        print(json.dumps(measure(server, Path(tmp)), indent=2))


if __name__ == "__main__":
    main()
