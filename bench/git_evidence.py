"""What evidence on "done" costs (issue 23): the git facts np records when a task moves to
in progress or completed, on a 100,000-file repository.

A real git repository is built in a temporary folder (``Profile.scale_events`` files: 100,000
in the full run, in 100 folders, committed). Timed, in this process, as the command table
runs them (``server.commands.evidence``), median of ``Profile.scale_runs``:

* ``facts`` on the clean tree (one ``git status --porcelain=v2 --untracked-files=all``);
* ``facts`` with 50 changed and 10 untracked files (their stat digests too);
* ``change`` after a commit (``git rev-list --count`` and ``git diff --name-only``).

Baseline in the same run: ``git rev-parse HEAD`` (the cheapest git process: what spawning
git costs at all), and ``git status`` run bare on the same tree. The deadline is
``evidence.TIME_LIMIT`` (1 s) for all of one command's git processes: past it the facts say
``skipped`` and the write goes on.

    python -m bench.git_evidence        prints the figures (full size)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PROFILES, Profile, Row, median
from server.commands import evidence

GIT = ["git", "-c", "user.email=bench@example.org", "-c", "user.name=bench"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)


def build(repo: Path, files: int) -> None:
    repo.mkdir()
    per = max(1, files // 100)
    for n in range(files):
        folder = repo / f"d{n // per:03d}"
        if n % per == 0:
            folder.mkdir(exist_ok=True)
        (folder / f"f{n}.txt").write_text(f"{n}\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "all files")
    subprocess.run(["git", "status"], cwd=repo, capture_output=True, check=True)  # warm


def _ms(fn: object, runs: int) -> tuple[float, object]:
    out: object = None
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return median(times), out


def measure(profile: Profile) -> list[Row]:
    files = profile.scale_events
    runs = max(3, profile.scale_runs)
    with tempfile.TemporaryDirectory(prefix="np-bench-git-") as tmp:
        repo = Path(tmp) / "repo"
        started = time.perf_counter()
        build(repo, files)
        built = time.perf_counter() - started
        where = str(repo)

        def bare(*args: str) -> object:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True)

        spawn, _ = _ms(lambda: bare("rev-parse", "HEAD"), runs)
        status, _ = _ms(
            lambda: bare("status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all"),
            runs,
        )
        bounded = evidence.facts(where)  # with np's deadline: within it, or skipped
        unbounded = time.monotonic() + 120  # what the facts cost, measured without it
        clean, start = _ms(lambda: evidence.facts(where, unbounded), runs)
        for n in range(50):
            path = repo / f"d{n:03d}" / f"f{n * max(1, files // 100)}.txt"
            path.write_text("changed\n")
        for n in range(10):
            (repo / f"new{n}.txt").write_text("new\n")
        dirty, end = _ms(lambda: evidence.facts(where, unbounded), runs)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "work")
        after = evidence.facts(where, unbounded)
        compare, done = _ms(
            lambda: evidence.change(where, start, after, unbounded),  # type: ignore[arg-type]
            runs,
        )
    assert isinstance(start, dict) and "skipped" not in start, start
    assert isinstance(end, dict) and end.get("dirty") == 60, end
    total = dirty + compare
    limit = evidence.TIME_LIMIT * 1000
    return [
        Row(
            f"git facts on a {files:,}-file repository (clean tree)",
            clean,
            "ms",
            baseline_name="bare git status, same tree",
            baseline=status,
            target=f"< {limit:.0f} ms (the deadline)",
            ratio=clean / status,
            ok=clean < limit,
            notes=[
                f"git rev-parse HEAD (spawning git at all): {spawn:.1f} ms; the repository took "
                f"{built:.0f} s to build",
                "with np's deadline on this run: "
                + (
                    f"skipped ({bounded['skipped']})"
                    if "skipped" in bounded
                    else "recorded within it"
                ),
                f"with 50 changed and 10 untracked files: {dirty:.1f} ms",
                f"completion's comparison after a commit (rev-list + diff): {compare:.1f} ms "
                f"→ {done}; a completion's git work in all: {total:.1f} ms",
                "a folder outside git costs no git process (a stat walk for .git)",
            ],
        )
    ]


def main() -> int:
    for row in measure(PROFILES["full"]):
        print(f"{row.name}: {row.figure()} ({row.baseline_figure()}, {row.ratio_text()})")
        for note in row.notes:
            print(f"  - {note}")
    return 0


if __name__ == "__main__":
    os.environ.pop("GIT_DIR", None)
    sys.exit(main())
