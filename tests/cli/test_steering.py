"""Closed-loop steering (issue 23) through the real ``np`` on both engines: receipts (which
actors working on a plan have seen each change, and when), asks (a question on a task, the
operator's answer delivered once, first, in the asking agent's next output; withdrawn; two
agents; an archived session) and evidence on "done" (git facts at in progress and
completed: a change, no change, a folder that is not a git work tree, no git at all; an
archive that leaves tasks open)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NpRunner


@pytest.fixture
def np_env(np_db: str) -> dict[str, str]:
    env = {**os.environ, "NP_DB": np_db, "NP_ACTOR": "agent"}  # one name on both engines
    env.pop("NP_DEBUG", None)
    return env


def _plan(run_np: NpRunner, *titles: str) -> list[str]:
    assert run_np("s").code == 0
    assert run_np("g", "s", "-t", "Goal", "-d", "The goal, described").code == 0
    args = [w for t in titles for w in ("-t", t)]
    added = run_np("t", "a", "--json", *args)
    assert added.code == 0, added
    return list(added.json()["added"])


def _receipts(run_np: NpRunner, seq: int) -> list[dict[str, object]]:
    log = run_np("--actor", "ana", "--json", "log", "-n", "100").json()
    return next(e["receipts"] for e in log["events"] if e["seq"] == seq)


def _newest_seq(run_np: NpRunner) -> int:
    return int(run_np("--actor", "ana", "--json", "log", "-n", "1").json()["events"][0]["seq"])


# -- receipts ----------------------------------------------------------------------------


def test_an_operator_change_is_unseen_until_the_agent_reads_then_seen_with_a_time(
    run_np: NpRunner,
) -> None:
    (first, _second) = _plan(run_np, "one", "two")
    assert run_np("--actor", "ana", "p").code == 0  # the operator works on this plan too
    changed = run_np("--actor", "ana", "t", "u", "-i", first, "-s", "cancelled", "-r", "dup")
    assert changed.code == 0, changed
    seq = _newest_seq(run_np)
    before = _receipts(run_np, seq)
    assert [(r["actor"], r["seen"], r["seen_at"]) for r in before] == [("agent", False, None)]
    assert before[0]["last_looked"] is not None  # when the agent last read or wrote
    text = run_np("--actor", "ana", "log", "-n", "1").out
    assert "not yet seen — agent last looked" in text, text

    assert "ana" in run_np("p").out  # the agent's read: the notice, then the plan
    after = _receipts(run_np, seq)
    assert [(r["actor"], r["seen"]) for r in after] == [("agent", True)]
    assert isinstance(after[0]["seen_at"], str) and after[0]["seen_at"].endswith("Z")
    assert "seen by agent" in run_np("--actor", "ana", "log", "-n", "1").out
    # The agent's own events carry the operator's receipt, not the agent's.
    own = _receipts(run_np, 2)
    assert [r["actor"] for r in own] == ["ana"] and own[0]["seen"] is True


def test_an_actor_that_never_looked_at_a_plan_has_no_receipt(run_np: NpRunner) -> None:
    _plan(run_np, "one")
    assert _receipts(run_np, 1) == []  # only the agent works on it (ana's log is a read
    # of the log, not of the plan: it does not make ana an actor of this plan)


# -- asks -------------------------------------------------------------------------------


def test_a_question_is_answered_and_reaches_the_agent_once_first(run_np: NpRunner) -> None:
    (first, _second) = _plan(run_np, "one", "two")
    asked = run_np("t", "q", "-i", first, "-q", "Which CSV dialect?", "-o", "excel", "-o", "rfc")
    assert asked.code == 0, asked
    assert asked.out.strip() == "Asked; keep working."
    # Nothing blocks: the agent keeps working, and the plan shows the open question.
    shown = run_np("p").out
    assert "? agent asks: Which CSV dialect? [excel | rfc]" in shown, shown
    assert "? agent asks: Which CSV dialect?" in run_np("r").out
    task = run_np("t", "--json").json()["tasks"][0]
    assert task["ask"]["question"] == "Which CSV dialect?"
    assert task["ask"]["choices"] == ["excel", "rfc"] and task["ask"]["by"] == "agent"

    listed = run_np("--actor", "ana", "q")
    assert listed.code == 0 and "1 open question" in listed.out and first in listed.out, listed
    as_json = run_np("--actor", "ana", "--json", "q").json()["questions"]
    assert [(q["task_id"], q["by"]) for q in as_json] == [(first, "agent")]

    answered = run_np("--actor", "ana", "q", "a", "-i", first, "-a", "excel")
    assert answered.code == 0, answered
    assert "agent gets the answer first in its next output" in answered.out
    seq = _newest_seq(run_np)
    assert [(r["actor"], r["seen"]) for r in _receipts(run_np, seq)] == [("agent", False)]

    nxt = run_np("t", "u", "-i", first, "-s", "in_progress")
    assert nxt.code == 0, nxt
    assert nxt.out.startswith(f"Answer from ana on {first}: excel\n"), nxt.out
    assert "Changed by others" not in nxt.out  # the answer is the whole news, said once
    again = run_np("p").out
    assert "Answer from" not in again and "? agent asks" not in again
    assert [(r["actor"], r["seen"]) for r in _receipts(run_np, seq)] == [("agent", True)]
    assert run_np("--actor", "ana", "q").out.strip() == "No open questions."


def test_the_answer_is_data_in_json_once(run_np: NpRunner) -> None:
    (first,) = _plan(run_np, "one")
    assert run_np("t", "q", "-i", first, "-q", "Free text?").code == 0
    assert run_np("--actor", "ana", "q", "a", "-i", first, "-a", "line one\nline two").code == 0
    got = run_np("--json", "p").json()
    assert [(a["task_id"], a["answer"], a["by"], a["choice"]) for a in got["answers"]] == [
        (first, "line one\nline two", "ana", False)
    ]
    assert got["notice"].startswith(f"Answer from ana on {first}:\n  line one\n  line two")
    assert "answers" not in run_np("--json", "p").json()


def test_withdrawn_question_is_gone_and_cannot_be_answered(run_np: NpRunner) -> None:
    (first,) = _plan(run_np, "one")
    assert run_np("t", "q", "-i", first, "-q", "Still needed?").code == 0
    gone = run_np("t", "q", "-i", first, "--withdraw")
    assert gone.code == 0 and "withdrawn" in gone.out, gone
    assert "?" not in run_np("p").out.split("Legend")[0].replace("Goal", "")
    late = run_np("--actor", "ana", "q", "a", "-i", first, "-a", "yes")
    assert late.code == 2 and "no open question" in late.err, late
    assert "question withdrawn" in run_np("--actor", "ana", "log").out
    again = run_np("t", "q", "-i", first, "--withdraw")
    assert again.code == 2 and "no open question to withdraw" in again.err


def test_two_agents_ask_at_once_and_each_gets_only_its_own_answer(run_np: NpRunner) -> None:
    (first, second) = _plan(run_np, "one", "two")
    a1, a2 = {"NP_ACTOR": "claude-code"}, {"NP_ACTOR": "codex"}
    assert run_np("p", env=a2).code == 0
    assert run_np("t", "q", "-i", first, "-q", "Q1?", env=a1).code == 0
    assert run_np("t", "q", "-i", second, "-q", "Q2?", env=a2).code == 0
    taken = run_np("t", "q", "-i", first, "-q", "Mine?", env=a2)
    assert taken.code == 2 and "already has an open question from claude-code" in taken.err
    assert run_np("--actor", "ana", "q", "a", "-i", second, "-a", "A2").code == 0
    assert run_np("--actor", "ana", "q", "a", "-i", first, "-a", "A1").code == 0
    out1 = run_np("p", env=a1).out
    out2 = run_np("p", env=a2).out
    assert (
        out1.startswith(f"Answer from ana on {first}: A1\n")
        and "A2" not in out1.split("Changed by others")[0]
    ), out1
    assert out2.startswith(f"Answer from ana on {second}: A2\n"), out2
    assert "Answer from" not in run_np("p", env=a1).out + run_np("p", env=a2).out


def test_an_answer_for_a_session_archived_meanwhile_is_refused_plainly(
    run_np: NpRunner,
) -> None:
    (first,) = _plan(run_np, "one")
    sid = run_np("--json", "p").json()["session"]["sid"]
    assert run_np("t", "q", "-i", first, "-q", "Go on?").code == 0
    archived = run_np("--actor", "ana", "a")
    assert (
        archived.code == 0
        and "1 task open" in run_np("--actor", "ana", "log", "--session", sid).out
    )
    late = run_np("--actor", "ana", "q", "a", "--session", sid, "-i", first, "-a", "yes")
    assert late.code == 1 and "archived" in late.err, late
    assert run_np("--actor", "ana", "q", "--all").out.strip() == "No open questions."


def test_bad_questions_are_refused_with_the_field(run_np: NpRunner) -> None:
    (first,) = _plan(run_np, "one")
    for args, field in (
        (["-q", "   "], "question"),
        (["-q", "two\nlines"], "question"),
        (["-q", "ok?", "-o", "a", "-o", "a"], "choices"),
        (["-q", "x" * 501], "question"),
    ):
        r = run_np("--json", "t", "q", "-i", first, *args)
        assert r.code == 2 and r.json()["error"]["data"]["field"] == field, (args, r)
    missing = run_np("t", "q", "-i", first)
    assert missing.code == 2 and "-q" in missing.err
    assert run_np("t", "q", "-i", "zzzzzz", "-q", "x?").code == 1  # no such task
    assert "asks" not in run_np("p").out


# -- evidence on "done" -------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def _status_event(run_np: NpRunner, task_id: str, status: str) -> dict[str, object]:
    log = run_np("--actor", "ana", "--json", "log", "-n", "100").json()["events"]
    return next(
        e["payload"]
        for e in log
        if e["type"] == "task_status_changed"
        and e["payload"]["task_id"] == task_id
        and e["payload"]["status_after"] == status
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_completion_records_whether_the_tree_changed(run_np: NpRunner, workdir: Path) -> None:
    _git(workdir, "init", "-q")
    (workdir / "a.txt").write_text("a\n")
    _git(workdir, "add", "a.txt")
    _git(workdir, "commit", "-qm", "first")
    (idle, busy) = _plan(run_np, "review", "build")

    assert run_np("t", "u", "-i", idle, "-s", "in_progress").code == 0
    started = _status_event(run_np, idle, "in_progress")["git"]
    assert isinstance(started, dict) and len(started["head"]) == 40 and started["dirty"] == 0
    assert run_np("t", "u", "-i", idle, "-s", "completed").code == 0
    done = _status_event(run_np, idle, "completed")["git"]
    assert isinstance(done, dict)
    assert done["change"] == {"changed": False, "files": 0, "commits": 0}
    assert "(no change in the working tree)" in run_np("--actor", "ana", "log").out

    assert run_np("t", "u", "-i", busy, "-s", "in_progress").code == 0
    (workdir / "a.txt").write_text("a, changed\n")
    (workdir / "b.txt").write_text("new\n")
    _git(workdir, "add", "a.txt", "b.txt")
    _git(workdir, "commit", "-qm", "second")
    (workdir / "c.txt").write_text("untracked\n")
    assert run_np("t", "u", "-i", busy, "-s", "completed").code == 0
    done = _status_event(run_np, busy, "completed")["git"]
    assert isinstance(done, dict)
    assert done["change"] == {"changed": True, "files": 3, "commits": 1}
    assert "(3 files changed, 1 commit)" in run_np("--actor", "ana", "log").out


def test_a_folder_outside_git_and_a_machine_without_git_say_so(
    run_np: NpRunner, tmp_path: Path, workdir: Path
) -> None:
    (first, second) = _plan(run_np, "one", "two")
    assert run_np("t", "u", "-i", first, "-s", "in_progress").code == 0
    assert run_np("t", "u", "-i", first, "-s", "completed").code == 0
    done = _status_event(run_np, first, "completed")["git"]
    assert done == {
        "skipped": "not a git repository",
        "change": {"skipped": "not a git repository"},
    }
    assert "skipped" not in run_np("--actor", "ana", "log").out  # outside git: no words

    if shutil.which("git") is None:
        return
    _git(workdir, "init", "-q")  # now a work tree, on a machine whose PATH has no git
    no_git = tmp_path / "bin"  # (np itself is started by its full path)
    no_git.mkdir()
    env = {"PATH": str(no_git)}
    moved = run_np("t", "u", "-i", second, "-s", "in_progress", env=env)
    assert moved.code == 0, moved
    assert _status_event(run_np, second, "in_progress")["git"] == {
        "skipped": "git is not installed"
    }


def test_archiving_with_open_tasks_is_said_plainly(run_np: NpRunner) -> None:
    (first, _second, third) = _plan(run_np, "one", "two", "three")
    moved = run_np("t", "u", "-i", first, "-s", "in_progress", "-i", third, "-s", "completed")
    assert moved.code == 0, moved
    sid = run_np("--json", "p").json()["session"]["sid"]
    assert run_np("--actor", "ana", "a").code == 0
    log = run_np("--actor", "ana", "log", "--session", sid, "-n", "1").out
    assert "session archived with 2 tasks open (1 pending, 1 in progress)" in log, log
