"""Every request ``np serve`` read gets its true outcome, whatever ends it (issue 20, kind 3).

A sweep per way of ending: SIGTERM, SIGINT and SIGHUP to the process, stdin closed, and
``$/cancelRequest``, each 6 runs right after (or while) a 500-task ``np.task.add`` is sent,
at growing delays, on both engines. In every run:

* the process ends (a signal: with 128 + its number, after answering; stdin: 0);
* the batch gets exactly one answer, or none only when the server never read it;
* an answer tells the truth: a result means the 500 tasks are there, an error
  (``written: false``, or -32800 for a withdrawn command) means none of them are;
* no answer means nothing was written, so the client's retry (the batch sent again) never
  duplicates it: at the end each batch is in the plan exactly once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from serve_support import RawServer, frame, server_env

from tests.support import np_command

RUNS = 6
DELAYS = (0.0, 0.002, 0.01, 0.03, 0.08, 0.2)  # after the batch is sent, before the stop
BATCH = 500


def _batch(run: int) -> list[dict[str, str]]:
    return [{"title": f"r{run} t{i}", "description": "d" * 100} for i in range(BATCH)]


def _titles(db: str, project: Path) -> list[str]:
    proc = subprocess.run(
        [*np_command(), "t", "--json"],
        cwd=str(project),
        env=server_env(db),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return [t["title"] for t in json.loads(proc.stdout)["tasks"]]


def _send_batch(server: RawServer, project: Path, run: int) -> int:
    msg_id = server.new_id()
    server.send(
        frame(
            {
                "jsonrpc": "2.0",
                "id": msg_id,
                "method": "workspace/executeCommand",
                "params": {
                    "command": "np.task.add",
                    "arguments": [{"dir": str(project), "tasks": _batch(run)}],
                },
            }
        )
    )
    return msg_id


def _answer(server: RawServer, msg_id: int) -> dict[str, Any] | None:
    try:
        return server.response(msg_id, timeout=1.0)
    except TimeoutError:
        return None


def _outcome(answer: dict[str, Any] | None) -> str:
    if answer is None:
        return "unanswered"
    if "result" in answer:
        return "done"
    error = answer["error"]
    data = error.get("data") or {}
    assert error["code"] == -32800 or data.get("written") is False, error
    return "not done"


def _retry(db: str, project: Path, run: int) -> None:
    """What a client does after no answer or a "not carried out" one: send it again."""
    server = RawServer(server_env(db), project)
    try:
        server.initialize(project)
        reply = server.response(_send_batch(server, project, run), timeout=60)
        assert "result" in reply, reply
    finally:
        server.close()


def _check_runs(db: str, project: Path, outcomes: dict[int, str]) -> None:
    titles = _titles(db, project)
    for run, outcome in outcomes.items():
        count = sum(1 for t in titles if t.startswith(f"r{run} "))
        assert count == BATCH, (run, outcome, count)  # once: never lost, never doubled
    assert len(titles) == BATCH * len(outcomes)


def _start(db: str, project: Path) -> RawServer:
    server = RawServer(server_env(db), project)
    server.initialize(project)
    return server


STOPS = ("SIGTERM", "SIGINT", "SIGHUP", "stdin")


@pytest.mark.parametrize("stop", STOPS)
def test_every_request_read_is_answered_truthfully_whatever_stops_the_server(
    np_db: str, tmp_path: Path, stop: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    server = _start(np_db, project)
    assert "result" in server.command("np.session.start", {"dir": str(project)})
    server.close()
    outcomes: dict[int, str] = {}
    for run, delay in enumerate(DELAYS[:RUNS]):
        server = _start(np_db, project)
        before = len(_titles(np_db, project))
        msg_id = _send_batch(server, project, run)
        time.sleep(delay)
        if stop == "stdin":
            assert server.proc.stdin is not None
            server.proc.stdin.close()
            want = 0
        else:
            signum = getattr(signal, stop)
            server.proc.send_signal(signum)
            want = 128 + signum
        try:
            code = server.proc.wait(120)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
            pytest.fail(f"run {run}: no exit after {stop}; {server.err_text()[-3000:]}")
        assert code == want, server.err_text()[-2000:]
        answer = _answer(server, msg_id)
        outcome = _outcome(answer)
        assert not server.violations, server.violations
        after = len(_titles(np_db, project))
        # the truth: a result means all 500 are there; anything else means none are
        assert after - before == (BATCH if outcome == "done" else 0), (run, outcome)
        if stop == "stdin":
            assert outcome == "done", answer  # stdin closing never withdraws what was read
        if outcome != "done":
            _retry(np_db, project, run)
        outcomes[run] = outcome
    _check_runs(np_db, project, outcomes)
    print(f"\n{stop}: {RUNS} runs, outcomes {sorted(outcomes.values())}")


def test_cancel_withdraws_unstarted_work_or_sends_the_real_result(
    np_db: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    server = _start(np_db, project)
    outcomes: dict[int, str] = {}
    try:
        assert "result" in server.command("np.session.start", {"dir": str(project)})
        for run, delay in enumerate(DELAYS[:RUNS]):
            before = len(_titles(np_db, project))
            # a second batch queued behind the first: its cancel finds it unstarted
            first = _send_batch(server, project, run)
            second = _send_batch(server, project, run + 100)
            time.sleep(delay)
            for msg_id in (second, first):
                server.notify("$/cancelRequest", {"id": msg_id})
            got = {m: _outcome(server.response(m, timeout=120)) for m in (first, second)}
            after = len(_titles(np_db, project))
            done = [m for m, o in got.items() if o == "done"]
            assert after - before == BATCH * len(done), (run, got)
            for msg_id, outcome in got.items():
                key = run if msg_id == first else run + 100
                if outcome != "done":  # withdrawn: nothing written, the retry is safe
                    reply = server.response(_send_batch(server, project, key), timeout=120)
                    assert "result" in reply, reply
                outcomes[key] = outcome
    finally:
        server.close()
    _check_runs(np_db, project, outcomes)
    print(f"\ncancel: {len(outcomes)} requests, outcomes {sorted(outcomes.values())}")
