"""Each user command end to end: Neovim → plugin → `np serve` → SQLite, checked via the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nvim_harness import Nvim

Plan = Callable[[], dict[str, Any]]
Session = Callable[..., list[str]]


def test_np_start_starts_a_session_in_the_working_directory(
    nvim: Nvim, plan_json: Plan, workdir: Path
) -> None:
    nvim("""
      T.setup()
      vim.cmd("NpStart")
      T.wait_note("session started in")
      T.no_errors()
      T.eq(require("np").status(), "np 0/0")
    """)
    plan = plan_json()
    assert plan["session"]["state"] == "active"
    assert plan["session"]["dir"] == str(workdir.resolve())
    assert plan["goal"] is None


def test_np_start_twice_reports_the_active_session(nvim: Nvim, session: Session) -> None:
    session()
    nvim("""
      T.setup()
      vim.cmd("NpStart")
      local note = T.wait_note("np: ", vim.log.levels.ERROR)
      T.ok(not note.msg:find("\\n"), "one line: " .. note.msg)
      T.contains(note.msg:lower(), "already")
    """)


def test_np_goal_sets_title_and_asks_for_the_description(
    nvim: Nvim, session: Session, plan_json: Plan
) -> None:
    session(goal=False)
    run = nvim("""
      T.setup()
      T.answer("Read issue 5 and editors/nvim/lua/np/init.lua.")
      vim.cmd("NpGoal Ship the Neovim plugin")
      T.wait_note("goal set")
      T.no_errors()
      T.out("prompts", T.prompts)
    """)
    goal = plan_json()["goal"]
    assert goal["title"] == "Ship the Neovim plugin"
    assert goal["description"] == "Read issue 5 and editors/nvim/lua/np/init.lua."
    assert "description" in run.out["prompts"][0].lower()


def test_np_goal_without_a_title_asks_for_both(
    nvim: Nvim, session: Session, plan_json: Plan
) -> None:
    session(goal=False)
    run = nvim("""
      T.setup()
      T.answer("Prompted goal", "Prompted description")
      vim.cmd("NpGoal")
      T.wait_note("goal set")
      T.no_errors()
      T.out("prompts", T.prompts)
    """)
    goal = plan_json()["goal"]
    assert (goal["title"], goal["description"]) == ("Prompted goal", "Prompted description")
    assert len(run.out["prompts"]) == 2


def test_np_goal_without_a_description_sets_nothing(
    nvim: Nvim, session: Session, plan_json: Plan
) -> None:
    session(goal=False)
    nvim("""
      T.setup()
      T.answer(nil) -- the description prompt is cancelled
      vim.cmd("NpGoal A title")
      T.wait_note("needs a description")
    """)
    assert plan_json()["goal"] is None


def test_np_goal_on_a_set_goal_edits_it_with_a_reason(
    nvim: Nvim, session: Session, plan_json: Plan, run_np: Callable[..., Any]
) -> None:
    session()
    nvim("""
      T.setup()
      vim.cmd("NpGoal Ship it well")
      local buf = T.wait(function()
        local b = vim.fn.bufnr("np://goal")
        return b ~= -1 and b
      end, "the goal editing buffer")
      T.eq(vim.api.nvim_buf_get_lines(buf, 0, 1, false), { "Ship it well" })
      vim.api.nvim_buf_set_lines(buf, 2, -1, false, { "Issue 5, now with tests." })
      T.answer("the operator asked")
      vim.cmd("write")
      T.wait_note("goal changed")
      T.no_errors()
    """)
    goal = plan_json()["goal"]
    assert goal["title"] == "Ship it well"
    assert goal["description"] == "Issue 5, now with tests."
    log = run_np("log", "--json").json()["events"]
    assert log[0]["type"] == "goal_updated"
    assert log[0]["reason"] == "the operator asked"


def test_np_add_adds_a_task(nvim: Nvim, session: Session, plan_json: Plan) -> None:
    session()
    nvim("""
      T.setup()
      vim.cmd("NpAdd Write the parser")
      T.wait_note("added")
      T.answer("Prompted task", "with a description")
      vim.cmd("NpAdd")
      T.wait_note("Prompted task")
      T.no_errors()
    """)
    tasks = plan_json()["tasks"]
    assert [(t["title"], t["description"], t["status"]) for t in tasks] == [
        ("Write the parser", "", "pending"),
        ("Prompted task", "with a description", "pending"),
    ]


def test_np_status_changes_a_status_and_records_the_reason(
    nvim: Nvim, session: Session, plan_json: Plan, run_np: Callable[..., Any]
) -> None:
    a, b = session("one", "two")
    nvim(f"""
      T.setup()
      vim.cmd("NpStatus {a} in_progress")
      T.wait_note("{a}")
      vim.cmd("NpStatus {b.upper()} cancelled  not needed after all ")
      T.wait_note("{b}")
      T.no_errors()
    """)
    statuses = {t["id"]: t["status"] for t in plan_json()["tasks"]}
    assert statuses == {a: "in_progress", b: "cancelled"}
    last = run_np("log", "--json").json()["events"][0]
    assert last["type"] == "task_status_changed"
    assert last["reason"] == "not needed after all"
    assert last["cmd"].startswith("lsp:np.task.update")


def test_a_change_in_neovim_is_the_agents_next_notice_once(
    nvim: Nvim, session: Session, run_np: Callable[..., Any]
) -> None:
    """The steering wheel: the operator cancels a task in Neovim; the agent's very next CLI
    output starts with who did it, what and why — once."""
    _a, b = session("one", "two")
    nvim(f"""
      T.setup()
      vim.cmd("NpStatus {b} cancelled the operator dropped it")
      T.wait_note("{b}")
      T.no_errors()
    """)
    out = run_np("p").out
    assert out.startswith(
        "Changed by others since you last looked (1 change):\n"
        f'  #5 Neovim: task {b} "two": ☐ pending → ⊗ cancelled — reason: the operator dropped it\n'
        "\n"
    ), out
    assert f"⊗ {b} two\n    reason: the operator dropped it" in out
    assert "Changed by others" not in run_np("p").out
    assert run_np("log", "--json").json()["events"][0]["actor"] == "Neovim"


def test_np_status_failed_without_reason_changes_nothing(
    nvim: Nvim, session: Session, plan_json: Plan, run_np: Callable[..., Any]
) -> None:
    (a,) = session("one")
    before = plan_json()
    events_before = run_np("log", "--json").json()["events"]
    run = nvim(f"""
      T.setup()
      vim.cmd("NpStatus {a} failed")
      local note = T.wait_note("np: ", vim.log.levels.ERROR)
      T.out("error", note.msg)
    """)
    message = run.out["error"]
    # The store's sentence, then the next step in Neovim's commands, not the JSON door's
    # 'Give it in the "reason" field.' (issue 18).
    assert message == (
        f"np: A reason is required to mark task {a} failed. Give it: :NpStatus {a} failed "
        "{reason}, or f/x in the plan window, which ask for it."
    )
    assert plan_json() == before
    assert run_np("log", "--json").json()["events"] == events_before


def test_np_status_with_an_unknown_task_shows_the_servers_message(
    nvim: Nvim, session: Session
) -> None:
    session("one")
    nvim("""
      T.setup()
      vim.cmd("NpStatus zzzzzz completed")
      local note = T.wait_note("np: ", vim.log.levels.ERROR)
      T.contains(note.msg, "zzzzzz")
    """)


def test_task_ids_and_statuses_complete_with_tab(nvim: Nvim, session: Session) -> None:
    ids = session("one", "two")
    run = nvim("""
      T.setup({ autostart = true })
      T.wait(function() return require("np.client").state() == "ready" end, "client ready")
      T.out("status_ids", vim.fn.getcompletion("NpStatus ", "cmdline"))
      T.out("edit_ids", vim.fn.getcompletion("NpEdit ", "cmdline"))
      local first = vim.fn.getcompletion("NpStatus ", "cmdline")[1]
      T.out("statuses", vim.fn.getcompletion("NpStatus " .. first .. " ", "cmdline"))
      T.out("in_", vim.fn.getcompletion("NpStatus " .. first .. " in", "cmdline"))
      T.out("reason", vim.fn.getcompletion("NpStatus " .. first .. " failed ", "cmdline"))
    """)
    assert sorted(run.out["status_ids"]) == sorted(ids)
    assert sorted(run.out["edit_ids"]) == sorted(ids)
    assert run.out["statuses"] == ["pending", "in_progress", "completed", "failed", "cancelled"]
    assert run.out["in_"] == ["in_progress"]
    assert run.out["reason"] == []


def test_np_edit_saves_title_and_description_with_a_reason(
    nvim: Nvim, session: Session, plan_json: Plan, run_np: Callable[..., Any]
) -> None:
    (a,) = session("one")
    nvim(f"""
      T.setup()
      vim.cmd("NpEdit {a}")
      local buf = T.wait(function()
        local b = vim.fn.bufnr("np://task/{a}")
        return b ~= -1 and b
      end, "the task editing buffer")
      T.eq(vim.api.nvim_get_current_buf(), buf)
      T.eq(vim.api.nvim_buf_get_lines(buf, 0, -1, false), {{ "one", "" }})
      local text = {{ "One, renamed", "", "Line 1", "Line 2", "" }}
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, text)
      T.answer("clearer wording")
      vim.cmd("write")
      T.wait_note("edited {a}")
      T.wait(function() return vim.fn.bufnr("np://task/{a}") == -1 end, "the buffer to close")
      T.no_errors()
    """)
    (task,) = plan_json()["tasks"]
    assert task["title"] == "One, renamed"
    assert task["description"] == "Line 1\nLine 2"
    last = run_np("log", "--json").json()["events"][0]
    assert last["type"] == "task_updated"
    assert last["reason"] == "clearer wording"


def test_np_edit_without_a_reason_keeps_the_buffer_and_the_task(
    nvim: Nvim, session: Session, plan_json: Plan
) -> None:
    (a,) = session("one")
    nvim(f"""
      T.setup()
      vim.cmd("NpEdit {a}")
      local buf = T.wait(function()
        local b = vim.fn.bufnr("np://task/{a}")
        return b ~= -1 and b
      end, "the task editing buffer")
      vim.api.nvim_buf_set_lines(buf, 0, 1, false, {{ "changed" }})
      T.answer("")
      vim.cmd("write")
      local note = T.wait_note("np: ", vim.log.levels.ERROR)
      T.contains(note.msg:lower(), "reason")
      T.ok(vim.api.nvim_buf_is_valid(buf), "the edit buffer stays open")
      T.ok(vim.bo[buf].modified, "and still modified")
    """)
    assert plan_json()["tasks"][0]["title"] == "one"


def test_np_archive_asks_first(nvim: Nvim, session: Session, run_np: Callable[..., Any]) -> None:
    session("one")
    run = nvim("""
      T.setup()
      T.choose("Cancel")
      vim.cmd("NpArchive")
      vim.wait(300)
      T.choose("Archive")
      vim.cmd("NpArchive")
      T.wait_note("session archived")
      T.no_errors()
      T.eq(require("np").status(), "")
      T.out("prompts", T.prompts)
    """)
    assert len(run.out["prompts"]) == 2
    assert "archive" in run.out["prompts"][0].lower()
    result = run_np("p")
    assert result.code == 1  # no active session any more
    archived = run_np("ls", "--all", "--json").json()["sessions"]
    assert [s["state"] for s in archived] == ["archived"]


def test_np_archive_cancelled_keeps_the_session(
    nvim: Nvim, session: Session, plan_json: Plan
) -> None:
    session("one")
    nvim("""
      T.setup()
      T.choose("Cancel")
      vim.cmd("NpArchive")
      vim.wait(500)
      T.no_errors()
    """)
    assert plan_json()["session"]["state"] == "active"


def test_np_export_opens_markdown_in_a_new_buffer(nvim: Nvim, session: Session) -> None:
    (a,) = session("one")
    run = nvim("""
      T.setup()
      local before = vim.api.nvim_get_current_buf()
      vim.cmd("NpExport")
      T.wait(function() return vim.api.nvim_get_current_buf() ~= before end, "a new buffer")
      T.out("filetype", vim.bo.filetype)
      T.out("text", T.buf_text())
      T.out("windows", #vim.api.nvim_tabpage_list_wins(0))
      vim.cmd("NpExport json")
      T.wait(function() return vim.bo.filetype == "json" end, "the JSON export")
      T.out("json", T.buf_text())
    """)
    assert run.out["filetype"] == "markdown"
    assert run.out["windows"] == 2
    text = run.out["text"]
    assert text.startswith("# Ship it")
    assert f"`{a}` **one**" in text
    assert "## Event log" in text
    assert '"np_export": 1' in run.out["json"]


def test_np_log_lists_events_newest_first(nvim: Nvim, session: Session) -> None:
    (a,) = session("one")
    run = nvim(f"""
      T.setup()
      vim.cmd("NpStatus {a} failed it broke")
      T.wait_note("{a}")
      vim.cmd("NpLog")
      T.wait(function() return vim.fn.bufnr("np://log") ~= -1 end, "the log buffer")
      T.out("lines", vim.api.nvim_buf_get_lines(vim.fn.bufnr("np://log"), 0, -1, false))
      T.out("current", vim.api.nvim_buf_get_name(0))
    """)
    lines = run.out["lines"]
    assert lines[0].startswith("#4 ")
    assert f"task {a}" in lines[0]
    assert "☐ pending → ☒ failed" in lines[0]
    assert "reason: it broke" in lines[0]
    assert lines[-1].startswith("#1 ") and "session started" in lines[-1]
    assert run.out["current"].endswith("np://log")


def test_commands_without_a_session_report_one_line(nvim: Nvim) -> None:
    run = nvim("""
      T.setup()
      vim.cmd("NpAdd orphan")
      local note = T.wait_note("np: ", vim.log.levels.ERROR)
      T.out("error", note.msg)
      T.eq(require("np").status(), "")
    """)
    message = run.out["error"]
    assert "\n" not in message
    assert "session" in message.lower()
    assert message.endswith("Start one with :NpStart.")


def test_a_missing_server_is_reported_not_raised(nvim: Nvim) -> None:
    run = nvim("""
      T.setup({ cmd = { "/nonexistent/np", "serve" } })
      vim.cmd("NpStart")
      local note = T.wait_note("np: ", vim.log.levels.ERROR)
      T.out("error", note.msg)
    """)
    assert "/nonexistent/np" in run.out["error"]
    assert "not found" in run.out["error"]


def test_db_option_points_the_server_at_a_database(
    nvim: Nvim, tmp_path: Path, run_np: Callable[..., Any]
) -> None:
    other = tmp_path / "other" / "np.db"
    env: dict[str, str | None] = {"NP_DB": None}
    nvim(
        f"""
      T.setup({{ db = {str(other)!r} }})
      vim.cmd("NpStart")
      T.wait_note("session started")
      T.no_errors()
    """,
        env=env,
    )
    assert other.exists()
    plan = run_np("p", "--json", "--db", str(other)).json()
    assert plan["session"]["state"] == "active"
    assert run_np("p").code == 1  # nothing in the default test database


def every_server_error() -> list[dict[str, Any]]:
    """Every error the server can send with a next step of its JSON door (server.text.hints:
    each (kind, field/action/moved/archived) of its table, and a missing required field),
    as the server sends it: the message with the JSON door's hint, data with the detail."""
    from server.text.hints import JSON, with_hint

    cases: list[dict[str, Any]] = []
    for kind, key in JSON:
        data: dict[str, Any] = {"kind": kind, "id": "t1", "status": "failed"}
        if key == "moved":
            data["moved"] = {"sid": "01MOVED", "from": "/old"}
        elif key == "archived":
            data["archived"] = {"sid": "01ARCH", "by": "someone"}
        elif key is not None and "." in key:
            data["action"] = key
        elif key is not None:
            data["field"] = key
        if kind == "reason_required":
            data["action"] = "task.status"
        cases.append(data)
    cases.append({"kind": "invalid_argument", "field": "title", "required": True})
    cases.append({"kind": "reason_required", "field": "reason", "action": "goal.change"})
    cases.append({"kind": "reason_required", "field": "reason", "action": "task.edit"})
    for data in cases:
        data["detail"] = "The neutral sentence."
        data["message"] = with_hint("The neutral sentence.", "json", data["kind"], data)
    return cases


def test_every_error_the_plugin_shows_is_in_its_own_terms(nvim: Nvim) -> None:
    """No error reaches the user in another door's words: no JSON field or np.* method."""
    cases = every_server_error()
    assert any("field" in c["message"] for c in cases)  # the server's own wording is JSON's
    run = nvim(f"""
      local cases = vim.fn.json_decode({json.dumps(json.dumps(cases))})
      local out = {{}}
      for _, c in ipairs(cases) do
        local data = vim.deepcopy(c)
        data.message = nil
        local err = {{ code = 1001, message = c.message, data = data }}
        table.insert(out, require("np.client").message(err))
      end
      T.out("messages", out)
    """)
    messages = run.out["messages"]
    assert len(messages) == len(cases)
    for case, message in zip(cases, messages, strict=True):
        assert message.startswith("The neutral sentence."), (case, message)
        assert not re.search(r"\bnp\.[a-z_]+\.|\"[a-z_]+\" field|\{\"", message), (case, message)
        rest = message.removeprefix("The neutral sentence.").strip()
        # the next step names a Neovim command (:Np…, :w, the setup option) or a shell np
        assert not rest or re.search(r":Np|`np |:w|setup\(", rest), (case, message)
    by_kind = {c["kind"]: m for c, m in zip(cases, messages, strict=True)}
    assert by_kind["goal_not_set"].endswith("Set it with :NpGoal {title}.")
    for kind in ("changed_since_seen", "task_claimed", "dependency_refused"):  # issue 21's
        assert ":Np" in by_kind[kind], by_kind[kind]
