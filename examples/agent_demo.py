"""A scripted agent session through ``np serve`` — also the minimal harness example.

It spawns ``np serve`` and talks JSON-RPC 2.0 with LSP framing over its stdio using only
the standard library, exactly as an agent harness in any language would. It starts a
session in a demo project, sets the goal, adds tasks, works through them (cancelling one:
refused without a reason, accepted with one), shows a change made meanwhile with the ``np``
CLI in another process (the operator adds a task) arriving as an ``np/didChange``
notification, and prints the plan and the Markdown export. Every step prints what the server
answered.

Run: ``make demo`` (or ``python examples/agent_demo.py``). It uses your default database
(``$NP_DB`` or ``~/.local/share/np/np.db``), like any other np command.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# This checkout's np (the one beside this interpreter) first, else whatever np is on PATH.
_HERE = Path(sys.executable).parent / "np"
NP = [str(_HERE) if _HERE.exists() else (shutil.which("np") or "np")]


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.code = error["code"]
        self.kind = (error.get("data") or {}).get("kind")


class Client:
    """JSON-RPC over stdio with ``Content-Length`` framing: about 40 lines, no library."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.notifications: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    async def request(self, method: str, params: Any = None) -> Any:
        msg_id = next(self.ids)
        future = self.pending[msg_id] = asyncio.get_running_loop().create_future()
        self._send({"id": msg_id, "method": method, "params": params})
        return await future

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"method": method, "params": params})

    async def command(self, name: str, argument: dict[str, Any]) -> Any:
        return await self.request(
            "workspace/executeCommand", {"command": name, "arguments": [argument]}
        )

    async def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            headers = await stream.readuntil(b"\r\n\r\n")
            length = int(headers.split(b"Content-Length:")[1].split(b"\r\n")[0])
            message = json.loads(await stream.readexactly(length))
            if "id" in message and ("result" in message or "error" in message):
                future = self.pending.pop(message["id"])
                if "error" in message:
                    future.set_exception(RpcError(message["error"]))
                else:
                    future.set_result(message["result"])
            elif "method" in message and "id" not in message:
                await self.notifications.put(message)


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}")


async def main() -> int:
    project = Path(os.environ.get("NP_DEMO_DIR", Path.cwd() / ".demo" / "project")).resolve()
    project.mkdir(parents=True, exist_ok=True)
    # The operator archives the previous demo run, if any (agents never archive).
    subprocess.run([*NP, "-C", str(project), "a"], capture_output=True, check=False)

    proc = await asyncio.create_subprocess_exec(
        *NP, "serve", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    rpc = Client(proc)
    init = await rpc.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": project.as_uri(),
            "capabilities": {},
            "clientInfo": {"name": "agent-demo"},
        },
    )
    rpc.notify("initialized", {})
    print(
        "server:",
        init["serverInfo"],
        "commands:",
        len(init["capabilities"]["executeCommandProvider"]["commands"]),
    )

    say("np.session.start")
    started = await rpc.command("np.session.start", {})
    print(started["guide"])

    say("np.goal.set")
    goal = await rpc.command(
        "np.goal.set",
        {
            "title": "Make login survive token expiry",
            "description": "Issue #42: users are logged out when the access token expires.\n"
            "Files: src/auth/session.py (refresh), tests/test_session.py.",
        },
    )
    print(f"goal set: {goal['goal']['title']}")
    print(goal["guide"] if goal.get("guide") else "")

    say("np.task.add (one transaction for the batch)")
    added = await rpc.command(
        "np.task.add",
        {
            "tasks": [
                {"title": "Reproduce with a failing test", "description": "tests/test_session.py"},
                {"title": "Refresh the token before expiry"},
                {"title": "Migrate old sessions"},
            ]
        },
    )
    first, second, third = added["added"]
    print("added:", ", ".join(added["added"]))
    print(added["guide"])

    say("np.task.update")
    updated = await rpc.command(
        "np.task.update",
        {
            "updates": [
                {"id": first, "status": "completed"},
                {"id": second, "status": "in_progress"},
            ]
        },
    )
    print(f"{first} completed, {second} in progress; counts: {updated['counts']}")
    try:
        await rpc.command("np.task.update", {"updates": [{"id": third, "status": "cancelled"}]})
    except RpcError as exc:
        print(f"refused as expected: {exc.kind} ({exc.code}): {exc}")
    cancelled = await rpc.command(
        "np.task.update",
        {
            "updates": [
                {
                    "id": third,
                    "status": "cancelled",
                    "reason": "old sessions expire on their own in 24 h",
                }
            ]
        },
    )
    print(f"{third} cancelled with its reason; counts: {cancelled['counts']}")

    say("a CLI write from another process arrives as np/didChange")
    last = (await rpc.command("np.events", {"limit": 1, "newest_first": True}))["events"][0]
    # The operator, in a terminal: adds a task with the CLI. (Completing the agent's task
    # from there would be refused: a task in progress is held by the agent working on it.)
    subprocess.run(
        [*NP, "-C", str(project), "--actor", "operator", "t", "a", "-t", "Document the refresh"],
        capture_output=True,
        check=True,
    )
    while True:  # skip notifications of this client's own earlier writes
        async with asyncio.timeout(5):
            note = await rpc.notifications.get()
        if note["params"]["seq"] > last["seq"]:
            break
    print(note["method"], note["params"])

    say("np.plan: the CLI's change comes first, once (changes since this client last looked)")
    plan = await rpc.command("np.plan", {})
    if plan.get("notice"):
        print(plan["notice"] + "\n")
    print(plan["text"])
    print("counts:", plan["counts"])

    say("np.task.update: the agent completes the task it was working on")
    done = await rpc.command("np.task.update", {"updates": [{"id": second, "status": "completed"}]})
    print(f"{second} completed; counts: {done['counts']}")

    say("np.export (markdown)")
    print((await rpc.command("np.export", {"format": "markdown"}))["content"])

    await rpc.request("shutdown")
    rpc.notify("exit")
    code = await proc.wait()
    rpc.reader.cancel()
    print(f"server exited with {code}; the plan stays in the database: np -C {project} p")
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
