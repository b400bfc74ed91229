"""``np mcp`` start-up, as a host sees it: from spawning the process to its ``initialize``
answer, and to its ``tools/list`` answer (sent as hosts do, right after the handshake); next
to a minimal standard-library MCP server (``bench/bare_mcp.py``, serving np's own tool list)
and to ``np serve``'s spawn → ``initialize`` answer, all in the same run, interleaved.

Hosts give a server little time (Codex does not wait, Cline allows 3 s): np mcp answers the
handshake and the tool list before the MCP SDK is loaded (``server.mcp.front``). Also noted:
spawn → the first ``tools/call`` answer, which waits for the SDK and np's store.

    python bench/mcp_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PROFILES,
    PYTHON,
    Profile,
    Row,
    interleaved,
    median,
    np_command,
    np_env,
    workspace,
)
from bench.lspclient import RawLspClient
from bench.mcp_roundtrip import RawMcpClient

BARE = Path(__file__).resolve().parent / "bare_mcp.py"
TARGET_BARE = 1.5  # × the standard-library server
TARGET_SERVE = 1.0  # × np serve's spawn → initialize


def _mcp(argv: list[str], env: dict[str, str], project: Path, call: bool) -> tuple[float, ...]:
    started = time.perf_counter()
    client = RawMcpClient(argv, env=env, cwd=project)
    try:
        client.initialize()
        init = time.perf_counter()
        client.request("tools/list", {})
        listed = time.perf_counter()
        if call:  # an error result (no session yet) is an answer too
            client.request("tools/call", {"name": "np_plan", "arguments": {}})
        called = time.perf_counter()
    finally:
        client.close()
    return tuple((t - started) * 1000 for t in (init, listed, called))


def _serve(argv: list[str], env: dict[str, str], project: Path) -> float:
    started = time.perf_counter()
    client = RawLspClient(argv, env=env, cwd=project)
    try:
        client.initialize(project)
        return (time.perf_counter() - started) * 1000
    finally:
        client.close()


def measure(profile: Profile) -> list[Row]:
    runs = max(1, profile.cli_runs // 3)
    with workspace("mcpstart") as base:
        project = base / "project"
        project.mkdir()
        env = np_env(base / "np.db")
        from server.mcp.schema import TOOLS

        tools = base / "tools.json"
        tools.write_text(json.dumps(TOOLS), encoding="utf-8")
        np_mcp, bare = [*np_command(), "mcp"], [PYTHON, str(BARE), str(tools)]
        got: dict[str, list[tuple[float, ...]]] = {"np": [], "bare": []}

        def np_run(i: int) -> float:
            got["np"].append(_mcp(np_mcp, env, project, call=True))
            return got["np"][-1][0]

        def bare_run(i: int) -> float:
            got["bare"].append(_mcp(bare, env, project, call=False))
            return got["bare"][-1][0]

        samples = interleaved(
            runs,
            {
                "np": np_run,
                "bare": bare_run,
                "serve": lambda i: _serve([*np_command(), "serve"], env, project),
            },
            warmup=min(1, profile.warmup),
        )
    keep = runs  # the warm-up's figures come first: keep the last ``runs``
    np_init, np_list, np_call = (median([s[k] for s in got["np"][-keep:]]) for k in range(3))
    bare_init, bare_list = (median([s[k] for s in got["bare"][-keep:]]) for k in range(2))
    serve = median(samples["serve"])
    note = f"n = {keep} each, interleaved; spawn → first `tools/call` answer {np_call:.0f} ms"
    return [
        Row(
            name="`np mcp` spawn → `initialize` answer (median)",
            value=np_init,
            unit="ms",
            baseline_name="standard-library MCP server (`bench/bare_mcp.py`)",
            baseline=bare_init,
            target=f"≤ {TARGET_BARE:g}×",
            ratio=np_init / bare_init,
            ok=np_init / bare_init <= TARGET_BARE,
            notes=[note],
        ),
        Row(
            name="`np mcp` spawn → `tools/list` answer (median)",
            value=np_list,
            unit="ms",
            baseline_name="standard-library MCP server (`bench/bare_mcp.py`)",
            baseline=bare_list,
            target=f"≤ {TARGET_BARE:g}×",
            ratio=np_list / bare_list,
            ok=np_list / bare_list <= TARGET_BARE,
        ),
        Row(
            name="`np mcp` spawn → `tools/list` answer (median)",
            value=np_list,
            unit="ms",
            baseline_name="`np serve` spawn → `initialize` answer",
            baseline=serve,
            target=f"≤ {TARGET_SERVE:g}×",
            ratio=np_list / serve,
            ok=np_list / serve <= TARGET_SERVE,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    profile = Profile(**{**PROFILES["full"].__dict__, "cli_runs": args.runs * 3})
    for row in measure(profile):
        print(f"{row.name}: {row.figure()} vs {row.baseline_figure()} ({row.ratio_text()})")
        for note in row.notes:
            print(f"  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
