"""The agent flow with one question and one answer stays under 5 kB of output (issue 23):
``bench/output_budget.py``'s flow run for real — start, goal, five tasks, their statuses, a
question to the operator (``np t q``), the operator's answer (not the agent's output), the
answer first in the agent's next output, an edit, a goal change, resume."""

from __future__ import annotations

from pathlib import Path

from bench.output_budget import TARGET_BYTES, run_flow


def test_the_flow_with_one_question_and_one_answer_is_under_5_kb(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    outputs = run_flow(project, tmp_path / "np.db", long_description=False)
    total = sum(n for _, n, _ in outputs)
    asked = [text for line, _, text in outputs if line.startswith("np t q")]
    assert len(asked) == 1 and asked[0].startswith("Asked; keep working.")
    answered = [text for _, _, text in outputs if text.startswith("Answer from ana on ")]
    assert len(answered) == 1, "the answer reaches the agent once, first"
    assert total < TARGET_BYTES, f"{total:,} bytes"
