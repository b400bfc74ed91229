"""PostgreSQL mode against SQLite mode, same run: units of work per second at 0 and 12 ms
round trip, 8 writer processes on one shared session (and on one session each), and the
time from a commit to a watcher on another connection noticing it.

A private cluster is started for the run (``.ci/postgres.sh``, Unix socket only) with
``synchronous_commit=off`` and ``fsync=on``, the closest match to SQLite's WAL with
``synchronous=NORMAL``; round trips are added by ``bench/delay_proxy.py`` on loopback.

A *unit* here is exactly the write of ``np t u -i X -s …``: one unit of work that finds the
session for the directory, touches it, updates one task and appends its event (through
``Store.transaction``, the code every front door runs), without the plan read the command
does afterwards.

    python -m bench.postgres [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PROFILES, PYTHON, ROOT, Profile, Row, median, percentile, workspace
from bench.delay_proxy import DelayProxy

SCRIPT = ROOT / ".ci" / "postgres.sh"
TASKS_PER_WRITER = 4
RTT = 0.012


@contextmanager
def cluster(*settings: str) -> Iterator[tuple[str, str]]:
    """A private PostgreSQL cluster for the run: (maintenance URL, socket folder);
    ``settings`` are more ``-c name=value`` options for the server."""
    folder = tempfile.mkdtemp(prefix="np-bench-pg-")
    proc = subprocess.run(
        ["bash", str(SCRIPT), "start", folder, "-c fsync=on", "-c synchronous_commit=off"]
        + [f"-c {setting}" for setting in settings],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"no PostgreSQL cluster: {proc.stderr[-400:]}")
    url = proc.stdout.strip().split("=", 1)[1].strip("'")
    try:
        yield url, folder
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True, timeout=120)


def new_database(server: str, name: str) -> str:
    import psycopg

    from store.postgres.conn import connect
    from store.postgres.schema import migrate

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = server.replace("/postgres?", f"/{name}?")
    pg = connect(url)
    try:
        migrate(pg.raw)
    finally:
        pg.close()
    return url


def through(url: str, folder: str) -> str:
    """``url`` with its host switched to the delay proxy's socket folder."""
    base = url.split("?host=", maxsplit=1)[0]
    return f"{base}?host={folder}"


def seed(db: str, directories: list[Path], tasks: int) -> list[list[str]]:
    """One session per directory with ``tasks`` tasks each; their ids."""
    from store import NewTask, Store

    out = []
    with Store(db) as store:
        for d in directories:
            d.mkdir(parents=True, exist_ok=True)
            with store.transaction("bench seed") as unit:
                sid = unit.start_session(str(d)).sid
                out.append(
                    [t.id for t in unit.add_tasks(sid, [NewTask(f"t{n}") for n in range(tasks)])]
                )
    return out


