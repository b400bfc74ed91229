"""Memory as history grows: the peak resident memory of the commands that read a whole log
(``np m`` piped, ``np export`` as Markdown and as JSON, ``np log -n ALL``) at 10,000,
100,000 and 1,000,000 events in one session of 500 tasks, each next to the same command at
the smallest size, in the same run (issue 20, kind 8: memory must stay flat).

Peak RSS is the command's own ``ru_maxrss`` (``os.wait4`` in a small launcher:
``bench.common.peak_rss``): the whole process, interpreter included. Output goes to a
pipe that is read and dropped (``np m`` sees a pipe: the view once). The doors too:
``np serve`` answering ``np.export`` (Markdown, JSON) and a whole ``np.events`` in one
JSON-RPC message (its peak: ``VmHWM`` once the answer is read).

    python bench/memory.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PROFILES,
    Profile,
    Row,
    checkpoint,
    np_command,
    np_env,
    peak_rss,
    workspace,
)

TASKS = 500
TARGET = 1.25  # the largest log's peak, next to the smallest's
COMMANDS: dict[str, list[str]] = {
    "np m (piped)": ["m"],
    "np export": ["export"],
    "np export --format json": ["export", "--format", "json"],
    "np log -n ALL": ["log", "-n", "{all}"],
    "np log -n ALL --json": ["log", "-n", "{all}", "--json"],
}
# np serve: (command, its argument besides "dir")
SERVE_COMMANDS: dict[str, tuple[str, dict[str, object]]] = {
    "np serve: np.export": ("np.export", {}),
    "np serve: np.export json": ("np.export", {"format": "json"}),
    "np serve: np.events (whole log)": ("np.events", {}),
}


def sizes(profile: Profile) -> list[int]:
    if profile.name == "full":
        return [10_000, 100_000, 1_000_000]
    if profile.name == "quick":
        return [10_000, 100_000]
    return [1_000, 5_000]


def cli_peak(argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, int]:
    """``(peak RSS in bytes, bytes written to stdout)`` of one run; raises if it fails."""
    rss, written, code, err = peak_rss(argv, cwd=cwd, env=env)
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({code}): {err[-500:]!r}")
    return rss, written


def serve_peak(
    command: str, arg: dict[str, object], *, cwd: Path, env: dict[str, str]
) -> tuple[int, int]:
    """``(peak RSS in bytes, bytes of the result)`` of ``np serve`` answering one request."""
    import json

    from bench.lspclient import RawLspClient

    client = RawLspClient([*np_command(), "serve"], env=env, cwd=cwd)
    try:
        client.initialize(cwd, name="memory")
        reply = client.execute(command, {"dir": str(cwd), **arg}, timeout=3600)
        if "result" not in reply:
            raise RuntimeError(f"{command} failed: {str(reply)[:500]}")
        status = Path(f"/proc/{client.proc.pid}/status").read_text()
        peak = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM")))
        return peak * 1024, len(json.dumps(reply["result"]))
    finally:
        client.close()


def seed(db: Path, directory: Path, events: int) -> None:
    from bench.common import seed_session

    seed_session(db, directory, tasks=TASKS, events=events)


def measure(profile: Profile) -> list[Row]:
    counts = sizes(profile)
    peaks: dict[tuple[str, int], tuple[int, int]] = {}
    seeded: dict[int, float] = {}
    with workspace("memory") as base:
        for n in counts:
            db, project = base / f"np{n}.db", base / f"p{n}"
            started = time.perf_counter()
            seed(db, project, n)
            checkpoint(db)
            seeded[n] = time.perf_counter() - started
            env = np_env(db)
            for name, args in COMMANDS.items():
                argv = [*np_command(), *(a.replace("{all}", str(n + 10)) for a in args)]
                peaks[(name, n)] = cli_peak(argv, cwd=project, env=env)
            for name, (command, arg) in SERVE_COMMANDS.items():
                peaks[(name, n)] = serve_peak(command, arg, cwd=project, env=env)
            db.unlink()
    smallest, rows = counts[0], []
    for name in [*COMMANDS, *SERVE_COMMANDS]:
        base_peak = peaks[(name, smallest)][0]
        for n in counts[1:]:
            peak, written = peaks[(name, n)]
            ratio = peak / base_peak
            rows.append(
                Row(
                    name=f"Peak memory, `{name}` at {n:,} events",
                    value=peak / 1024 / 1024,
                    unit="MB",
                    baseline_name=f"same at {smallest:,} events",
                    baseline=base_peak / 1024 / 1024,
                    ratio=ratio,
                    target=f"≤ {TARGET:g}×",
                    ok=ratio <= TARGET,
                    notes=[
                        f"{written:,} bytes of output; the {n:,}-event database seeded in "
                        f"{seeded[n]:.1f} s"
                    ],
                )
            )
    return rows


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
