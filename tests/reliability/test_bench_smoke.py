"""The benchmark suite at least runs: ``python -m bench --dry-run`` (tiny sizes, nothing
written). Its figures are not checked here — benchmarks are never pass/fail."""

from __future__ import annotations

import subprocess
import sys

from reliability_support import ROOT


def test_bench_dry_run_runs_every_benchmark():
    report = ROOT / "BENCHMARKS.md"
    before = report.stat().st_mtime_ns if report.exists() else None
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--dry-run", "--no-write"],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout
    for figure in (
        "CLI write",
        "Server write round trips",
        "np/didChange",
        "Idle server CPU",
        "concurrent writer processes",
        "Scale",
        "MCP tool call round trip",
        "5-task agent flow over MCP",
        "PostgreSQL",
    ):
        assert figure in table, figure
    assert (report.stat().st_mtime_ns if report.exists() else None) == before  # --no-write
