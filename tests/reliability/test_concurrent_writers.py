"""Several processes writing to one session at once: every write accounted for.

Each CLI "agent" runs its own sequence of real ``np`` processes — add a task, start it,
reword it, finish it — while the other agents (and a storm writer committing through the
command table in a loop) do the same. Afterwards every task holds exactly what its agent
last wrote, the event log has one event per change with ``seq`` 1…N without a gap, task
ids are unique, and no "database is locked" (or any other error) reached a user.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reliability_support import invariant_problems, seqs, start_storm_writer, wait_ready
from reliability_support import run_np as run_np_process

AGENTS = 4
ROUNDS = 3


def _agent(n: int, env: dict[str, str], workdir: Path, errors: list[str]) -> list[dict[str, str]]:
    """One agent's work; returns what it expects each of its tasks to hold at the end."""
    done: list[dict[str, str]] = []

    def np(*args: str) -> dict[str, object]:
        proc = run_np_process([*args, "--json"], cwd=workdir, env=env)
        if proc.returncode != 0 or proc.stderr or "locked" in proc.stdout:
            errors.append(f"agent {n}: np {' '.join(args)} -> {proc.returncode} {proc.stdout[-300:]} {proc.stderr[-300:]}")
            raise RuntimeError(errors[-1])
        result: dict[str, object] = json.loads(proc.stdout)
        return result

    for r in range(ROUNDS):
        added = np("t", "a", "-t", f"agent {n} task {r}", "-d", f"by agent {n}", "-t", f"agent {n} extra {r}")
        first, second = added["added"]  # type: ignore[misc]
        np("t", "u", "-i", first, "-s", "in_progress", "-i", second, "-s", "in_progress")
        np("t", "e", "-i", first, "-t", f"agent {n} task {r} (reworded)", "-r", "clearer")
        np("t", "u", "-i", first, "-s", "completed", "-i", second, "-s", "cancelled", "-r", "not needed")
        done.append({"id": first, "title": f"agent {n} task {r} (reworded)", "status": "completed"})
        done.append({"id": second, "title": f"agent {n} extra {r}", "status": "cancelled"})
    return done


def test_concurrent_cli_writers_and_a_storm_writer(run_np, np_env, workdir, db_path):
    started = run_np("s", "--json")
    assert started.code == 0, started
    sid = started.json()["session"]["sid"]

    storm = start_storm_writer(db_path, workdir, seed=7, iterations=400, delay=0.002)
    wait_ready(storm)
    errors: list[str] = []
    with ThreadPoolExecutor(AGENTS) as pool:
        futures = [pool.submit(_agent, n, np_env, workdir, errors) for n in range(AGENTS)]
        expected = [task for f in futures for task in f.result()]
    out, err = storm.communicate(timeout=120)
    assert storm.returncode == 0, err[-2000:]
    assert errors == []
    assert "locked" not in err

    # Every CLI write accounted for: final title and status are the agent's last write.
    final = {t["id"]: t for t in run_np("t", "--json").json()["tasks"]}
    for task in expected:
        assert final[task["id"]]["title"] == task["title"]
        assert final[task["id"]]["status"] == task["status"]
    assert len({t["id"] for t in expected}) == len(expected) == AGENTS * ROUNDS * 2

    # Every storm write accounted for too: one event per committed change.
    storm_adds = sum(len(json.loads(line[7:])) for line in out.splitlines() if line.startswith("op add "))
    storm_edits = sum(1 for line in out.splitlines() if line.startswith("op edit "))
    events = run_np("log", "-n", "100000", "--json").json()["events"]
    by_cmd_type: dict[tuple[bool, str], int] = {}
    for e in events:
        key = (e["cmd"].startswith("storm"), e["type"])
        by_cmd_type[key] = by_cmd_type.get(key, 0) + 1
    assert by_cmd_type.get((True, "task_added"), 0) == storm_adds
    assert by_cmd_type.get((True, "task_updated"), 0) == storm_edits
    # The agents: 2 adds, 1 edit and 4 status changes per round (all real changes).
    assert by_cmd_type[(False, "task_added")] == AGENTS * ROUNDS * 2
    assert by_cmd_type[(False, "task_updated")] == AGENTS * ROUNDS
    assert by_cmd_type[(False, "task_status_changed")] == AGENTS * ROUNDS * 4

    # seq gapless from 1, ids unique in the whole session, nothing half-written.
    numbers = seqs(db_path, sid)
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) == len(events)
    ids = [t["id"] for t in final.values()]
    assert len(ids) == len(set(ids)) == len(final)
    assert invariant_problems(db_path) == []
