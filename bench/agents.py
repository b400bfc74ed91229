"""Many agents on one plan (issue 21): what the override check and ``np next`` cost on a
10,000-task plan, as ratios to ``np t u`` on the same plan in the same run; and how many
bytes an agent reads in a flow with dependencies and claims.

The plan: 10,000 tasks; the first half wait in one chain (each for the one before), so
``np next`` has to pass 5,000 tasks that are not ready before the first that is.

* baseline: ``np t u -i X -s in_progress|pending`` by the agent, nobody else writing;
* override check: the same, right after another actor changed some other task (untimed),
  so the write checks the unseen change against what it touches (and carries the notice);
* ``np next``: claims the first ready task (one per run).

    python -m bench.agents [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PROFILES,
    Profile,
    Row,
    checkpoint,
    interleaved,
    median,
    np_command,
    np_env,
    seed_session,
    time_command,
    workspace,
)

CHECK_TARGET = 1.5  # the override check within 1.5x of a plain np t u
NEXT_TARGET = 2.0  # np next within 2x of np t u
FLOW_TARGET = 5000  # bytes


def _chain(db: Path, directory: Path, ids: list[str]) -> None:
    """The first half of ``ids`` wait in one chain (each for the one before), written
    straight into the SQLite file (5,000 dependencies: a seeding shortcut, as seed_session's
    batches are)."""
    import sqlite3

    from store import Store

    half = ids[: len(ids) // 2]
    with Store(str(db)) as store:
        session = store.find_active(str(directory))
        assert session is not None
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO task_after (sid, task_id, after_id) VALUES (?, ?, ?)",
                [(session.sid, after, before) for before, after in itertools.pairwise(half)],
            )
    finally:
        conn.close()


def measure(profile: Profile) -> list[Row]:
    rows = []
    with workspace("agents") as base:
        db, plan = base / "np.db", base / "plan"
        ids = seed_session(db, plan, tasks=profile.scale_tasks, events=profile.scale_tasks + 10)
        _chain(db, plan, ids)
        checkpoint(db)
        env = {**np_env(db), "NP_ACTOR": "agent"}
        ana = {**env, "NP_ACTOR": "ana"}
        np = np_command()
        subprocess.run([*np, "p"], cwd=plan, env=env, capture_output=True, check=True)
        subprocess.run([*np, "p"], cwd=plan, env=ana, capture_output=True, check=True)
        mine, theirs = ids[-1], ids[-2]

        def update(i: int) -> float:
            status = ("in_progress", "pending")[i % 2]
            return time_command([*np, "t", "u", "-i", mine, "-s", status], cwd=plan, env=env)

        def checked(i: int) -> float:
            status = ("completed", "pending")[i % 2]
            subprocess.run(
                [*np, "t", "u", "-i", theirs, "-s", status],
                cwd=plan,
                env=ana,
                capture_output=True,
                check=True,
            )
            return update(i)

        def next_task(i: int) -> float:
            return time_command([*np, "next"], cwd=plan, env=env)

        commands: dict[str, Callable[[int], float]] = {
            "t u": update,
            "check": checked,
            "next": next_task,
        }
        series = interleaved(profile.scale_runs, commands, warmup=profile.warmup)
    base_ms = median(series["t u"])
    tasks = f"{profile.scale_tasks:,}"
    for key, name, target in (
        ("check", "`np t u` after another actor's unseen change (override check)", CHECK_TARGET),
        ("next", "`np next` (5,000 tasks waiting in a chain before the first ready)", NEXT_TARGET),
    ):
        ms = median(series[key])
        rows.append(
            Row(
                name=f"Many agents ({tasks} tasks): {name}",
                value=ms,
                unit="ms",
                baseline_name="`np t u`, nobody else writing",
                baseline=base_ms,
                ratio=ms / base_ms,
                target=f"≤ {target:g}×",
                ok=ms / base_ms <= target,
            )
        )
    total, outputs = flow_bytes()
    rows.append(
        Row(
            f"Agent flow with dependencies and claims: all CLI output ({len(outputs)} commands)",
            total,
            "bytes",
            target=f"< {FLOW_TARGET:,} bytes",
            ok=total < FLOW_TARGET,
            notes=["per command: " + ", ".join(f"{n:,}" for _, n, _ in outputs)],
        )
    )
    return rows


def flow_bytes() -> tuple[int, list[tuple[str, int, str]]]:
    """A 5-task flow as an agent works it with np next: tasks with --after, each claimed
    with np next, completed (one failed, one cancelled), until np next says none is ready."""
    outputs: list[tuple[str, int, str]] = []
    with tempfile.TemporaryDirectory(prefix="np-bench-agents-") as tmp:
        work = Path(tmp) / "p"
        work.mkdir()
        env = {**np_env(Path(tmp) / "np.db"), "NP_ACTOR": "agent"}

        def run(*args: str) -> str:
            proc = subprocess.run(
                [*np_command(), *args], cwd=work, env=env, capture_output=True, timeout=120
            )
            if proc.returncode != 0:
                raise RuntimeError(f"np {' '.join(args)}: {proc.stderr.decode()[:300]}")
            outputs.append(
                (" ".join(args), len(proc.stdout) + len(proc.stderr), proc.stdout.decode())
            )
            return proc.stdout.decode()

        run("s")
        run("g", "s", "-t", "Add CSV export to the orders report", "-d",
            "Issue #42. Touches reports/views.py and reports/export.py.")  # fmt: skip
        run("t", "a",
            "-t", "Read the report views", "-d", "reports/views.py",
            "-t", "Write the CSV serializer", "-d", "reports/csv.py", "--after", "#1",
            "-t", "Stream large reports", "-d", "StreamingHttpResponse", "--after", "#2",
            "-t", "Add the Download CSV button", "-d", "templates/reports/orders.html",
            "--after", "#2",
            "-t", "Support .xlsx", "-d", "only if the operator asks")  # fmt: skip
        finish = {
            "Stream large reports": ["-s", "failed", "-r", "the middleware breaks streaming"],
            "Support .xlsx": ["-s", "cancelled", "-r", "the operator said CSV is enough"],
        }
        for _ in range(6):
            text = run("next")
            if text.startswith("No task is ready"):
                break
            task = text.split()[1]
            title = text.splitlines()[0].split(" ", 2)[2].split("  [")[0]
            run("t", "u", "-i", task, *finish.get(title, ["-s", "completed"]))
        run("r")
    return sum(n for _, n, _ in outputs), outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--flow", action="store_true", help="print the flow's outputs only")
    args = parser.parse_args(argv)
    if args.flow:
        total, outputs = flow_bytes()
        for line, n, text in outputs:
            print(f"$ np {line}    # {n} bytes\n{text}")
        print(f"total: {total:,} bytes")
        return 0
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
