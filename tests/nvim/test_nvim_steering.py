"""Issue 23 in Neovim (real headless Neovim, real ``np serve``): an agent's question is
announced, shows under its task in the plan window and is answered with the plan window's
``A`` key (a choice) or ``:NpAnswer`` (words); the agent's next output starts with it, once.
The receipt of Neovim's own change shows under the task: not yet seen by the agent until it
reads, then seen — live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nvim_harness import Nvim

Session = Callable[..., list[str]]
RunNp = Callable[..., Any]


def test_a_question_is_announced_shown_and_answered_with_a_key(
    nvim: Nvim, session: Session, run_np: RunNp
) -> None:
    a, b = session("Pick the dialect", "Write docs")
    asked = run_np("--actor", "claude-code", "t", "q", "-i", a, "-q", "Which dialect?",
                   "-o", "excel", "-o", "rfc4180")  # fmt: skip
    assert asked.code == 0, asked
    run = nvim(f"""
      T.setup()
      vim.cmd("Np")
      T.wait_window("? claude-code asks: Which dialect? [excel | rfc4180]")
      T.wait_note(":NpAnswer {a}")
      T.cursor_on("{a}")
      T.choose("rfc4180")
      vim.api.nvim_feedkeys("A", "x", false)
      T.wait_note("answered {a}")
      T.wait(function() return not T.window_text():find("asks:", 1, true) end, "the question gone")
      T.out("lines", require("np.window").lines())
      T.out("prompts", T.prompts)
      T.no_errors()
    """)
    assert run.out["prompts"] == ["claude-code asks: Which dialect? [excel | rfc4180]"]
    assert run.out["lines"][-1].endswith("A answer · r refresh · q close")
    out = run_np("--actor", "claude-code", "p").out
    assert out.startswith(f"Answer from Neovim on {a}: rfc4180\n"), out
    assert "Answer from" not in run_np("--actor", "claude-code", "p").out
    assert run_np("--actor", "claude-code", "t", "q", "-i", b, "-q", "Docs where?").code == 0
    nvim(f"""
      T.setup()
      vim.cmd("NpAnswer {b} in the README, please")
      T.wait_note("answered {b}")
      T.no_errors()
    """)
    out = run_np("--actor", "claude-code", "p").out
    assert out.startswith(f"Answer from Neovim on {b}: in the README, please\n"), out


def test_the_receipt_of_an_own_change_turns_seen_when_the_agent_reads(
    nvim: Nvim, session: Session, run_np: RunNp
) -> None:
    a, _b = session("one", "two")
    assert run_np("p").code == 0  # the agent works on this plan
    running = nvim.start(f"""
      T.setup()
      vim.cmd("Np")
      T.wait_window("{a} one")
      vim.cmd("NpStatus {a} in_progress")
      T.wait_window("your change: not yet seen — agent")
      T.signal("unseen")
      T.wait_window("your change: seen by agent", 15000)
      T.out("lines", require("np.window").lines())
      T.no_errors()
    """)
    running.wait_signal("unseen")
    assert run_np("p").code == 0  # the agent's read
    run = running.finish().check()
    assert any(line.startswith("    your change: seen by agent ") for line in run.out["lines"])
