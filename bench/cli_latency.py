"""CLI write latency: ``np t u -i X -s completed`` against two same-run baselines.

Baselines: bare ``python -c pass`` (issue 2's target: at most 6×) and
``python -c "import sqlite3, attrs, argparse, json"`` (issues 10 and 19: at most 1.3×; the
libraries a command line tool that writes a database cannot do without, so the ratio is
what np itself adds). All three are measured in this run, interleaved so load drift hits
them alike. Each ``np t u`` is a real change (the task alternates completed /
in_progress), so every run commits a status update, a touch and an event in one
``BEGIN IMMEDIATE`` transaction.

Wall time on a shared machine moves with its load; where valgrind is installed the same two
commands are also counted in instructions (``--tool=cachegrind``, hash seed fixed), a
figure that does not move with load: what np runs, not how long the machine took.

    python bench/cli_latency.py [--runs N] [--profile] [--instructions]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PYTHON,
    Row,
    interleaved,
    median,
    np_command,
    np_env,
    seed_session,
    time_command,
    workspace,
)

TARGET = 6.0
TARGET_LIBS = 1.3
LIBS = "import sqlite3, attrs, argparse, json"


def measure(
    runs: int, warmup: int = 2, *, count: bool = True
) -> tuple[list[Row], dict[str, list[float]]]:
    """The wall times, and with ``count`` the instruction counts too (where valgrind is)."""
    with workspace("cli") as base:
        db, project = base / "np.db", base / "project"
        task = seed_session(db, project, tasks=10, events=10)[0]
        env = np_env(db)
        np = np_command()

        def np_write(i: int) -> float:
            status = "completed" if i % 2 == 0 else "in_progress"
            return time_command([*np, "t", "u", "-i", task, "-s", status], cwd=project, env=env)

        def bare(i: int) -> float:
            return time_command([PYTHON, "-c", "pass"], cwd=project, env=env)

        def libs(i: int) -> float:
            return time_command([PYTHON, "-c", LIBS], cwd=project, env=env)

        samples = interleaved(runs, {"np": np_write, "python": bare, "libs": libs}, warmup=warmup)
    np_ms, bare_ms, libs_ms = (median(samples[k]) for k in ("np", "python", "libs"))
    name = "CLI write `np t u -i X -s completed` (median)"
    rows = [
        Row(
            name=name,
            value=np_ms,
            unit="ms",
            baseline_name="`python -c pass`",
            baseline=bare_ms,
            target=f"≤ {TARGET:g}×",
            ratio=np_ms / bare_ms,
            ok=np_ms / bare_ms <= TARGET,
        ),
        Row(
            name=name,
            value=np_ms,
            unit="ms",
            baseline_name=f'`python -c "{LIBS}"`',
            baseline=libs_ms,
            target=f"≤ {TARGET_LIBS:g}×",
            ratio=np_ms / libs_ms,
            ok=np_ms / libs_ms <= TARGET_LIBS,
        ),
    ]
    counted = instructions() if count else None
    if counted is not None:
        np_ir, libs_ir = (round(n / 1e6, 1) for n in counted)
        rows.append(
            Row(
                name="CLI write `np t u -i X -s completed`, instructions (valgrind)",
                value=np_ir,
                unit="M",
                baseline_name=f'`python -c "{LIBS}"`',
                baseline=libs_ir,
                target=f"≤ {TARGET_LIBS:g}×",
                ratio=np_ir / libs_ir,
                ok=np_ir / libs_ir <= TARGET_LIBS,
                notes=[
                    "user-space instructions (cachegrind, PYTHONHASHSEED=0): the load does "
                    "not move them"
                ],
            )
        )
    return rows, samples


VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")


def _instructions(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    """User-space instructions of one run of ``argv`` under valgrind's cachegrind."""
    proc = subprocess.run(
        [*VALGRIND, *argv],
        cwd=str(cwd),
        env={**env, "PYTHONHASHSEED": "0"},  # dict and set order: the same work every run
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind: {proc.stderr[-300:]}")
    return int(found.group(1).replace(",", ""))


def instructions(runs: int = 2) -> tuple[int, int] | None:
    """Instructions of ``np t u`` and of the libraries baseline (the median of ``runs``
    each; a run differs from the next only by the database's contents), or None without
    valgrind."""
    if shutil.which("valgrind") is None:
        return None
    with workspace("instructions") as base:
        db, project = base / "np.db", base / "project"
        task = seed_session(db, project, tasks=10, events=10)[0]
        env, np = np_env(db), np_command()
        np_ir = [
            _instructions([*np, "t", "u", "-i", task, "-s", status], project, env)
            for status in ("completed", "in_progress")[: max(runs, 1)]
        ]
        libs_ir = _instructions([PYTHON, "-c", LIBS], project, env)
    return int(median([float(n) for n in np_ir])), libs_ir


def import_profile(top: int = 12) -> list[str]:
    """The heaviest imports of a CLI write (``python -X importtime``), cumulative µs."""
    with workspace("imports") as base:
        db, project = base / "np.db", base / "project"
        task = seed_session(db, project, tasks=3, events=3)[0]
        proc = subprocess.run(
            [
                PYTHON,
                "-X",
                "importtime",
                "-m",
                "server.cli",
                "t",
                "u",
                "-i",
                task,
                "-s",
                "completed",
            ],
            cwd=str(project),
            env=np_env(db),
            capture_output=True,
            text=True,
        )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:") :].split("|")]
        if parts[0].isdigit():
            rows.append((int(parts[1]), parts[2]))
    rows.sort(reverse=True)
    return [f"{us / 1000:7.1f} ms  {name}" for us, name in rows[:top]]


def run_profile(top: int = 15) -> list[str]:
    """cProfile of a whole CLI write process, sorted by cumulative time."""
    with workspace("cprofile") as base:
        db, project = base / "np.db", base / "project"
        task = seed_session(db, project, tasks=3, events=3)[0]
        script = (
            "import cProfile, pstats, sys\n"
            "sys.argv = ['np', 't', 'u', '-i', sys.argv[1], '-s', 'completed']\n"
            "pr = cProfile.Profile(); pr.enable()\n"
            "from server.cli import main\n"
            "code = main(sys.argv[1:])\n"
            "pr.disable()\n"
            "sys.stdout = sys.stderr\n"
            f"pstats.Stats(pr).sort_stats('cumulative').print_stats({top})\n"
        )
        proc = subprocess.run(
            [PYTHON, "-c", script, task],
            cwd=str(project),
            env=np_env(db),
            capture_output=True,
            text=True,
        )
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if "ncalls" in ln), 0)
    return lines[start : start + top + 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="also show imports and cProfile")
    parser.add_argument(
        "--instructions", action="store_true", help="only the instruction counts (valgrind)"
    )
    args = parser.parse_args(argv)
    if args.instructions:
        counted = instructions()
        if counted is None:
            print("valgrind is not installed")
            return 1
        ratio = counted[0] / counted[1]
        print(f"np t u {counted[0]:,} instructions; `{LIBS}` {counted[1]:,}: {ratio:.3f}×")
        return 0
    rows, samples = measure(args.runs)
    print(f"np t u median:          {rows[0].value:7.1f} ms  (n={len(samples['np'])})")
    for row in rows[:2]:
        print(
            f"{row.baseline_name}: {row.baseline or 0:7.1f} ms; ratio {row.ratio or 0:5.2f}× "
            f"(target {row.target}: {row.verdict()})"
        )
    for row in rows[2:]:
        print(f"instructions: np t u {row.figure()}, {row.baseline_figure()}: {row.ratio_text()}")
    if args.profile:
        print("\nheaviest imports (cumulative):")
        print("\n".join(import_profile()))
        print("\ncProfile (cumulative):")
        print("\n".join(run_profile()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