def _worker(db: str, project: str, seconds: float, ids: list[str]) -> None:
    """In a child: wait for ``go``, run units for ``seconds``, print latencies (ms)."""
    from store import Status, StatusChange, Store
    from store.errors import WriteConflict

    statuses = [Status.IN_PROGRESS, Status.COMPLETED]
    store = Store(db)
    latencies: list[float] = []
    conflicts = 0
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        t0 = time.perf_counter()
        while True:  # as the command table does: a unit another writer overtook runs again
            try:
                with store.transaction("bench writer") as unit:
                    session = unit.active_for(project)
                    task = ids[i % len(ids)]
                    change = StatusChange(task, statuses[(i // len(ids)) % 2])
                    unit.set_statuses(session.sid, [change])
                break
            except WriteConflict:
                conflicts += 1
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    store.close()
    elapsed = time.perf_counter() - started
    print(json.dumps({"elapsed": elapsed, "latencies": latencies, "conflicts": conflicts}))


def writers(
    db: str, projects: list[Path], ids: list[list[str]], n: int, seconds: float
) -> tuple[float, float, int]:
    """(units/s, p50 ms, units) for ``n`` writer processes; writer w works in
    ``projects[w % len(projects)]`` on its own tasks."""
    procs = []
    for w in range(n):
        p = w % len(projects)
        per = len(ids[p]) // max(1, n // len(projects))
        slot = w // len(projects)
        mine = ids[p][slot * per : (slot + 1) * per] or ids[p]
        procs.append(
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "bench.postgres",
                    "--worker",
                    db,
                    str(projects[p]),
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
        out, _ = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError("a writer failed")
        latencies += json.loads(out.strip().splitlines()[-1])["latencies"]
    wall = time.perf_counter() - started
    return len(latencies) / wall, median(latencies), len(latencies)


def gapless(db: str) -> bool:
    from store import Store

    with Store(db) as store:
        for session in store.sessions("all"):
            seqs = [e.seq for e in store.events(session.sid)]
            if seqs != list(range(1, len(seqs) + 1)):
                return False
    return True


def notify_latency(db: str, project: Path, ids: list[str], samples: int, wake: bool) -> list[float]:
    """ms from a unit sending its COMMIT (in a writer thread) to a watcher's ``poll()``
    reporting it: woken by the feed's socket (``wake``) or polled every 100 ms as
    ``np serve`` polls SQLite."""
    from store import Status, StatusChange, Store
    from store.feed import POLL_INTERVAL, open_feed

    feed = open_feed(db)
    committed: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def write() -> None:
        with Store(db) as store:
            time.sleep(0.2)
            for i in range(samples):
                with store.transaction("bench notify") as unit:
                    sid = unit.active_for(str(project)).sid
                    status = Status.IN_PROGRESS if i % 2 == 0 else Status.COMPLETED
                    unit.set_statuses(sid, [StatusChange(ids[0], status)])
                    seq = unit.events[-1].seq
                    committed[seq] = time.perf_counter()  # COMMIT (and NOTIFY) go next
                time.sleep(0.12 + (i % 5) * 0.02)  # apart, so SQLite's poll sees each
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    fileno = getattr(feed, "fileno", None)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (done.is_set() and len(seen) >= samples):
        if not thread.is_alive() and not done.is_set():
            raise RuntimeError("the notification writer failed")
        if wake and fileno is not None:
            select.select([fileno()], [], [], 0.5)
        else:
            time.sleep(POLL_INTERVAL)
        now = time.perf_counter()
        for change in feed.poll():
            seen.setdefault(change.seq, now)
    thread.join()
    feed.close()
    return [max(0.0, (seen[s] - committed[s]) * 1000) for s in committed if s in seen]


def cli_write(base: Path, server: str, profile: Profile) -> dict[str, list[float]]:
    """Wall time of ``np t u -i X -s …`` (spawn to exit) on each engine, interleaved."""
    from bench.common import interleaved, np_command, time_command

    dbs = {"sqlite": str(base / "cli.db"), "postgresql": new_database(server, "b_cli")}
    project = base / "cli-project"
    ids = {engine: seed(db, [project], 1)[0][0] for engine, db in dbs.items()}

    def timed(engine: str) -> Any:
        env = {**os.environ, "NP_DB": dbs[engine]}
        env.pop("NP_DEBUG", None)

        def run(i: int) -> float:
            status = "completed" if i % 2 else "in_progress"
            argv = [*np_command(), "t", "u", "-i", ids[engine], "-s", status]
            return time_command(argv, cwd=project, env=env)

        return run

    runs = max(profile.cli_runs // 2, 3)
    return interleaved(runs, {e: timed(e) for e in dbs}, warmup=1)


def measure(profile: Profile) -> list[Row]:
    seconds = max(profile.writer_seconds, 0.5)
    n = profile.writers
    samples = max(profile.notify_samples, 5)
    try:
        with workspace("pg") as base, cluster() as (server, folder):
            return _measure(profile, base, server, folder, seconds, n, samples)
    except RuntimeError as exc:
        if "no PostgreSQL cluster" not in str(exc):
            raise
        return [Row(name="PostgreSQL benchmarks", value=float("nan"), unit="", notes=[str(exc)])]


def _measure(
    profile: Profile, base: Path, server: str, folder: str, seconds: float, n: int, samples: int
) -> list[Row]:
    rows: list[Row] = []
    proxy_dir = base / "proxy"
    proxy_dir.mkdir()
    socket = os.path.join(folder, ".s.PGSQL.5432")
    results: dict[str, tuple[float, float, int]] = {}
    checks: dict[str, bool] = {}
    for engine in ("sqlite", "postgresql"):
        for shape in ("one", "many"):
            tag = f"{engine}-{shape}"
            count = 1 if shape == "one" else n
            projects = [base / tag / f"p{i}" for i in range(count)]
            db = (
                str(base / f"{tag}.db")
                if engine == "sqlite"
                else new_database(server, f"b_{shape}")
            )
            ids = seed(db, projects, TASKS_PER_WRITER * n)
            results[f"{tag}-1"] = writers(db, projects[:1], ids[:1], 1, seconds)
            results[f"{tag}-{n}"] = writers(db, projects, ids, n, seconds)
            if engine == "postgresql":
                with DelayProxy(str(proxy_dir / ".s.PGSQL.5432"), socket, RTT):
                    slow = through(db, str(proxy_dir))
                    results[f"{tag}-1-rtt"] = writers(slow, projects[:1], ids[:1], 1, seconds)
                    results[f"{tag}-{n}-rtt"] = writers(slow, projects, ids, n, seconds)
            checks[tag] = gapless(db)
    cli = cli_write(base, server, profile)
    lat: dict[str, list[float]] = {}
    lite = str(base / "notify.db")
    (lite_ids,) = seed(lite, [base / "notify-lite"], 2)
    lat["sqlite"] = notify_latency(lite, base / "notify-lite", lite_ids, samples, wake=False)
    pgdb = new_database(server, "b_notify")
    near, far = base / "notify-pg", base / "notify-pg-rtt"
    (pg_ids, far_ids) = seed(pgdb, [near, far], 2)
    lat["pg"] = notify_latency(pgdb, near, pg_ids, samples, wake=True)
    with DelayProxy(str(proxy_dir / ".s.PGSQL.5432"), socket, RTT):
        lat["pg-rtt"] = notify_latency(
            through(pgdb, str(proxy_dir)), far, far_ids, samples, wake=True
        )

    rows.append(
        Row(
            name="CLI write `np t u -i X -s …` on PostgreSQL, loopback (median)",
            value=median(cli["postgresql"]),
            unit="ms",
            baseline_name="same on SQLite",
            baseline=median(cli["sqlite"]),
            ratio=median(cli["postgresql"]) / median(cli["sqlite"]),
            notes=[
                f"n = {len(cli['sqlite'])} each, interleaved; PostgreSQL pays for importing "
                "psycopg (about 0.1-0.25 s here), connecting, and the schema check"
            ],
        )
    )

    def rate(key: str) -> float:
        return results[key][0]

    def note(key: str) -> str:
        _, p50, count = results[key]
        return f"{count} units, p50 {p50:.1f} ms"

    ms = int(RTT * 1000)
    rows.append(
        Row(
            name="PostgreSQL unit of work, 1 writer, loopback: units/s",
            value=rate("postgresql-one-1"),
            unit="/s",
            baseline_name="SQLite, same unit",
            baseline=rate("sqlite-one-1"),
            ratio=rate("postgresql-one-1") / rate("sqlite-one-1"),
            notes=[f"PostgreSQL {note('postgresql-one-1')}; SQLite {note('sqlite-one-1')}"],
        )
    )
    rows.append(
        Row(
            name=f"PostgreSQL unit of work, 1 writer, {ms} ms RTT: units/s",
            value=rate("postgresql-one-1-rtt"),
            unit="/s",
            baseline_name="PostgreSQL loopback",
            baseline=rate("postgresql-one-1"),
            ratio=rate("postgresql-one-1-rtt") / rate("postgresql-one-1"),
            notes=[
                f"{note('postgresql-one-1-rtt')}: about "
                f"{results['postgresql-one-1-rtt'][1] / ms:.1f} round trips per unit "
                "(lock + every read; writes + NOTIFY + COMMIT)"
            ],
        )
    )
    rows.append(
        Row(
            name=f"{n} writer processes, one shared session, loopback: units/s",
            value=rate(f"postgresql-one-{n}"),
            unit="/s",
            baseline_name="SQLite, same writers",
            baseline=rate(f"sqlite-one-{n}"),
            ratio=rate(f"postgresql-one-{n}") / rate(f"sqlite-one-{n}"),
            notes=[
                f"PostgreSQL {note(f'postgresql-one-{n}')}; SQLite {note(f'sqlite-one-{n}')}; "
                f"seq gapless afterwards: PostgreSQL {checks['postgresql-one']}, "
                f"SQLite {checks['sqlite-one']}"
            ],
        )
    )
    rows.append(
        Row(
            name=f"{n} writer processes, one session each, loopback: units/s",
            value=rate(f"postgresql-many-{n}"),
            unit="/s",
            baseline_name="SQLite, same writers",
            baseline=rate(f"sqlite-many-{n}"),
            ratio=rate(f"postgresql-many-{n}") / rate(f"sqlite-many-{n}"),
            notes=[
                f"PostgreSQL {note(f'postgresql-many-{n}')}; SQLite {note(f'sqlite-many-{n}')}; "
                f"seq gapless afterwards: PostgreSQL {checks['postgresql-many']}, "
                f"SQLite {checks['sqlite-many']}"
            ],
        )
    )
    rows.append(
        Row(
            name=f"{n} writer processes, one shared session, {ms} ms RTT: units/s",
            value=rate(f"postgresql-one-{n}-rtt"),
            unit="/s",
            baseline_name="PostgreSQL loopback",
            baseline=rate(f"postgresql-one-{n}"),
            ratio=rate(f"postgresql-one-{n}-rtt") / rate(f"postgresql-one-{n}"),
            notes=[
                f"{note(f'postgresql-one-{n}-rtt')}; the session row lock is held for about one "
                f"round trip, so one session tops out near {1000 / ms:.0f} units/s at {ms} ms "
                "(the study: 14/s for a straight port, 70/s pipelined, 491/s server-side)"
            ],
        )
    )
    rows.append(
        Row(
            name=f"{n} writer processes, one session each, {ms} ms RTT: units/s",
            value=rate(f"postgresql-many-{n}-rtt"),
            unit="/s",
            baseline_name="one shared session, same RTT",
            baseline=rate(f"postgresql-one-{n}-rtt"),
            ratio=rate(f"postgresql-many-{n}-rtt") / rate(f"postgresql-one-{n}-rtt"),
            notes=[f"{note(f'postgresql-many-{n}-rtt')}: sessions do not serialise each other"],
        )
    )
    for key, label in (("pg", "loopback"), ("pg-rtt", f"{ms} ms RTT")):
        values = lat[key]
        rows.append(
            Row(
                name=f"PostgreSQL commit → watcher (LISTEN/NOTIFY), {label}: p50",
                value=median(values) if values else float("nan"),
                unit="ms",
                baseline_name="SQLite data_version poll (100 ms) p50",
                baseline=median(lat["sqlite"]) if lat["sqlite"] else None,
                notes=[
                    f"p95 {percentile(values, 95):.1f} ms, n = {len(values)}/{samples}; SQLite "
                    f"p95 {percentile(lat['sqlite'], 95):.1f} ms, "
                    f"n = {len(lat['sqlite'])}/{samples}"
                ]
                if values and lat["sqlite"]
                else [],
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--worker"]:
        db, project, seconds, *ids = args[1:]
        _worker(db, project, float(seconds), ids)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args(args)
    for row in measure(PROFILES["quick" if opts.quick else "full"]):
        print(f"{row.name}: {row.figure()} vs {row.baseline_figure()} ({row.ratio_text()})")
        for n in row.notes:
            print(f"    {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
