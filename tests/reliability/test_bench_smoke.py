"""The benchmark suite at least runs: ``python -m bench --dry-run --only NAME`` (tiny sizes,
nothing written) for every benchmark, each its own test so they can run side by side. Its
figures are not checked here — benchmarks are never pass/fail."""

from __future__ import annotations

import subprocess
import sys

import pytest
from reliability_support import ROOT

from bench.__main__ import SUITES

# A figure each benchmark's table must name (the rest are only required to produce a row).
FIGURES = {
    "cli": ["CLI write"],
    "server": ["Server write round trips", "np/didChange", "Idle server CPU"],
    "writers": ["concurrent writer processes"],
    "scale": ["Scale"],
    "mcp": ["MCP tool call round trip", "5-task agent flow over MCP"],
    "postgres": ["PostgreSQL"],
}


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_bench_dry_run_runs_every_benchmark(suite: str) -> None:
    report = ROOT / "BENCHMARKS.md"
    before = report.stat().st_mtime_ns if report.exists() else None
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--dry-run", "--no-write", "--only", suite],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")][1:]
    assert rows, proc.stdout  # a header and at least one figure
    for figure in FIGURES.get(suite, []):
        assert figure in proc.stdout, figure
    assert (report.stat().st_mtime_ns if report.exists() else None) == before  # --no-write


def test_every_named_figure_belongs_to_a_benchmark() -> None:
    assert set(FIGURES) <= set(SUITES)
