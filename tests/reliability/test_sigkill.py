"""Writers killed with SIGKILL at random moments leave nothing half-written behind.

Each round starts storm writers (processes committing through the command table as fast
as they can) and CLI writers, then SIGKILLs all of them at random moments — inside
transactions, between them, during start-up. One more round does the same to an
``np serve`` with a pipeline of write requests in flight. After every round the file passes
``PRAGMA integrity_check``, every invariant a half-written command would break holds, and
the store keeps working for the next round and for the CLI.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from reliability_support import (
    integrity,
    invariant_problems,
    np_cmd,
    start_storm_writer,
    wait_ready,
)

from bench.lspclient import RawLspClient

ROUNDS = 6


@pytest.fixture
def np_env(np_db: str) -> dict[str, str]:
    """The test runs on both engines (``np_db``: a file, or a PostgreSQL URL)."""
    env = {**os.environ, "NP_DB": np_db}
    env.pop("NP_DEBUG", None)
    return env


def _start_cli_writer(env: dict[str, str], workdir: Path, n: int) -> subprocess.Popen[str]:
    titles = [arg for k in range(5) for arg in ("-t", f"w9{n}-b{n}-k{k}")]
    return subprocess.Popen(
        [*np_cmd(), "t", "a", *titles],
        cwd=str(workdir),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def test_sigkill_writers_leave_no_half_written_command(run_np, np_env, workdir, np_db):
    assert run_np("s").code == 0
    rng = random.Random(20261124)
    committed = 0
    for round_no in range(ROUNDS):
        writers = [start_storm_writer(np_db, workdir, seed=round_no * 10 + k) for k in range(2)]
        for w in writers:
            wait_ready(w)
        cli = [_start_cli_writer(np_env, workdir, round_no * 10 + k) for k in range(2)]
        victims = writers + cli
        rng.shuffle(victims)
        for proc in victims:
            time.sleep(rng.uniform(0.0, 0.15))
            proc.send_signal(signal.SIGKILL)
        for proc in victims:
            proc.wait(timeout=30)
            assert proc.returncode in (0, -signal.SIGKILL), proc.returncode
        for w in writers:
            assert w.stdout is not None
            out = w.stdout.read()
            committed += out.count("op ")
            assert "error" not in out, out
            w.stdout.close()
            assert w.stderr is not None
            w.stderr.close()
        for proc in cli:
            assert proc.stderr is not None
            err = proc.stderr.read()
            proc.stderr.close()
            assert "locked" not in err and "Traceback" not in err, err

        assert integrity(np_db) == ["ok"], f"round {round_no}"
        assert invariant_problems(np_db) == [], f"round {round_no}"

    assert committed > ROUNDS, "the writers were killed before they wrote anything"

    # An np serve killed with write requests in flight (batches of five, as above).
    server = RawLspClient([*np_cmd(), "serve"], env=np_env, cwd=workdir)
    assert "result" in server.initialize(workdir, name="victim")
    pending = []
    for n in range(40):
        tasks = [{"title": f"w8{n}-b{n}-k{k}"} for k in range(5)]
        pending.append(
            server.request_future(
                "workspace/executeCommand",
                {"command": "np.task.add", "arguments": [{"tasks": tasks}]},
            )
        )
    assert "result" in pending[0].result(timeout=30)  # writes are flowing: now kill it
    time.sleep(rng.uniform(0.0, 0.03))
    server.proc.send_signal(signal.SIGKILL)
    assert server.close() == -signal.SIGKILL
    assert integrity(np_db) == ["ok"]
    assert invariant_problems(np_db) == []

    # The store keeps working: the CLI writes, reads, and the doctor finds it healthy.
    added = run_np("t", "a", "-t", "after the storm", "--json")
    assert added.code == 0, added
    task_id = added.json()["added"][0]
    updated = run_np("t", "u", "-i", task_id, "-s", "completed", "--json")
    assert updated.code == 0, updated
    assert any(t["id"] == task_id and t["status"] == "completed" for t in updated.json()["tasks"])
    doctor = run_np("doctor", "--json")
    assert doctor.code == 0, doctor
    assert doctor.json()["healthy"] is True
    assert invariant_problems(np_db) == []
