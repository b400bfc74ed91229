"""Many agents on one plan, through the real ``np`` on both engines (issue 21): no blind
overrides (``changed_since_seen``), dependencies and readiness, claims with leases, ``np
next`` racing across processes, notices never lost, idempotency keys."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support import np_command


class Np:
    """``np`` on one database, in one project folder, as one actor."""

    def __init__(self, db: str, project: Path, env: dict[str, str]) -> None:
        self.db, self.project, self.env = db, project, env

    def __call__(
        self, *args: str, actor: str = "agent", stdout: Any = subprocess.PIPE
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "NP_DB": self.db, "NP_ACTOR": actor}
        return subprocess.run(
            [*np_command(), *args],
            cwd=str(self.project),
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str, actor: str = "agent") -> str:
        p = self(*args, actor=actor)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return p.stdout

    def json(self, *args: str, actor: str = "agent") -> Any:
        return json.loads(self.ok("--json", *args, actor=actor))


@pytest.fixture
def np(np_db: str, workdir: Path, np_env: dict[str, str]) -> Np:
    tool = Np(np_db, workdir, np_env)
    tool.ok("s")
    tool.ok("g", "s", "-t", "Ship the export", "-d", "Issue #42: reports/export.py")
    return tool


def test_a_blind_override_is_refused_shown_then_accepted(np: Np) -> None:
    x, y = np.json("t", "a", "-t", "Support .xlsx", "-t", "Stream reports")["added"]
    np.ok("p")  # the agent has seen everything
    np.ok("p", actor="ana")
    np.ok("t", "u", "-i", x, "-s", "cancelled", "-r", "The operator: xlsx is out", actor="ana")
    blind = np("t", "u", "-i", x, "-s", "completed")
    assert blind.returncode == 1, blind
    assert blind.stdout == ""
    assert blind.stderr.startswith(f"np: ana changed task {x} after you last looked;")
    assert "nothing was written" in blind.stderr
    assert "run the same command again" in blind.stderr
    # shown exactly as a notice shows it, with the reason
    assert "Changed by others since you last looked (1 change):" in blind.stderr
    assert "⊗ cancelled — reason: The operator: xlsx is out" in blind.stderr
    plan = np.json("p", actor="ana")
    assert {t["id"]: t["status"] for t in plan["tasks"]}[x] == "cancelled"  # nothing written
    # The same command again is an informed decision: it goes through, with no notice.
    again = np("t", "u", "-i", x, "-s", "completed")
    assert again.returncode == 0, again.stderr
    assert "Changed by others" not in again.stdout
    # The operator is protected the same way: ana has not seen the agent's completion.
    assert np("t", "e", "-i", x, "-t", "Later", "-r", "renamed", actor="ana").returncode == 1
    # An unrelated write is never refused: the operator edits x, the agent works on y.
    np.ok("t", "e", "-i", x, "-t", "Support .xlsx later", "-r", "renamed", actor="ana")
    unrelated = np.ok("t", "u", "-i", y, "-s", "in_progress")
    assert unrelated.startswith("Changed by others since you last looked (1 change):")
    # ... and having been told, the agent's write to x is no longer blind.
    np.ok("t", "e", "-i", x, "-t", "Support .xlsx (done)", "-r", "it was done anyway")
    log = [e["actor"] for e in np.json("log", "-n", "20")["events"]]
    assert log.count("agent") >= 4 and "ana" in log


def test_the_refusal_in_json_has_its_own_kind_and_code(np: Np) -> None:
    np.ok("p")
    np.ok("p", actor="ana")
    np.ok("g", "u", "-t", "Ship the CSV export", "-r", "The operator narrowed it", actor="ana")
    p = np("--json", "g", "u", "-d", "CSV only", "-r", "agreed")
    assert p.returncode == 1
    error = json.loads(p.stdout)["error"]
    assert (error["code"], error["kind"]) == (1010, "changed_since_seen")
    assert error["data"]["goal"] is True and error["data"]["by"] == ["ana"]
    assert [c["actor"] for c in error["data"]["changes"]] == ["ana"]
    assert "Changed by others" in error["data"]["notice"]
    assert np("--json", "g", "u", "-d", "CSV only", "-r", "agreed").returncode == 0


def test_dependencies_readiness_cycles_and_a_cancelled_prerequisite(np: Np) -> None:
    added = np.json(
        "t", "a", "-t", "Schema", "-t", "Writer", "--after", "#1", "-t", "Docs", "--after", "#2"
    )["added"]
    schema, writer, docs = added
    tasks = {t["id"]: t for t in np.json("t")["tasks"]}
    assert tasks[writer]["after"] == [schema] and tasks[docs]["after"] == [writer]
    assert f"☐ {writer} Writer  [after {schema}]" in np.ok("p")
    # cycles and unknown ids are refused, nothing written
    cycle = np("t", "w", "-i", schema, "--after", docs, "-r", "docs first")
    assert cycle.returncode == 1 and "would wait for itself" in cycle.stderr, cycle.stderr
    unknown = np("t", "a", "-t", "Other", "--after", "ffffff")
    assert unknown.returncode == 1 and "No task with id ffffff" in unknown.stderr
    no_reason = np("t", "w", "-i", schema, "--after", docs)
    assert no_reason.returncode == 1 and "A reason is required" in no_reason.stderr
    # readiness: only the schema is ready; completing it makes the writer ready
    first = np.json("next")
    assert first["task"]["id"] == schema and first["task"]["claimed_by"] == "agent"
    none = np.json("next", actor="bob")
    assert none["task"] is None
    assert f"{schema} 'Schema' is held by agent until" in none["why"]
    assert f"{writer} 'Writer' waits for {schema} (in_progress)" in none["why"]
    np.ok("t", "u", "-i", schema, "-s", "completed")
    assert np.json("next", actor="bob")["task"]["id"] == writer
    # a cancelled prerequisite is shown as what blocks
    np.ok("p", actor="ana")
    np.ok("t", "u", "-i", writer, "-s", "cancelled", "--take", "-r", "dropped", actor="ana")
    why = np.json("next")["why"]
    assert f"{docs} 'Docs' waits for {writer} (cancelled)" in why
    # changed later, with a reason: the docs no longer wait
    np.ok("t", "w", "-i", docs, "-r", "the writer was dropped")
    assert np.json("next")["task"]["id"] == docs
    types = [e["type"] for e in np.json("log", "-n", "50")["events"]]
    assert "task_after_changed" in types and "task_claimed" in types


def test_a_live_claim_refuses_others_until_taken_over_with_a_reason(np: Np) -> None:
    (task,) = np.json("t", "a", "-t", "Refactor the writer")["added"]
    np.ok("t", "u", "-i", task, "-s", "in_progress")
    held = np.json("t")["tasks"][0]
    assert held["claimed_by"] == "agent" and held["claim_expires_at"] > held["updated_at"]
    np.ok("p", actor="bob")
    refused = np("--json", "t", "u", "-i", task, "-s", "completed", actor="bob")
    assert refused.returncode == 1
    error = json.loads(refused.stdout)["error"]
    assert (error["code"], error["kind"]) == (1011, "task_claimed")
    assert error["data"]["claimed_by"] == "agent" and error["data"]["claim_expires_at"]
    no_reason = np("t", "u", "-i", task, "-s", "in_progress", "--take", actor="bob")
    assert no_reason.returncode == 1 and "reason" in no_reason.stderr
    np.ok("t", "u", "-i", task, "-s", "in_progress", "--take", "-r", "agent is gone", actor="bob")
    assert np.json("t")["tasks"][0]["claimed_by"] == "bob"
    event = np.json("log", "-n", "1")["events"][0]
    assert event["type"] == "task_claimed" and event["actor"] == "bob"
    assert event["payload"]["taken_from"] == "agent" and event["reason"] == "agent is gone"
    # the former holder is now refused in turn, and told who took it
    after = np("t", "u", "-i", task, "-s", "completed")
    assert after.returncode == 1 and "bob" in after.stderr


def test_eight_processes_racing_np_next_claim_each_task_once(np: Np) -> None:
    titles = [a for n in range(50) for a in ("-t", f"task {n}")]
    added = np.json("t", "a", *titles)["added"]
    np.ok("p")
    start = np.json("log", "-n", "1")["events"][0]["seq"]

    def agent(n: int) -> list[str]:
        mine: list[str] = []
        while True:
            result = np.json("next", actor=f"agent-{n}")
            if result["task"] is None:
                assert "No task is ready" in result["why"]
                return mine
            mine.append(result["task"]["id"])

    with ThreadPoolExecutor(8) as pool:
        claimed = [t for got in pool.map(agent, range(8)) for t in got]
    assert sorted(claimed) == sorted(added)  # every task claimed exactly once
    events = np.json("log", "-n", "1000")["events"]
    seqs = sorted(e["seq"] for e in events)
    assert seqs == list(range(1, len(seqs) + 1))  # gapless
    claims = [e for e in events if e["seq"] > start]
    assert len(claims) == 50 and all(e["type"] == "task_status_changed" for e in claims)
    assert len({e["actor"] for e in claims}) > 1


def test_a_read_whose_output_fails_leaves_its_notice_for_the_next(np: Np) -> None:
    (task,) = np.json("t", "a", "-t", "Write it")["added"]
    np.ok("p")
    np.ok("t", "u", "-i", task, "-s", "cancelled", "-r", "not needed", actor="ana")
    with open("/dev/full", "w") as full:
        failed = np("p", stdout=full)
    assert failed.returncode == 4, failed.stderr
    shown = np.ok("p")
    assert shown.startswith("Changed by others since you last looked (1 change):")
    assert "Changed by others" not in np.ok("p")  # and then once only


def test_a_keyed_retry_after_a_lost_answer_writes_nothing(np: Np) -> None:
    before = np.json("log", "-n", "1")["events"][0]["seq"]
    with open("/dev/full", "w") as full:  # the change commits; its answer is lost
        lost = np("t", "a", "-t", "one", "-t", "two", "--key", "add-7", stdout=full)
    assert lost.returncode == 4, lost.stderr
    retry = np.json("t", "a", "-t", "one", "-t", "two", "--key", "add-7")
    assert retry["replayed"] is True and len(retry["added"]) == 2
    assert [t["id"] for t in np.json("t")["tasks"]] == retry["added"]  # added once
    assert np.json("log", "-n", "1")["events"][0]["seq"] == before + 2
    # the same key for another request is refused; another actor's key is its own
    other = np("t", "a", "-t", "three", "--key", "add-7")
    assert other.returncode == 2 and "idempotency key" in other.stderr
    assert len(np.json("t", "a", "-t", "one", "--key", "add-7", actor="bob")["added"]) == 1
    # np next with a key: the retry answers with the same claimed task
    first = np.json("next", "--key", "n1")
    assert np.json("next", "--key", "n1")["task"]["id"] == first["task"]["id"]
