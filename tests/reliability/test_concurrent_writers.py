"""Several processes writing to one session at once: every write accounted for.

CLI "agents" each run their own sequence of real ``np`` processes — add two tasks, start
them, reword one, finish one and cancel the other — while an agent driving ``np serve``
over stdio does the same, and a storm writer commits through the command table in a loop.
Afterwards every task holds exactly what its agent last wrote, the log has exactly one
event per change with ``seq`` 1…N without a gap, task ids are unique, nothing is
half-written, and no "database is locked" (or any other error) reached anyone.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    invariant_problems,
    np_cmd,
    seqs,
    start_storm_writer,
    wait_ready,
)
from reliability_support import run_np as run_np_process

from bench.lspclient import RawLspClient

CLI_AGENTS = 3
ROUNDS = 2
STORM_WRITERS = 8


@pytest.fixture
def np_env(np_db: str) -> dict[str, str]:
    """Every test here runs on both engines (``np_db``: a file, or a PostgreSQL URL)."""
    env = {**os.environ, "NP_DB": np_db}
    env.pop("NP_DEBUG", None)
    return env


Call = Callable[[str, dict[str, Any]], dict[str, Any]]


def _work(name: str, call: Call) -> list[dict[str, str]]:
    """One agent's rounds through ``call(command, argument)``; returns the final state it
    expects of each of its tasks."""
    expected: list[dict[str, str]] = []
    for r in range(ROUNDS):
        added = call(
            "np.task.add",
            {
                "tasks": [
                    {"title": f"{name} task {r}", "description": "x"},
                    {"title": f"{name} extra {r}"},
                ]
            },
        )
        first, second = added["added"]
        both = [{"id": first, "status": "in_progress"}, {"id": second, "status": "in_progress"}]
        call("np.task.update", {"updates": both})
        call(
            "np.task.edit",
            {"id": first, "title": f"{name} task {r} (reworded)", "reason": "clearer"},
        )
        done = [{"id": first, "status": "completed"}, {"id": second, "status": "cancelled"}]
        call("np.task.update", {"updates": done, "reason": "finished"})
        expected.append(
            {"id": first, "title": f"{name} task {r} (reworded)", "status": "completed"}
        )
        expected.append({"id": second, "title": f"{name} extra {r}", "status": "cancelled"})
    return expected


def _cli_agent(n: int, env: dict[str, str], workdir: Path) -> list[dict[str, str]]:
    def call(command: str, arg: dict[str, Any]) -> dict[str, Any]:
        argv: list[str] = []
        if command == "np.task.add":
            argv = ["t", "a"]
            for task in arg["tasks"]:
                argv += [
                    "-t",
                    task["title"],
                    *(["-d", task["description"]] if "description" in task else []),
                ]
        elif command == "np.task.update":
            argv = ["t", "u"]
            for u in arg["updates"]:
                argv += ["-i", u["id"], "-s", u["status"]]
            argv += ["-r", arg["reason"]] if "reason" in arg else []
        elif command == "np.task.edit":
            argv = ["t", "e", "-i", arg["id"], "-t", arg["title"], "-r", arg["reason"]]
        proc = run_np_process([*argv, "--json"], cwd=workdir, env=env)
        assert proc.returncode == 0 and not proc.stderr, (
            argv,
            proc.stdout[-500:],
            proc.stderr[-500:],
        )
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    return _work(f"cli{n}", call)


def _server_agent(env: dict[str, str], workdir: Path) -> list[dict[str, str]]:
    client = RawLspClient([*np_cmd(), "serve"], env=env, cwd=workdir)
    try:
        assert "result" in client.initialize(workdir, name="reliability")

        def call(command: str, arg: dict[str, Any]) -> dict[str, Any]:
            response = client.execute(command, arg, timeout=60)
            assert "result" in response, (command, response)
            result: dict[str, Any] = response["result"]
            return result

        return _work("lsp", call)
    finally:
        assert client.close() == 0


def test_cli_processes_a_server_and_a_storm_writer_at_once(
    run_np, np_env, workdir, np_db, tmp_path
):
    started = run_np("s", "--json")
    assert started.code == 0, started
    sid = started.json()["session"]["sid"]

    stop = tmp_path / "stop"
    storm = start_storm_writer(np_db, workdir, seed=7, iterations=5000, delay=0.01, stop_file=stop)
    wait_ready(storm)
    env = {**np_env}
    with ThreadPoolExecutor(CLI_AGENTS + 1) as pool:
        futures = [pool.submit(_cli_agent, n, env, workdir) for n in range(CLI_AGENTS)]
        futures.append(pool.submit(_server_agent, env, workdir))
        expected = [task for f in futures for task in f.result()]
    stop.touch()
    out, err = storm.communicate(timeout=120)
    assert storm.returncode == 0, err[-2000:]
    assert "locked" not in err and "error" not in out

    # Every agent's write accounted for: final title and status are its last write.
    final = {t["id"]: t for t in run_np("t", "--json").json()["tasks"]}
    for task in expected:
        assert final[task["id"]]["title"] == task["title"]
        assert final[task["id"]]["status"] == task["status"]
    agents = CLI_AGENTS + 1
    assert len({t["id"] for t in expected}) == len(expected) == agents * ROUNDS * 2

    # Exactly one event per change, from whoever made it.
    events = run_np("log", "-n", "100000", "--json").json()["events"]

    def source(cmd: str) -> str:
        return "storm" if cmd.startswith("storm") else "lsp" if cmd.startswith("lsp:") else "cli"

    counted = Counter((source(e["cmd"]), e["type"]) for e in events)
    lines = out.splitlines()
    storm_adds = sum(len(json.loads(x[7:])) for x in lines if x.startswith("op add "))
    storm_edits = sum(1 for x in lines if x.startswith("op edit "))
    assert storm_adds > 0
    assert counted[("storm", "task_added")] == storm_adds
    assert counted[("storm", "task_updated")] == storm_edits
    for who, n in (("cli", CLI_AGENTS), ("lsp", 1)):
        assert counted[(who, "task_added")] == n * ROUNDS * 2
        assert counted[(who, "task_updated")] == n * ROUNDS
        assert counted[(who, "task_status_changed")] == n * ROUNDS * 4

    # seq gapless from 1, ids unique in the whole session, nothing half-written.
    numbers = seqs(np_db, sid)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) == len(events)
    assert len(final) == len(set(final))
    assert invariant_problems(np_db) == []


def test_eight_writer_processes_on_one_session_lose_nothing(run_np, np_db, workdir, tmp_path):
    """8 storm writers commit through the command table at once, each accounting for every
    write it saw commit: all of them are there, once, with seq 1…N and nothing half-done."""
    started = run_np("s", "--json")
    assert started.code == 0, started
    sid = started.json()["session"]["sid"]
    writers = [
        start_storm_writer(np_db, workdir, seed=100 + k, iterations=25)
        for k in range(STORM_WRITERS)
    ]
    outputs = []
    for w in writers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err[-2000:]
        assert "error" not in out and "locked" not in err
        outputs.append(out)
    events = run_np("log", "-n", "100000", "--json").json()["events"]
    by_writer = Counter(e["cmd"] for e in events if e["type"] == "task_added")
    for k, out in enumerate(outputs):
        lines = out.splitlines()
        adds = sum(len(json.loads(x[7:])) for x in lines if x.startswith("op add "))
        assert adds > 0 and by_writer[f"storm {100 + k}"] == adds  # 0 lost, 0 doubled
    numbers = seqs(np_db, sid)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) == len(events)
    assert invariant_problems(np_db) == []
