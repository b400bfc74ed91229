"""The README's agent-harness example (harness_example.py) runs as printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from serve_support import server_env

EXAMPLE = Path(__file__).with_name("harness_example.py")


def test_readme_harness_example_runs(tmp_path: Path) -> None:
    env = server_env(tmp_path / "np.db")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert 3 <= out.count("changed: {") <= 4  # one per commit; a poll may merge two
    assert "'type': 'task_status_changed'" in out
    assert "Goal: Fix the login bug" in out
    assert "error: {'code': 1006" in out and "'kind': 'reason_required'" in out
    assert out.rstrip().endswith("exit code 0")
