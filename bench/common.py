"""Shared pieces of the benchmarks: result rows, timing, statistics, seeding, the machine."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass(frozen=True)
class Profile:
    """How big each benchmark runs: ``full`` for BENCHMARKS.md, ``quick`` for a look,
    ``dry`` only proves that everything runs (the test suite uses it)."""

    name: str
    cli_runs: int
    server_requests: int
    notify_samples: int
    idle_seconds: float
    writers: int
    writer_seconds: float
    scale_tasks: int
    scale_events: int
    scale_runs: int
    warmup: int  # discarded runs before each timed CLI series


PROFILES = {
    "full": Profile("full", 30, 2000, 60, 10.0, 8, 4.0, 10_000, 100_000, 9, 2),
    "quick": Profile("quick", 10, 500, 20, 3.0, 8, 1.5, 2_000, 20_000, 5, 1),
    "dry": Profile("dry", 1, 10, 2, 0.3, 2, 0.3, 100, 500, 1, 0),
}


@dataclass
class Row:
    """One line of the table: a figure, its baseline from the same run, and the target."""

    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: str = ""  # e.g. "≤ 6×"
    ratio: float | None = None
    ok: bool | None = None
    notes: list[str] = field(default_factory=list)

    def figure(self) -> str:
        return fmt(self.value, self.unit)

    def baseline_figure(self) -> str:
        if self.baseline is None:
            return self.baseline_name or "—"
        return f"{self.baseline_name}: {fmt(self.baseline, self.unit)}"

    def ratio_text(self) -> str:
        return "—" if self.ratio is None else f"{self.ratio:.2f}×"

    def verdict(self) -> str:
        if self.ok is None:
            return ""
        return "met" if self.ok else "MISSED"


def fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:g} {unit}".strip()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def np_command() -> list[str]:
    exe = Path(PYTHON).parent / "np"
    return [str(exe)] if exe.exists() else [PYTHON, "-m", "server.cli"]


# Runs argv[2:] and writes its peak RSS (kB) to the file descriptor argv[1]. A process's
# ru_maxrss counts the memory of the image it replaced at exec — for a child of a big
# process, that process's whole size at the fork (a 300 MB parent made `true` read 313 MB) —
# so the command is started from this small launcher and its own peak is what is read.
_PEAK_LAUNCHER = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "os.set_inheritable(fd, False)\n"
    "pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "os.write(fd, str(usage.ru_maxrss).encode())\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


def peak_rss(argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, int, int, bytes]:
    """Run ``argv`` with stdout a pipe that is read and dropped: ``(its peak resident memory
    in bytes, bytes written to stdout, exit code, stderr)``."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _PEAK_LAUNCHER, str(write_end), *argv],
            cwd=str(cwd),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            pass_fds=(write_end,),
        )
    finally:
        os.close(write_end)
    assert proc.stdout is not None and proc.stderr is not None
    written = 0
    while chunk := proc.stdout.read(1 << 16):
        written += len(chunk)
    err = proc.stderr.read()
    code = proc.wait()
    with os.fdopen(read_end, "rb") as f:
        peak_kb = int(f.read() or b"0")
    return peak_kb * 1024, written, code, err


def np_env(db: Path) -> dict[str, str]:
    env = {**os.environ, "NP_DB": str(db)}
    env.pop("NP_DEBUG", None)
    return env


def time_command(argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one process from spawn to exit, in ms, output captured (as an agent
    does); raises if it fails."""
    started = time.perf_counter()
    proc = subprocess.run(
        list(argv), cwd=str(cwd), env=env, capture_output=True, stdin=subprocess.DEVNULL
    )
    elapsed = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}"
        )
    return elapsed


def interleaved(
    runs: int, commands: dict[str, Callable[[int], float]], warmup: int = 1
) -> dict[str, list[float]]:
    """Run each timed callable ``runs`` times, interleaved (a, b, a, b, …) so that drift
    in machine load hits every series alike. Warm-up runs are discarded."""
    out: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(warmup + runs):
        for name, fn in commands.items():
            value = fn(i)
            if i >= warmup:
                out[name].append(value)
    return out


@contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix=f"np-bench-{prefix}-"))
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def seed_session(
    db: Path, directory: Path, tasks: int, events: int, *, clock_cmd: str = "bench seed"
) -> list[str]:
    """A session in ``directory`` with ``tasks`` tasks and about ``events`` events,
    written fast through the store API (batches of 500 per unit of work). Returns the
    task ids. Events beyond the task_added ones are status changes cycling
    in_progress → completed → pending, so the session ends with every task pending."""
    from store import NewTask, Status, StatusChange, Store

    directory.mkdir(parents=True, exist_ok=True)
    with Store(str(db)) as store:
        with store.transaction(clock_cmd) as unit:
            sid = unit.start_session(str(directory)).sid
            unit.set_goal(sid, "Benchmark plan", "A big plan for the scale benchmark.")
        ids: list[str] = []
        for start in range(0, tasks, 500):
            items = [
                NewTask(f"task {n}", "something to do" if n % 3 else "")
                for n in range(start, min(tasks, start + 500))
            ]
            with store.transaction(clock_cmd) as unit:
                ids += [t.id for t in unit.add_tasks(sid, items)]
        remaining = max(0, events - tasks - 2)
        cycle = [Status.IN_PROGRESS, Status.COMPLETED, Status.PENDING]
        step = 0
        while remaining > 0:
            status = cycle[step % 3]
            step += 1
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + min(500, remaining)]
                if not chunk:
                    break
                with store.transaction(clock_cmd) as unit:
                    unit.set_statuses(sid, [StatusChange(i, status) for i in chunk])
                remaining -= len(chunk)
                if remaining <= 0:
                    break
        # End with every task pending, so benchmarks start from a known state.
        if step % 3:
            for start in range(0, len(ids), 500):
                with store.transaction(clock_cmd) as unit:
                    unit.set_statuses(
                        sid, [StatusChange(i, Status.PENDING) for i in ids[start : start + 500]]
                    )
    return ids


def db_size(db: Path) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.path.getsize(str(db) + suffix)
        except OSError:
            pass
    return total


def checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _first_line(path: str, key: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _filesystem(path: str) -> str:
    try:
        out = subprocess.run(
            ["df", "-T", path], capture_output=True, text=True, timeout=5
        ).stdout.splitlines()
        return out[1].split()[1] if len(out) > 1 else "unknown"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def machine() -> dict[str, str]:
    from importlib.metadata import version

    mem_kb = _first_line("/proc/meminfo", "memtotal").split()[0]
    try:
        memory = f"{int(mem_kb) / 1024 / 1024:.1f} GiB"
    except ValueError:
        memory = "unknown"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": _first_line("/proc/cpuinfo", "model name"),
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pygls": version("pygls"),
        "tmp_filesystem": _filesystem(tempfile.gettempdir()),
        "load_average": " ".join(f"{x:.2f}" for x in load),
    }
