"""``np mcp``: a tool call's round trip, next to the same command over ``np serve`` and the CLI.

One status update (``np_update`` over MCP, ``np.task.update`` over ``np serve``, ``np t u``
through the CLI) on the same task, which alternates completed / in_progress so every call
commits. Both servers run at once on the same database and are driven by raw clients over
stdio (newline-delimited JSON for MCP, ``bench/lspclient.py`` for JSON-RPC), so the figure
is np's, not a client library's. Rounds alternate a block of MCP calls, a block of
JSON-RPC calls and one CLI run, so load drift hits all three alike.

Also: the bytes a model reads over MCP in the 5-task agent flow of ``bench/output_budget.py``,
next to the same flow's CLI output.

    python bench/mcp_roundtrip.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import output_budget
from bench.common import (
    PROFILES,
    Profile,
    Row,
    median,
    np_command,
    np_env,
    percentile,
    seed_session,
    time_command,
    workspace,
)
from bench.lspclient import RawLspClient

BLOCK = 20  # server calls per block


class RawMcpClient:
    """``np mcp`` over stdio, newline-delimited JSON-RPC, the handshake generation."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(cwd),
        )
        self._next = 0
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            with self._lock:
                future = self._pending.pop(message.get("id"), None)
            if future is not None:
                future.set_result(message)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._next += 1
            self._pending[self._next] = future
            msg_id = self._next
        self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        reply = future.result(timeout)
        if "result" not in reply:
            raise RuntimeError(f"{method} failed: {reply.get('error')}")
        return reply

    def initialize(self) -> dict[str, Any]:
        reply = self.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "np-bench", "version": "1"},
            },
        )
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    def call(self, tool: str, arguments: dict[str, Any]) -> str:
        result = self.request("tools/call", {"name": tool, "arguments": arguments})["result"]
        if result.get("isError"):
            raise RuntimeError(result["content"][0]["text"])
        return str(result["content"][0]["text"])

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(30)


