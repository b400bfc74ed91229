"""An agent harness driving ``np serve`` over stdio with a plain JSON-RPC client: no pygls,
just asyncio and LSP framing. This is the README's example; test_serve_harness_example.py runs it.
"""

import asyncio
import itertools
import json
import os
import pathlib


async def main() -> None:
    proc = await asyncio.create_subprocess_exec(
        "np", "serve", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    ids, pending = itertools.count(1), {}

    def send(msg: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    async def reader() -> None:  # responses resolve their request; notifications print
        while not proc.stdout.at_eof():
            try:
                header = await proc.stdout.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the server exited
            length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            msg = json.loads(await proc.stdout.readexactly(length))
            if "id" in msg and "method" not in msg:
                pending.pop(msg["id"]).set_result(msg)
            elif msg.get("method") == "np/didChange":
                print("changed:", msg["params"])

    async def request(method: str, params: dict | None = None) -> dict:
        msg_id = next(ids)
        pending[msg_id] = asyncio.get_running_loop().create_future()
        send({"id": msg_id, "method": method, "params": params})
        reply = await pending[msg_id]
        if "error" in reply:  # {"code": 1006, "message": ..., "data": {"kind": ...}}
            raise RuntimeError(reply["error"])
        return reply["result"]

    async def np(command: str, arg: dict) -> dict:
        return await request("workspace/executeCommand", {"command": command, "arguments": [arg]})

    listen = asyncio.create_task(reader())
    root = pathlib.Path.cwd().as_uri()  # the default "dir" of every command
    await request("initialize", {"processId": os.getpid(), "capabilities": {}, "rootUri": root})
    send({"method": "initialized", "params": {}})
    await np("np.session.start", {})
    await np("np.goal.set", {"title": "Fix the login bug", "description": "auth.py; keep the API"})
    added = await np("np.task.add", {"tasks": [{"title": "Reproduce"}, {"title": "Fix"}]})
    await np("np.task.update", {"updates": [{"id": added["added"][0], "status": "completed"}]})
    print((await np("np.plan", {}))["text"])
    try:
        await np("np.task.update", {"updates": [{"id": added["added"][1], "status": "failed"}]})
    except RuntimeError as exc:
        print("error:", exc)  # code 1006, kind reason_required: "failed" needs a reason
    await request("shutdown")
    send({"method": "exit"})
    print("exit code", await proc.wait())
    await listen


asyncio.run(main())
