"""The live plan window (:Np), its keys, and the statusline string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nvim_harness import Nvim

Plan = Callable[[], dict[str, Any]]
Session = Callable[..., list[str]]
RunNp = Callable[..., Any]


def test_np_toggles_a_window_with_goal_tasks_legend_and_footer(
    nvim: Nvim, session: Session, run_np: RunNp
) -> None:
    a, b = session("Write the parser", "Test it")
    assert run_np("t", "u", "-i", a, "-s", "in_progress").code == 0
    assert run_np("t", "w", "-i", b, "--after", a, "-r", "parse first").code == 0
    run = nvim("""
      T.setup()
      local wins = #vim.api.nvim_tabpage_list_wins(0)
      vim.cmd("Np")
      T.wait_window("Test it")
      T.ok(require("np.window").is_open(), "open")
      T.eq(#vim.api.nvim_tabpage_list_wins(0), wins + 1, "one more window")
      T.eq(vim.api.nvim_get_current_buf(), require("np.window").buf(), "focused")
      T.ok(not vim.bo.modifiable, "read-only")
      T.out("lines", require("np.window").lines())
      vim.cmd("Np")
      T.ok(not require("np.window").is_open(), "closed by the second :Np")
      T.eq(#vim.api.nvim_tabpage_list_wins(0), wins)
      vim.cmd("Np")
      T.wait(function() return require("np.window").is_open() end, "reopened")
      T.no_errors()
    """)
    lines = run.out["lines"]
    assert lines[0].endswith("· 0/2")
    assert "Goal: Ship it" in lines
    assert "Issue 5: the Neovim plugin." in lines
    # who holds a task in progress (its claim) and what a task waits for, as the CLI shows
    held = [line for line in lines if line.startswith(f"⟳ {a} Write the parser  [agent until ")]
    assert len(held) == 1 and held[0].endswith("Z]"), lines
    assert f"☐ {b} Test it  [after {a}]" in lines
    assert "Legend: ☐ pending ⟳ in progress ☑ completed" in lines
    assert (
        lines[-1] == "s cycle · f fail · x cancel · a add · e edit · A answer · r refresh · q close"
    )


def test_the_window_without_a_session_says_how_to_start(nvim: Nvim) -> None:
    nvim("""
      T.setup({ window = { position = "bottom", size = 8 } })
      vim.cmd("Np")
      T.wait_window("No active session")
      T.eq(vim.api.nvim_win_get_height(0), 8, "the bottom window's height")
      T.eq(vim.api.nvim_win_get_width(0), vim.o.columns, "full width")
      T.contains(T.window_text(), ":NpStart")
      vim.cmd("NpStart")
      T.wait_window("Goal: (not set)")
      T.no_errors()
    """)


def test_a_cli_write_in_another_process_shows_up_live(
    nvim: Nvim, session: Session, run_np: RunNp
) -> None:
    (a,) = session("one")
    running = nvim.start(f"""
      T.setup()
      vim.cmd("Np")
      T.wait_window("one")
      T.signal("ready")
      -- No user action from here on: only np/didChange can bring these in.
      T.wait_window("Added by the agent")
      T.wait_window("☑ {a} one")
      T.eq(require("np").status(), "np 1/2")
      T.no_errors()
    """)
    running.wait_signal("ready")
    assert run_np("t", "a", "-t", "Added by the agent").code == 0
    assert run_np("t", "u", "-i", a, "-s", "completed").code == 0
    running.finish().check()


def test_keys_cycle_fail_add_edit_refresh_close(
    nvim: Nvim, session: Session, plan_json: Plan, run_np: RunNp
) -> None:
    a, b = session("one", "two")
    nvim(f"""
      T.setup()
      vim.cmd("Np")
      T.wait_window("two")

      T.cursor_on("{a}")
      vim.cmd("normal s")
      T.wait_window("⟳ {a}")
      T.eq(vim.api.nvim_win_get_cursor(0)[1], T.cursor_on("{a}"), "cursor stays on the task")
      vim.cmd("normal s")
      T.wait_window("☑ {a}")
      vim.cmd("normal s")
      T.wait_window("☐ {a}")

      T.cursor_on("{b}")
      T.answer("the API changed")
      vim.cmd("normal f")
      T.wait_window("☒ {b}")
      T.contains(T.window_text(), "☒ failed", "the legend names failed now")
      T.contains(T.window_text(), "☒ {b} two\\n    reason: the API changed\\n", "why, under it")
      vim.cmd("normal s") -- a failed task re-opens
      T.wait_window("☐ {b}")
      T.ok(not T.window_text():find("reason:", 1, true), "a reopened task shows no reason")
      T.answer("dropped")
      vim.cmd("normal x")
      T.wait_window("⊗ {b}")
      T.contains(T.window_text(), "⊗ {b} two\\n    reason: dropped\\n")

      T.answer("Third", "")
      vim.cmd("normal a")
      T.wait_window("Third")

      T.cursor_on("{a}")
      vim.cmd("normal e")
      T.wait(function() return vim.fn.bufnr("np://task/{a}") ~= -1 end, "the edit buffer")
      vim.api.nvim_buf_set_lines(0, 0, 1, false, {{ "one (edited)" }})
      T.answer("typo")
      vim.cmd("write")
      T.wait_note("edited {a}")
      T.wait_window("one (edited)")

      vim.api.nvim_set_current_win(require("np.window").win())
      vim.cmd("normal r")
      vim.wait(200)
      vim.cmd("normal q")
      T.ok(not require("np.window").is_open(), "q closes the window")
      T.no_errors()
    """)
    tasks = plan_json()["tasks"]
    assert [(t["title"], t["status"]) for t in tasks] == [
        ("one (edited)", "pending"),
        ("two", "cancelled"),
        ("Third", "pending"),
    ]
    reasons = [e["reason"] for e in run_np("log", "--json").json()["events"] if e["reason"]]
    assert reasons == ["typo", "dropped", "the API changed"]


def test_fail_key_cancelled_prompt_changes_nothing(
    nvim: Nvim, session: Session, plan_json: Plan
) -> None:
    (a,) = session("one")
    before = plan_json()
    nvim(f"""
      T.setup()
      vim.cmd("Np")
      T.wait_window("one")
      T.cursor_on("{a}")
      T.answer(nil)
      vim.cmd("normal f")
      vim.wait(300)
      T.no_errors()
    """)
    assert plan_json() == before


def test_status_is_empty_without_a_session_and_counts_completed(
    nvim: Nvim, session: Session, run_np: RunNp
) -> None:
    run = nvim("""
      T.setup({ autostart = true })
      T.wait(function() return require("np").cached() == false end, "no session known")
      T.out("none", require("np").status())
    """)
    assert run.out["none"] == ""

    a, _, _ = session("one", "two", "three")
    assert run_np("t", "u", "-i", a, "-s", "completed").code == 0
    nvim("""
      T.setup({ autostart = true })
      -- autostart: no command run, the statusline string still fills in
      T.wait(function() return require("np").status() == "np 1/3" end, "np 1/3")
    """)