def _as_tool(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """One CLI command of ``bench.output_budget.flow`` as the MCP tool call that does it."""
    pairs = list(zip(argv[2::2], argv[3::2], strict=False))
    if argv[:2] == ["t", "u"]:
        updates: list[dict[str, Any]] = []
        for flag, value in pairs:
            if flag == "-i":
                updates.append({"id": value})
            elif flag == "-s":
                updates[-1]["status"] = value
            elif flag == "-r":
                updates[-1]["reason"] = value
        return "np_update", {"updates": updates}
    if argv[:2] == ["t", "q"]:  # the agent's question is a form of np_edit over MCP
        question: dict[str, Any] = {"choices": []}
        for flag, value in pairs:
            if flag == "-o":
                question["choices"].append(value)
            else:
                question[{"-i": "id", "-q": "question"}[flag]] = value
        return "np_edit", question
    names = {"-i": "id", "-t": "title", "-d": "description", "-r": "reason"}
    args = {names[flag]: value for flag, value in pairs}
    if argv[:2] == ["t", "e"]:
        return "np_edit", args
    if argv[:2] == ["g", "u"]:
        return "np_goal", {"title": output_budget.GOAL[0], **args}
    if argv == ["r"]:
        return "np_resume", {}
    raise ValueError(f"no tool for {argv}")


def flow_bytes(
    mcp: RawMcpClient, project: Path, operator: Callable[[list[str]], None]
) -> list[int]:
    """The 5-task agent flow of ``bench.output_budget`` over MCP: bytes of each result text.
    The operator's own commands in it (the answer) run through ``operator`` (the CLI), and
    are not the agent's output."""
    sizes: list[int] = []

    def call(tool: str, arguments: dict[str, Any]) -> str:
        text = mcp.call(tool, {**arguments, "dir": str(project)})
        sizes.append(len(text.encode("utf-8")))
        return text

    call("np_start", {})
    call("np_goal", {"title": output_budget.GOAL[0], "description": output_budget.GOAL[1]})
    tasks = [{"title": t, "description": d} for t, d in output_budget.TASKS]
    added = call("np_add", {"tasks": tasks})
    ids = re.findall(r"^☐ ([0-9a-f]{6}) ", added, re.M)
    for argv in output_budget.flow(ids):
        if argv is output_budget.ANSWER:
            operator([a.replace("{b}", ids[1]) for a in argv])
        else:
            call(*_as_tool(argv))
    return sizes


def _stats(values: list[float]) -> str:
    return f"p50 {median(values):.2f} ms, p95 {percentile(values, 95):.2f} ms"


def measure(profile: Profile) -> list[Row]:
    rounds = max(1, profile.cli_runs)
    with workspace("mcp") as base:
        db, project = base / "np.db", base / "project"
        task = seed_session(db, project, tasks=10, events=10)[0]
        # One agent through three doors: one actor (the clients' name), so its own claim on
        # the task (in progress) never refuses its next change through another door.
        env = {**np_env(db), "NP_ACTOR": "np-bench"}
        np = np_command()
        mcp = RawMcpClient([*np, "mcp"], env=env, cwd=project)
        lsp = RawLspClient([*np, "serve"], env=env, cwd=project)
        samples: dict[str, list[float]] = {"mcp": [], "lsp": [], "cli": []}
        try:
            mcp.initialize()
            lsp.initialize(project)
            n = 0

            def status() -> str:
                nonlocal n
                n += 1
                return "completed" if n % 2 else "in_progress"

            for r in range(rounds + 1):  # the first round warms up and is discarded
                keep = r > 0
                for _ in range(BLOCK):
                    t0 = time.perf_counter()
                    mcp.call("np_update", {"updates": [{"id": task, "status": status()}]})
                    if keep:
                        samples["mcp"].append((time.perf_counter() - t0) * 1000)
                for _ in range(BLOCK):
                    t0 = time.perf_counter()
                    reply = lsp.execute(
                        "np.task.update", {"updates": [{"id": task, "status": status()}]}
                    )
                    if "result" not in reply:
                        raise RuntimeError(f"np.task.update failed: {reply.get('error')}")
                    if keep:
                        samples["lsp"].append((time.perf_counter() - t0) * 1000)
                cli_ms = time_command(
                    [*np, "t", "u", "-i", task, "-s", status()], cwd=project, env=env
                )
                if keep:
                    samples["cli"].append(cli_ms)
        finally:
            mcp.close()
            lsp.close()
        flow_project = base / "flow"
        flow_project.mkdir()
        flow_client = RawMcpClient([*np, "mcp"], env=env, cwd=base)
        try:
            flow_client.initialize()
            mcp_flow = flow_bytes(
                flow_client,
                flow_project,
                lambda argv: subprocess.run(
                    [*np, "-C", str(flow_project), *argv], env=env, check=True, capture_output=True
                ),
            )
        finally:
            flow_client.close()
        (base / "cli-flow").mkdir()
        cli_flow = output_budget.run_flow(base / "cli-flow", db, long_description=False)

    mcp_p50, lsp_p50, cli_p50 = (median(samples[k]) for k in ("mcp", "lsp", "cli"))
    call = Row(
        name="MCP tool call round trip `np_update` (p50)",
        value=mcp_p50,
        unit="ms",
        baseline_name="`np serve` `np.task.update` p50",
        baseline=lsp_p50,
        ratio=mcp_p50 / lsp_p50,
        notes=[
            f"np mcp {_stats(samples['mcp'])}; np serve {_stats(samples['lsp'])}; "
            f"CLI `np t u` spawn to exit {_stats(samples['cli'])} "
            f"(MCP is {cli_p50 / mcp_p50:.0f}× faster than the CLI per call); "
            f"n = {len(samples['mcp'])}/{len(samples['lsp'])}/{len(samples['cli'])}"
        ],
    )
    mcp_total, cli_total = sum(mcp_flow), sum(n for _, n, _ in cli_flow)
    flow = Row(
        name=f"5-task agent flow over MCP: all result text ({len(mcp_flow)} tool calls)",
        value=mcp_total,
        unit="bytes",
        baseline_name="the same flow through the CLI",
        baseline=cli_total,
        ratio=mcp_total / cli_total,
        notes=["per call: " + ", ".join(f"{n:,}" for n in mcp_flow)],
    )
    return [call, flow]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in measure(PROFILES["quick" if args.quick else "full"]):
        print(f"{row.name}: {row.figure()} vs {row.baseline_figure()} ({row.ratio_text()})")
        for note in row.notes:
            print(f"  {note}")
