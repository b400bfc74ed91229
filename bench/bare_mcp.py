"""A minimal MCP stdio server in plain Python (standard library only): the baseline for
``np mcp``'s start-up (``bench/mcp_startup.py``). It answers ``initialize``, ``tools/list``
(np's own tool list, read from a JSON file given as its argument) and ``ping``, one JSON
message per line, and nothing else: what any MCP server must do before a host lists it.

    python bench/bare_mcp.py TOOLS.json
"""

import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    TOOLS = json.load(f)

for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if "id" not in msg:
        continue
    method = msg.get("method")
    if method == "initialize":
        version = (msg.get("params") or {}).get("protocolVersion", "2025-06-18")
        result = {
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bare", "version": "1"},
        }
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "ping":
        result = {}
    else:
        error = {"code": -32601, "message": f"no method {method}"}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "error": error}) + "\n")
        sys.stdout.flush()
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
    sys.stdout.flush()
