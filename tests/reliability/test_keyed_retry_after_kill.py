"""A retry is safe (issue 21): ``np t a`` killed (SIGKILL) right after its COMMIT — saved,
never answered — then retried with the same idempotency key adds nothing and answers with
the ids the first one added."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support import np_command

# The command table on a real store whose process is killed the moment its unit commits.
KILLED_AFTER_COMMIT = """
import contextlib, os, signal, sys
from server.commands import Context, execute
from store import Store

class KilledAfterCommit(Store):
    @contextlib.contextmanager
    def transaction(self, cmd, actor=None):
        with super().transaction(cmd, actor) as unit:
            yield unit
        os.kill(os.getpid(), signal.SIGKILL)  # committed; the answer is never built

db, project = sys.argv[1], sys.argv[2]
store = KilledAfterCommit(db)
tasks = [{"title": f"task {n}"} for n in range(10)]
execute("np.task.add", Context(store, project, "np t a", actor="agent"),
        {"tasks": tasks, "key": "add-10"})
print("not killed", flush=True)
"""


def test_a_keyed_retry_after_a_kill_right_after_commit_adds_nothing(
    tmp_path: Path, np_env: dict[str, str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    db = str(tmp_path / "np.db")
    env = {**np_env, "NP_DB": db, "NP_ACTOR": "agent", "PWD": str(project)}
    subprocess.run([*np_command(), "s"], cwd=project, env=env, check=True, capture_output=True)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_COMMIT, db, str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    listed = subprocess.run(
        [*np_command(), "--json", "t"], cwd=project, env=env, capture_output=True, check=True
    )
    first = [t["id"] for t in json.loads(listed.stdout)["tasks"]]
    assert len(first) == 10  # all ten were saved, none was confirmed
    titles = [a for n in range(10) for a in ("-t", f"task {n}")]
    retry = subprocess.run(
        [*np_command(), "--json", "t", "a", *titles, "--key", "add-10"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert retry.returncode == 0, retry.stderr
    answer = json.loads(retry.stdout)
    assert answer["replayed"] is True and answer["added"] == first
    listed = subprocess.run(
        [*np_command(), "--json", "t"], cwd=project, env=env, capture_output=True, check=True
    )
    assert len(json.loads(listed.stdout)["tasks"]) == 10  # nothing added twice
    assert os.path.exists(db)
