"""``make demo``'s script (examples/agent_demo.py), run for real: a real ``np serve`` on a
temporary database. Every section it announces prints what the server answered (issue 18:
"np.goal.set" and "np.task.add" printed nothing), and its docstring says what it does."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "agent_demo.py"


def test_every_section_of_the_demo_shows_something(tmp_path: Path) -> None:
    env = {**os.environ, "NP_DB": str(tmp_path / "np.db"), "NP_DEMO_DIR": str(tmp_path / "p")}
    env.pop("NP_ACTOR", None)
    proc = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sections = proc.stdout.split("\n== ")[1:]
    assert len(sections) >= 7
    for section in sections:
        title, _, body = section.partition("\n")
        assert body.strip(), f"section {title!r} prints nothing"
    text = proc.stdout
    assert "refused as expected: reason_required" in text
    assert "cancelled with its reason" in text
    assert "reason: old sessions expire on their own in 24 h" in text
    # the operator's CLI change reaches the agent live, then once in its next plan
    assert "np/didChange" in text and "'type': 'task_added'" in text
    assert "Changed by others since you last looked (1 change):\n  #9 operator: task" in text


def test_the_demo_docstring_matches_what_it_does() -> None:
    doc = ast.get_docstring(ast.parse(DEMO.read_text())) or ""
    source = DEMO.read_text()
    assert "cancelling one" in doc and '"cancelled"' in source
    assert "failing one" not in doc and '"status": "failed"' not in source
