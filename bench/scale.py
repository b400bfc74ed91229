"""Scale: one session with 10,000 tasks and 100,000 events, next to a 10-task session in the
same database file, each CLI command timed on both (medians, interleaved).

The target (issue 7): a single-task write, ``np t u``, at 10,000 tasks within 1.5× of the
same command at 10 tasks. Printing stays condensed by design: above 100 tasks the plan
text np prints after a write folds finished work into count lines (server/text/render.py,
``PLAN_TEXT_TASK_LIMIT``), while ``--json`` still carries every task.

    python bench/scale.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PROFILES,
    Profile,
    Row,
    checkpoint,
    db_size,
    interleaved,
    median,
    np_command,
    np_env,
    seed_session,
    time_command,
    workspace,
)

WRITE_TARGET = 1.5


def measure(profile: Profile) -> list[Row]:
    with workspace("scale") as base:
        db = base / "np.db"
        big, small = base / "big", base / "small"
        started = time.perf_counter()
        big_ids = seed_session(db, big, tasks=profile.scale_tasks, events=profile.scale_events)
        seeded = time.perf_counter() - started
        small_ids = seed_session(db, small, tasks=10, events=10)
        checkpoint(db)
        size = db_size(db)
        env = np_env(db)
        np = np_command()

        def timed(args: list[str], cwd: Path) -> Callable[[int], float]:
            return lambda i: time_command([*np, *args], cwd=cwd, env=env)

        def update(ids: list[str], cwd: Path) -> Callable[[int], float]:
            statuses = ("completed", "in_progress")
            return lambda i: time_command(
                [*np, "t", "u", "-i", ids[0], "-s", statuses[i % 2]], cwd=cwd, env=env
            )

        commands = {
            "t u": (update(big_ids, big), update(small_ids, small)),
            "p --json": (timed(["p", "--json"], big), timed(["p", "--json"], small)),
            "log -n 50": (timed(["log", "-n", "50"], big), timed(["log", "-n", "50"], small)),
            "export": (timed(["export"], big), timed(["export"], small)),
            "export --format json": (
                timed(["export", "--format", "json"], big),
                timed(["export", "--format", "json"], small),
            ),
        }
        plan_lines = _plan_lines(np, big, env)
        breakdown = _write_breakdown(db, big, big_ids[0], profile.scale_runs)
        series = interleaved(
            profile.scale_runs,
            {
                f"{name} {which}": fn
                for name, pair in commands.items()
                for which, fn in zip(("big", "small"), pair, strict=True)
            },
            warmup=profile.warmup,
        )
    tasks, events = profile.scale_tasks, profile.scale_events
    rows = []
    for name in commands:
        big_ms, small_ms = median(series[f"{name} big"]), median(series[f"{name} small"])
        is_write = name == "t u"
        rows.append(
            Row(
                name=f"Scale ({tasks:,} tasks, {events:,} events): `np {name}`",
                value=big_ms,
                unit="ms",
                baseline_name="same at 10 tasks",
                baseline=small_ms,
                ratio=big_ms / small_ms,
                target=f"≤ {WRITE_TARGET:g}×" if is_write else "",
                ok=(big_ms / small_ms <= WRITE_TARGET) if is_write else None,
                notes=[f"the plan text it prints has {plan_lines} lines", breakdown]
                if is_write
                else [],
            )
        )
    rows.append(
        Row(
            name=f"Scale: database size ({tasks:,} tasks, {events:,} events)",
            value=size / 1024 / 1024,
            unit="MB",
            baseline_name=f"{size / max(1, events):.0f} bytes per event",
            notes=[f"seeded through the store API in {seeded:.1f} s"],
        )
    )
    return rows


def _write_breakdown(db: Path, directory: Path, task: str, runs: int) -> str:
    """Where one ``np.task.update`` goes at this size, in-process (medians, ms)."""
    from server.commands import wire
    from server.text import render
    from store import Status, StatusChange, Store

    parts: dict[str, list[float]] = {"write": [], "plan read": [], "plan JSON": [], "text": []}
    with Store(str(db)) as store:
        session = store.find_active(str(directory))
        assert session is not None
        for i in range(max(3, runs)):
            t0 = time.perf_counter()
            with store.transaction("bench breakdown") as unit:
                status = Status.COMPLETED if i % 2 == 0 else Status.IN_PROGRESS
                unit.set_statuses(session.sid, [StatusChange(task, status)])
            t1 = time.perf_counter()
            plan = store.plan(session.sid)
            t2 = time.perf_counter()
            wire.plan_json(plan)
            t3 = time.perf_counter()
            render.plan_text(plan)
            t4 = time.perf_counter()
            for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                parts[key].append(value * 1000)
    shown = ", ".join(f"{k} {median(v):.1f} ms" for k, v in parts.items())
    return (
        f"in-process breakdown of one update at this size: {shown} "
        "(plan JSON includes rendering the text once more)"
    )


def _plan_lines(np: list[str], cwd: Path, env: dict[str, str]) -> int:
    import subprocess

    out = subprocess.run([*np, "p"], cwd=str(cwd), env=env, capture_output=True, text=True)
    return len(out.stdout.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    for row in measure(PROFILES["quick" if args.quick else "full"]):
        print(
            f"{row.name}: {row.figure()} vs {row.baseline_figure()} {row.ratio_text()} "
            f"{row.target} {row.verdict()}"
        )
        for note in row.notes:
            print(f"    {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
