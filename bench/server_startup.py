"""``np serve`` start-up: from spawning the process to its ``initialize`` reply, next to a bare
pygls server's (``bench/bare_server.py``) in the same run, interleaved.

Editors show "Loading…" for this long. The server should import only what serving needs
before it answers (pygls, lsprotocol, the command table and the store), nothing of the CLI's
printers, the monitor or rich.

    python bench/server_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, Profile, Row, interleaved, median, np_command, np_env, workspace
from bench.lspclient import RawLspClient

BARE = Path(__file__).resolve().parent / "bare_server.py"
TARGET = 1.3


def _spawn_to_initialize(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    client = RawLspClient(argv, env=env, cwd=cwd)
    try:
        reply = client.initialize(cwd)
        elapsed = (time.perf_counter() - t0) * 1000
        if "result" not in reply:
            raise RuntimeError(f"initialize failed: {str(reply)[:200]}")
        return elapsed
    finally:
        client.close()


def measure(profile: Profile) -> list[Row]:
    runs = max(1, profile.cli_runs // 3)
    with workspace("startup") as base:
        db, project = base / "np.db", base / "project"
        project.mkdir()
        env = np_env(db)
        serve = [*np_command(), "serve"]
        bare = [PYTHON, str(BARE), str(base / "bare.db")]
        samples = interleaved(
            runs,
            {
                "np": lambda i: _spawn_to_initialize(serve, project, env),
                "bare": lambda i: _spawn_to_initialize(bare, project, env),
            },
            warmup=min(1, profile.warmup),
        )
    np_ms, bare_ms = median(samples["np"]), median(samples["bare"])
    return [
        Row(
            name="`np serve`: spawn to `initialize` reply (median)",
            value=np_ms,
            unit="ms",
            baseline_name="bare pygls server (`bench/bare_server.py`)",
            baseline=bare_ms,
            target=f"≤ {TARGET:g}×",
            ratio=np_ms / bare_ms,
            ok=np_ms / bare_ms <= TARGET,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    from bench.common import PROFILES

    profile = PROFILES["full"]
    profile = Profile(**{**profile.__dict__, "cli_runs": args.runs * 3})
    for row in measure(profile):
        print(f"{row.name}: {row.figure()} vs {row.baseline_figure()} ({row.ratio_text()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
