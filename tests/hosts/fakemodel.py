#!/usr/bin/env python3
# ruff: noqa: E501, F841 - the field study's harness (shared/reference/agent-hosts), kept close to it
"""A scripted fake model server for real coding-agent hosts (no LLM).

It speaks four wire APIs on 127.0.0.1 only:

  Anthropic Messages      POST .../v1/messages            (SSE or JSON)   Claude Code
  OpenAI Chat Completions POST .../chat/completions       (SSE or JSON)   opencode, qwen, crush
  OpenAI Responses        POST .../responses              (SSE)           Codex
  Gemini                  POST .../models/M:streamGenerateContent / :generateContent   Gemini CLI

Base URLs carry the run's name: http://127.0.0.1:PORT/h/<host>/<scenario>/... so every request
is logged under FAKE_LOG_DIR/<host>-<scenario>/NNN.json (the whole request body, the reply we
sent, a timestamp). The "model" is a script (SCRIPTS below) driven only by the conversation the
host sends: the step is the number of tool calls already in the history, and later steps read
earlier tool results (task ids) from the text the host fed back. Requests that are not the
agent's main loop (title generation, next-speaker checks, ...) get a short text or a JSON object
filled from the requested schema.

Run: python3 fakemodel.py --port 18765 --log-dir /tmp/hosts/runs
Every loop is bounded: a conversation past MAX_STEPS tool calls gets a final text.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

MAX_STEPS = 40
LOG_DIR = "/tmp/hosts/runs"
_counter_lock = threading.Lock()
_counters: dict[str, int] = {}

# ---------------------------------------------------------------- neutral conversation


class Conv:
    """What the model needs from any wire format."""

    def __init__(self) -> None:
        self.tools: list[dict] = []  # {name, description, schema}
        self.events: list[
            tuple[str, dict]
        ] = []  # ("call", {id,name,args}) / ("result", {id,text,is_error,raw})
        self.system = ""
        self.user_texts: list[str] = []
        self.json_schema: dict | None = None  # a side request that wants JSON back
        self.wants_json = False

    def calls(self) -> list[dict]:
        return [e for k, e in self.events if k == "call"]

    def results(self) -> list[dict]:
        return [e for k, e in self.events if k == "result"]

    def result_for(self, call: dict) -> dict | None:
        for r in self.results():
            if r.get("id") and r["id"] == call.get("id"):
                return r
        # fall back to position
        calls = self.calls()
        res = self.results()
        try:
            i = calls.index(call)
        except ValueError:
            return None
        return res[i] if i < len(res) else None

    def tool(self, suffix: str) -> dict | None:
        """The host's tool whose name ends with suffix (hosts prefix MCP tool names)."""
        exact = [t for t in self.tools if t["name"] == suffix]
        if exact:
            return exact[0]
        cands = [t for t in self.tools if t["name"].endswith(suffix)]
        return sorted(cands, key=lambda t: len(t["name"]))[0] if cands else None


def text_of(content) -> str:
    """Flatten a tool result / message content into text, whatever its shape."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(text_of(c) for c in content)
    if isinstance(content, dict):
        for k in ("text", "output", "content", "result", "stdout", "llmContent", "error"):
            if k in content:
                return text_of(content[k])
        return json.dumps(content, ensure_ascii=False)
    return str(content)


def deep_text(s: str) -> str:
    """A result may be JSON wrapping the text (Codex, Gemini): add every string inside."""
    out = [s]
    try:
        v = json.loads(s)
    except Exception:
        return s

    def walk(x):
        if isinstance(x, str):
            out.append(x)
            deep_text_inner = deep_text(x) if x[:1] in "{[" else None
            if deep_text_inner and deep_text_inner != x:
                out.append(deep_text_inner)
        elif isinstance(x, list):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)

    walk(v)
    return "\n".join(out)


# ---------------------------------------------------------------- parsers per wire API


def parse_anthropic(body: dict) -> Conv:
    c = Conv()
    sysv = body.get("system")
    c.system = text_of(sysv) if not isinstance(sysv, str) else sysv
    for t in body.get("tools") or []:
        c.tools.append(
            {
                "name": t.get("name", ""),
                "description": t.get("description", ""),
                "schema": t.get("input_schema"),
                "raw": t,
            }
        )
    for m in body.get("messages") or []:
        content = m.get("content")
        if isinstance(content, str):
            if m.get("role") == "user":
                c.user_texts.append(content)
            continue
        for b in content or []:
            ty = b.get("type")
            if ty == "tool_use":
                c.events.append(
                    ("call", {"id": b.get("id"), "name": b.get("name"), "args": b.get("input")})
                )
            elif ty == "tool_result":
                c.events.append(
                    (
                        "result",
                        {
                            "id": b.get("tool_use_id"),
                            "text": text_of(b.get("content")),
                            "is_error": bool(b.get("is_error")),
                            "raw": b,
                        },
                    )
                )
            elif ty == "text" and m.get("role") == "user":
                c.user_texts.append(b.get("text", ""))
    fmt = body.get("output_format") or body.get("output_config") or {}
    if isinstance(fmt, dict) and (fmt.get("schema") or (fmt.get("format") or {}).get("schema")):
        c.wants_json = True
        c.json_schema = fmt.get("schema") or fmt["format"]["schema"]
    return c


def parse_chat(body: dict) -> Conv:
    c = Conv()
    for t in body.get("tools") or []:
        f = t.get("function", t)
        c.tools.append(
            {
                "name": f.get("name", ""),
                "description": f.get("description", ""),
                "schema": f.get("parameters"),
                "raw": t,
            }
        )
    for m in body.get("messages") or []:
        role = m.get("role")
        if role == "system":
            c.system += text_of(m.get("content"))
        elif role == "user":
            c.user_texts.append(text_of(m.get("content")))
        elif role == "assistant":
            for tc in m.get("tool_calls") or []:
                f = tc.get("function", {})
                try:
                    args = json.loads(f.get("arguments") or "{}")
                except Exception:
                    args = f.get("arguments")
                c.events.append(("call", {"id": tc.get("id"), "name": f.get("name"), "args": args}))
        elif role == "tool":
            c.events.append(
                (
                    "result",
                    {
                        "id": m.get("tool_call_id"),
                        "text": text_of(m.get("content")),
                        "is_error": False,
                        "raw": m,
                    },
                )
            )
    rf = body.get("response_format") or {}
    if rf.get("type") in ("json_object", "json_schema"):
        c.wants_json = True
        c.json_schema = (rf.get("json_schema") or {}).get("schema")
    return c


def parse_responses(body: dict) -> Conv:
    c = Conv()
    c.system = body.get("instructions") or ""
    for t in body.get("tools") or []:
        if t.get("type") == "function":
            c.tools.append(
                {
                    "name": t.get("name", ""),
                    "description": t.get("description", ""),
                    "schema": t.get("parameters"),
                    "raw": t,
                }
            )
        elif t.get("type") == "namespace" or t.get("tools"):
            for sub in t.get("tools") or []:
                ns = t.get("name", "")
                c.tools.append(
                    {
                        "name": ns + ("" if ns.endswith("_") else "__") + sub.get("name", ""),
                        "bare": sub.get("name"),
                        "namespace": t.get("name"),
                        "description": sub.get("description", ""),
                        "schema": sub.get("parameters"),
                        "raw": sub,
                    }
                )
        else:
            c.tools.append(
                {
                    "name": t.get("name") or t.get("type", ""),
                    "description": t.get("description", ""),
                    "schema": t.get("parameters"),
                    "raw": t,
                }
            )
    inp = body.get("input")
    if isinstance(inp, str):
        c.user_texts.append(inp)
        inp = []
    for it in inp or []:
        ty = it.get("type")
        if ty == "message" or (ty is None and "role" in it):
            if it.get("role") == "user":
                c.user_texts.append(text_of(it.get("content")))
            elif it.get("role") in ("system", "developer"):
                c.system += text_of(it.get("content"))
        elif ty in ("function_call", "custom_tool_call", "local_shell_call"):
            args = (
                it.get("arguments")
                if ty == "function_call"
                else it.get("input") or it.get("action")
            )
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except Exception:
                    pass
            name = it.get("name", ty)
            if it.get("namespace"):
                ns = it["namespace"]
                name = ns + ("" if ns.endswith("_") else "__") + name
            c.events.append(("call", {"id": it.get("call_id"), "name": name, "args": args}))
        elif ty == "tool_search_call":  # Codex's own tool search (client-executed)
            c.events.append(
                (
                    "call",
                    {"id": it.get("call_id"), "name": "tool_search", "args": it.get("arguments")},
                )
            )
        elif ty == "tool_search_output":
            found = json.dumps(it.get("tools"), ensure_ascii=False)
            c.events.append(
                ("result", {"id": it.get("call_id"), "text": found, "is_error": False, "raw": it})
            )
        elif ty in ("function_call_output", "custom_tool_call_output", "local_shell_call_output"):
            out = it.get("output")
            c.events.append(
                (
                    "result",
                    {
                        "id": it.get("call_id"),
                        "text": text_of(out) if not isinstance(out, str) else out,
                        "is_error": False,
                        "raw": it,
                    },
                )
            )
    tf = (body.get("text") or {}).get("format") or {}
    if tf.get("type") == "json_schema":
        c.wants_json = True
        c.json_schema = tf.get("schema")
    return c


def parse_gemini(body: dict) -> Conv:
    c = Conv()
    si = body.get("systemInstruction") or body.get("system_instruction") or {}
    c.system = (
        text_of([p.get("text", "") for p in si.get("parts", [])])
        if isinstance(si, dict)
        else text_of(si)
    )
    for t in body.get("tools") or []:
        for f in t.get("functionDeclarations") or t.get("function_declarations") or []:
            c.tools.append(
                {
                    "name": f.get("name", ""),
                    "description": f.get("description", ""),
                    "schema": f.get("parametersJsonSchema") or f.get("parameters"),
                    "raw": f,
                }
            )
    pending: list[dict] = []
    for m in body.get("contents") or []:
        for p in m.get("parts") or []:
            if "functionCall" in p:
                fc = p["functionCall"]
                call = {
                    "id": fc.get("id") or f"g{len(c.events)}",
                    "name": fc.get("name"),
                    "args": fc.get("args"),
                }
                pending.append(call)
                c.events.append(("call", call))
            elif "functionResponse" in p:
                fr = p["functionResponse"]
                rid = fr.get("id")
                if not rid:
                    match = next((x for x in pending if x["name"] == fr.get("name")), None)
                    rid = match["id"] if match else None
                    if match:
                        pending.remove(match)
                resp = fr.get("response")
                c.events.append(
                    (
                        "result",
                        {
                            "id": rid,
                            "text": text_of(resp),
                            "is_error": "error" in (resp or {}),
                            "raw": fr,
                        },
                    )
                )
            elif "text" in p and m.get("role") == "user":
                c.user_texts.append(p["text"])
    gc = body.get("generationConfig") or {}
    if (
        gc.get("responseMimeType") == "application/json"
        or gc.get("responseJsonSchema")
        or gc.get("responseSchema")
    ):
        c.wants_json = True
        c.json_schema = gc.get("responseJsonSchema") or gc.get("responseSchema")
    return c


# ---------------------------------------------------------------- the scripted model

ID_RE = re.compile(r"^\s*[☐⟳☑☒⊗]\s+([0-9a-f]{6})\s+(.+?)\s*$", re.M)
TITLES = ["Write hello.py", "Add a test", "Update the README"]


def task_ids(conv: Conv) -> dict[str, str]:
    """title -> id, from every tool result so far (the newest wins)."""
    out: dict[str, str] = {}
    for r in conv.results():
        txt = deep_text(r.get("text") or "")
        for m in ID_RE.finditer(txt):
            out[m.group(2)] = m.group(1)
    return out


def tid(conv: Conv, i: int) -> str:
    ids = task_ids(conv)
    for title, v in ids.items():
        if title.startswith(TITLES[i]):
            return v
    return "000000"  # the model "hallucinates" an id if it could not read one


class Action:
    def __init__(
        self, kind: str, name: str = "", args=None, text: str = "", label: str = ""
    ) -> None:
        self.kind, self.name, self.args, self.text, self.label = kind, name, args, text, label
        self.extra: list[Action] = []  # more tool calls in the same model turn (parallel calls)

    def calls(self) -> list[Action]:
        return [self, *self.extra]


def parallel(*steps):
    """Several tool calls in one model turn. Only as the script's last step (it adds several calls)."""

    def f(conv: Conv, run: dict) -> Action:
        acts = [st(conv, run) for st in steps]
        if any(a.kind != "tool" for a in acts):
            return next(a for a in acts if a.kind != "tool")
        first = acts[0]
        first.extra = acts[1:]
        return first

    return f


def mcp(suffix: str, args: dict, label: str = ""):
    def f(conv: Conv, run: dict) -> Action:
        t = conv.tool(suffix)
        if t is None:
            return Action(
                "text", text=f"SCRIPT-STOP: the host offered no tool ending in {suffix!r}"
            )
        a = dict(args(conv) if callable(args) else args)
        props = (t.get("schema") or {}).get("properties") or {}
        if "wait_for_previous" in props and suffix == "np_plan" and "id" in a:
            # Gemini CLI adds this parameter to every tool and its prompt invites the model to use it
            a["wait_for_previous"] = True
        return Action("tool", t["name"], a, label=label or suffix)

    return f


SHELL_NAMES = [
    "Bash",
    "bash",
    "run_shell_command",
    "shell",
    "exec_command",
    "shell_command",
    "local_shell",
    "run_commands",
]


def shell_tool(conv: Conv) -> dict | None:
    for n in SHELL_NAMES:
        for t in conv.tools:
            if t["name"] == n:
                return t
    return None


def shell(cmd, label: str = ""):
    def f(conv: Conv, run: dict) -> Action:
        t = shell_tool(conv)
        if t is None:
            return Action("text", text="SCRIPT-STOP: the host offered no shell tool")
        c = cmd(conv) if callable(cmd) else cmd
        schema = t.get("schema") or {}
        props = schema.get("properties") or {}
        if "commands" in props:  # Cline: a list of command strings
            args = {"commands": [c]}
        elif "command" in props and props["command"].get("type") == "array":
            args = {"command": ["bash", "-lc", c]}
            if "workdir" in props and run.get("dir"):
                args["workdir"] = run["dir"]
        elif "cmd" in props:
            args = {"cmd": c}
            if "workdir" in props and run.get("dir"):
                args["workdir"] = run["dir"]
        else:
            args = {"command": c}
        if "description" in props:
            args["description"] = label or "run np"
        if "timeout" in props and "timeout" in (schema.get("required") or []):
            args["timeout"] = 60000
        return Action("tool", t["name"], args, label=label or c)

    return f


def operator(cmd_args_fn, label):
    """Run an np CLI command as the operator (another actor) before the step: a side effect of
    the harness, not of the agent; once per run."""

    def wrap(step):
        def f(conv: Conv, run: dict) -> Action:
            marker = os.path.join(run["_logdir"], f"operator-{label}.done")
            if not os.path.exists(marker) and run.get("dir"):
                args = cmd_args_fn(conv)
                env = dict(os.environ)
                env.update(run.get("env") or {})
                p = subprocess.run(
                    [run.get("np", "np"), "-C", run["dir"], "--actor", "operator", *args],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=60,
                )
                with open(marker, "w") as fh:
                    json.dump(
                        {
                            "args": args,
                            "rc": p.returncode,
                            "stdout": p.stdout,
                            "stderr": p.stderr,
                            "t": time.time(),
                        },
                        fh,
                        ensure_ascii=False,
                        indent=1,
                    )
            return step(conv, run)

        return f

    return wrap


GOAL_T = "Print hello from a script"
GOAL_D = "Write hello.py that prints hello.\nKeep it to one file; no dependencies."


SECOND_TURN = "SECOND TURN"  # in the user's second prompt (scenario "turns")


def checklist(tool: str, args_fn, label: str):
    """A call of the host's own checklist tool (Claude Code's TaskCreate / TaskUpdate or
    TodoWrite, loaded through ToolSearch first when the host defers them)."""

    def f(conv: Conv, run: dict) -> Action:
        if conv.tool(tool) is None:
            if conv.tool("ToolSearch") is not None:
                wanted = "TodoWrite" if tool == "TodoWrite" else "TaskCreate,TaskUpdate,TaskList"
                query = {"query": f"select:{wanted}"}
                return Action("tool", "ToolSearch", query, label="load the checklist tools")
            return Action("text", text=f"SCRIPT-STOP: the host offered no {tool} tool")
        return Action("tool", tool, args_fn(conv), label=label)

    return f


def plan_step(*items: tuple[str, str]):
    """A call of Codex's plan tool (update_plan) with the whole list, as Codex sends it."""

    def f(conv: Conv, run: dict) -> Action:
        if conv.tool("update_plan") is None:
            return Action("text", text="SCRIPT-STOP: the host offered no update_plan tool")
        plan = [{"step": step, "status": status} for step, status in items]
        args = {"explanation": "keeping my plan", "plan": plan}
        return Action("tool", "update_plan", args, label="update_plan")

    return f


def todo_step(*items: tuple[str, str]):
    """A call of the host's todo list tool with the whole list: Qwen Code's todo_write, or
    Claude Code's TodoWrite (offered by 2.1 with CLAUDE_CODE_ENABLE_TASKS=false)."""

    def f(conv: Conv, run: dict) -> Action:
        if conv.tool("todo_write") is not None:
            todos = [
                {"id": str(i + 1), "content": c, "status": st} for i, (c, st) in enumerate(items)
            ]
            return Action("tool", "todo_write", {"todos": todos}, label="todo_write")
        todos = [{"content": c, "status": st, "activeForm": c} for c, st in items]
        return checklist("TodoWrite", lambda c: {"todos": todos}, "TodoWrite")(conv, run)

    return f


def first_item(title: str):
    """The host's own checklist gets its first item: Codex's update_plan, else Claude
    Code's TaskCreate."""

    def f(conv: Conv, run: dict) -> Action:
        if conv.tool("update_plan") is not None:
            return plan_step((title, "in_progress"))(conv, run)
        given = {"subject": title, "description": "ask the operator"}
        return checklist("TaskCreate", lambda c: given, "item 1")(conv, run)

    return f


def id_of(conv: Conv, title: str) -> str:
    """np's id of the task titled ``title`` (a claimed one: ``title  [who until …]``),
    read from the tool results so far."""
    found = [v for t, v in task_ids(conv).items() if t == title or t.startswith(title + "  [")]
    return found[-1] if found else "000000"


def goal_step(objective: str):
    """A call of Codex's own goal tool (create_goal)."""

    def f(conv: Conv, run: dict) -> Action:
        return Action("tool", "create_goal", {"objective": objective}, label="create_goal")

    return f


def checklist_id(conv: Conv, n: int) -> str:
    """The host's own id of the n-th checklist item created (read from the results)."""
    ids = []
    for call in conv.calls():
        if call.get("name") == "TaskCreate":
            r = conv.result_for(call)
            found = re.search(r"#?(\d+)", (r or {}).get("text") or "")
            ids.append(found.group(1) if found else str(len(ids) + 1))
    return ids[n] if n < len(ids) else str(n + 1)


def operator_cancels(title: str):
    """Before the step: the operator cancels the np task titled ``title`` from the CLI."""

    def wrap(step):
        def f(conv: Conv, run: dict) -> Action:
            marker = os.path.join(run["_logdir"], "operator-hooks.done")
            if not os.path.exists(marker) and run.get("dir"):
                env = {**os.environ, **(run.get("env") or {})}
                np = [run.get("np", "np"), "-C", run["dir"]]
                listed = subprocess.run(
                    [*np, "--actor", "operator", "--json", "t"],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=60,
                )
                tasks = json.loads(listed.stdout or "{}").get("tasks") or []
                ids = [t["id"] for t in tasks if t["title"] == title][:1]
                p = subprocess.run(
                    [
                        *np,
                        "--actor",
                        "operator",
                        "t",
                        "u",
                        "-i",
                        *ids,
                        "-s",
                        "cancelled",
                        "-r",
                        "not this week",
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=60,
                )
                with open(marker, "w") as fh:
                    json.dump({"ids": ids, "rc": p.returncode, "err": p.stderr}, fh)
            return step(conv, run)

        return f

    return wrap


SCRIPTS = {
    # --- the MCP tools, as the host names them
    "mcp": [
        mcp("np_resume", {}, "resume before any session (expect an error)"),
        mcp("np_start", {}),
        mcp("np_goal", {"title": GOAL_T, "description": GOAL_D}),
        mcp(
            "np_add",
            {
                "tasks": [
                    {
                        "title": TITLES[0],
                        "description": "print('hello')\nline two\nline three\nline four",
                    },
                    {"title": TITLES[1]},
                    {"title": TITLES[2]},
                ]
            },
        ),
        mcp("np_update", lambda c: {"updates": [{"id": tid(c, 0), "status": "in_progress"}]}),
        mcp(
            "np_update",
            lambda c: {
                "updates": [
                    {"id": tid(c, 0), "status": "completed"},
                    {"id": tid(c, 1), "status": "cancelled"},
                ]
            },
            "cancel without a reason (expect reason_required)",
        ),
        mcp(
            "np_update",
            lambda c: {
                "updates": [
                    {"id": tid(c, 0), "status": "completed"},
                    {"id": tid(c, 1), "status": "cancelled"},
                ],
                "reason": "hello.py's doctest covers it",
            },
            "retry with a reason",
        ),
        mcp(
            "np_edit",
            lambda c: {
                "id": tid(c, 2),
                "title": "Update the README usage section",
                "reason": "narrower scope",
            },
        ),
        operator(
            lambda c: [
                "t",
                "u",
                "-i",
                tid(c, 2),
                "-s",
                "cancelled",
                "-r",
                "operator: README is frozen this week",
            ],
            "cancel-t3",
        )(
            mcp(
                "np_plan",
                {"status": ["cancelled"]},
                "plan after the operator's change (expect the notice)",
            )
        ),
        mcp("np_plan", lambda c: {"id": tid(c, 0)}, "one task whole"),
        mcp(
            "np_update",
            lambda c: {"updates": [{"id": tid(c, 0), "status": "done"}]},
            "status 'done' (CLI alias; not in the enum)",
        ),
        mcp("np_update", {"updates": [{"id": "ffffff", "status": "completed"}]}, "unknown task id"),
        mcp("np_resume", {}, "resume"),
        parallel(
            mcp("np_plan", lambda c: {"id": tid(c, 0)}, "parallel read 1"),
            mcp("np_plan", {"status": ["completed"]}, "parallel read 2"),
            mcp(
                "np_update",
                lambda c: {"updates": [{"id": tid(c, 0), "status": "completed"}]},
                "parallel idempotent write",
            ),
        ),
    ],
    # --- the np CLI through the host's shell tool
    "cli": [
        shell("np r", "resume before any session (expect exit 1)"),
        shell("np s"),
        shell(
            f'np g s -t "{GOAL_T}" -d "Write hello.py that prints hello.\nKeep it to one file; no dependencies."'
        ),
        shell(f'np t a -t "{TITLES[0]}" -d "print(\'hello\')" -t "{TITLES[1]}" -t "{TITLES[2]}"'),
        shell(lambda c: f"np t u -i {tid(c, 0)} -s in_progress"),
        shell(
            lambda c: f"np t u -i {tid(c, 0)} -s completed -i {tid(c, 1)} -s cancelled",
            "cancel without a reason (expect exit 1)",
        ),
        shell(
            lambda c: (
                f'np t u -i {tid(c, 0)} -s completed -i {tid(c, 1)} -s cancelled -r "a doctest covers it"'
            ),
            "retry with a reason",
        ),
        shell('np t a "Fix it"', "usage error (expect exit 2)"),
        operator(
            lambda c: [
                "t",
                "u",
                "-i",
                tid(c, 2),
                "-s",
                "cancelled",
                "-r",
                "operator: README is frozen this week",
            ],
            "cancel-t3",
        )(shell("np p", "plan after the operator's change (expect the notice)")),
        shell("np r", "resume"),
    ],
    # --- one agent using both doors: MCP tools and the CLI in its shell
    "mixed": [
        mcp("np_start", {}),
        mcp("np_goal", {"title": GOAL_T, "description": GOAL_D}),
        mcp(
            "np_add", {"tasks": [{"title": TITLES[0]}, {"title": TITLES[1]}, {"title": TITLES[2]}]}
        ),
        shell("np p", "the plan through the CLI, after the agent's own MCP writes"),
        shell(lambda c: f"np t u -i {tid(c, 0)} -s in_progress", "a CLI write"),
        mcp("np_plan", {}, "the plan through MCP, after the agent's own CLI write"),
    ],
    # --- nothing: just answer, to see the tool list and side requests
    "probe": [],
    # the host's own checklist, bridged into np by np's hooks (np hooks claude)
    "hooks": [
        checklist(
            "TaskCreate",
            lambda c: {"subject": "Write hello.py", "description": "print hello"},
            "item 1",
        ),
        checklist(
            "TaskCreate",
            lambda c: {"subject": "Update the README", "description": "usage section"},
            "item 2",
        ),
        checklist(
            "TaskUpdate",
            lambda c: {"taskId": checklist_id(c, 0), "status": "in_progress"},
            "start item 1",
        ),
        operator_cancels("Update the README")(
            checklist(
                "TaskUpdate",
                lambda c: {"taskId": checklist_id(c, 0), "status": "completed"},
                "finish item 1",
            )
        ),
        # the same agent reads np over MCP: one actor with its hooks, so the cancel it was
        # told of after its last checklist write is no news here
        mcp("np_plan", {}, "the plan over MCP, after the hooks told the news"),
    ],
    # Qwen Code's todo_write (the whole list each time), bridged by np hooks qwen
    "hooks-todo": [
        todo_step(("Write hello.py", "in_progress"), ("Update the README", "pending")),
        operator_cancels("Update the README")(
            todo_step(("Write hello.py", "completed"), ("Update the README", "pending"))
        ),
    ],
    # two user prompts in one session (np hooks claude / codex, np mcp wired): the agent
    # keeps its own checklist and asks the operator over MCP; between the prompts the
    # operator answers and adds a task; the second prompt's first request carries both
    # (UserPromptSubmit)
    "turns": [
        first_item("Pick a licence"),
        mcp("np_plan", {}, "np's ids"),
        mcp(
            "np_edit",
            lambda c: {
                "id": id_of(c, "Pick a licence"),
                "question": "MIT or GPL?",
                "choices": ["MIT", "GPL"],
            },
            "ask the operator and go on",
        ),
    ],
    # Codex's own goal tool (create_goal) and plan tool (update_plan:
    # the whole list each time), bridged by np hooks codex; the operator cancels an item
    # between two plan writes (the second does not undo it, and brings the news back)
    "hooks-codex": [
        goal_step(GOAL_T),
        plan_step(("Write hello.py", "in_progress"), ("Update the README", "pending")),
        operator_cancels("Update the README")(
            plan_step(("Write hello.py", "completed"), ("Update the README", "pending"))
        ),
    ],
}


SEARCH_WORDS = ["np", "plan", "task", "todo"]  # what a model searches for (issue 22)


def fill_schema(schema) -> object:
    """A JSON value that satisfies a side request's schema (next-speaker checks, routers)."""
    if not isinstance(schema, dict):
        return {}
    if "enum" in schema:
        vals = schema["enum"]
        for pref in ("user", "flash", "false", "no"):
            if pref in vals:
                return pref
        return vals[0]
    ty = schema.get("type")
    if isinstance(ty, list):
        ty = ty[0]
    ty = (ty or "").lower()
    if ty == "object" or "properties" in schema:
        out = {}
        for k, v in (schema.get("properties") or {}).items():
            if k in ("next_speaker",):
                out[k] = "user"
            elif k == "ok" and (v or {}).get("type") == "boolean":
                out[k] = True  # Claude Code's /goal check: the condition holds
            else:
                out[k] = fill_schema(v)
        return out
    if ty == "array":
        return []
    if ty in ("number", "integer"):
        return schema.get("minimum", 0)
    if ty == "boolean":
        return False
    return "ok"


FUNC_RE = re.compile(r"<function>(\{.*?\})</function>", re.S)


def learn_deferred_tools(conv: Conv) -> None:
    """Claude Code defers MCP tools behind ToolSearch: its result carries the schemas as
    <function>{...}</function> lines. Add them to the tools the model knows."""
    known = {t["name"] for t in conv.tools}
    for r in conv.results():
        for m in FUNC_RE.finditer(r.get("text") or ""):
            try:
                f = json.loads(m.group(1))
            except Exception:
                continue
            if f.get("name") and f["name"] not in known:
                conv.tools.append(
                    {
                        "name": f["name"],
                        "description": f.get("description", ""),
                        "schema": f.get("parameters"),
                        "raw": f,
                        "deferred": True,
                    }
                )
                known.add(f["name"])


def decide(conv: Conv, run: dict, scenario: str) -> tuple[Action, str]:
    """The next assistant turn, and why (logged)."""
    if conv.wants_json:
        return Action(
            "text",
            text=json.dumps(
                fill_schema(conv.json_schema)
                if conv.json_schema
                else {"next_speaker": "user", "reasoning": "done"}
            ),
        ), "side:json"
    scenario = scenario.split("-", maxsplit=1)[0]  # "mcp-configflag" runs the "mcp" script
    script = SCRIPTS.get(scenario, [])
    learn_deferred_tools(conv)
    search = next((t for t in conv.tools if t["name"] in ("ToolSearch", "tool_search")), None)
    main = False
    if scenario == "mcp":
        done = [c for c in conv.calls() if "np_" in (c.get("name") or "")]
        main = (
            conv.tool("np_start") is not None
            or search is not None
            or bool(done)
            or shell_tool(conv) is not None
        )
    elif scenario == "mixed":
        st = shell_tool(conv)
        done = [
            c
            for c in conv.calls()
            if "np_" in (c.get("name") or "") or (st and c.get("name") == st["name"])
        ]
        main = conv.tool("np_start") is not None or search is not None or bool(done)
    elif scenario == "search":
        # the host's tool search, with the words a model would try for a planning tool
        if search is None:
            return Action("text", text="SCRIPT-DONE: no tool search"), "main:done@0"
        done = [c for c in conv.calls() if c.get("name") == search["name"]]
        if len(done) >= len(SEARCH_WORDS):
            return Action("text", text="SCRIPT-DONE: searched"), f"main:done@{len(done)}"
        query = {"query": SEARCH_WORDS[len(done)]}
        return Action("tool", search["name"], query, label="search"), f"main:step{len(done)}"
    elif scenario == "hooks" and conv.tool("todo_write") is not None:
        script = SCRIPTS["hooks-todo"]
        done = conv.calls()
        main = True
    elif scenario == "todo":  # Claude Code's TodoWrite, bridged by np hooks claude
        script = SCRIPTS["hooks-todo"]
        done = [c for c in conv.calls() if c.get("name") == "TodoWrite"]
        main = conv.tool("ToolSearch") is not None or conv.tool("TodoWrite") is not None
    elif scenario == "turns":
        if SECOND_TURN in "\n".join(conv.user_texts):
            n = len(conv.calls())
            return Action("text", text="SCRIPT-DONE: second turn."), f"main:turn2@{n}"
        done = [
            c
            for c in conv.calls()
            if c.get("name") in ("TaskCreate", "update_plan") or "np_" in (c.get("name") or "")
        ]
        main = conv.tool("np_plan") is not None
    elif scenario == "hooks" and conv.tool("create_goal") is not None:
        script = SCRIPTS["hooks-codex"]
        done = conv.calls()
        main = True
    elif scenario == "hooks":
        done = [
            c
            for c in conv.calls()
            if c.get("name") in ("TaskCreate", "TaskUpdate") or "np_" in (c.get("name") or "")
        ]
        main = conv.tool("TaskCreate") is not None or conv.tool("ToolSearch") is not None
    elif scenario == "cli":
        st = shell_tool(conv)
        done = [c for c in conv.calls() if st and c.get("name") == st["name"]]
        main = st is not None
    else:
        done = conv.calls()
        main = bool(conv.tools)
    if not main:
        return Action("text", text="np planning session"), "side:text"
    step = len(done)
    if scenario in ("hooks", "todo") and step >= len(script):
        # the operator adds a task as the agent finishes: the host's Stop hook holds it once
        return operator(lambda c: ["t", "a", "-t", "Write the changelog"], "at-end")(
            lambda c, r: Action("text", text=f"SCRIPT-DONE after {step} scripted tool calls.")
        )(conv, run), f"main:done@{step}"
    if step >= len(script) or len(conv.calls()) >= MAX_STEPS:
        return Action(
            "text", text=f"SCRIPT-DONE after {step} scripted tool calls."
        ), f"main:done@{step}"
    act = script[step](conv, run)
    if act.kind == "text" and act.text.startswith("SCRIPT-STOP") and search is not None:
        n_search = len([c for c in conv.calls() if c.get("name") == search["name"]])
        if n_search < 8:
            # first a keyword search, as the system prompt suggests; then by exact name
            missing = act.text.split("'")[1] if "'" in act.text else "np"
            q = {"query": "np"} if n_search == 0 else {"query": f"select:mcp__np__{missing}"}
            return Action(
                "tool", search["name"], q, label=search["name"]
            ), f"main:toolsearch@{step}"
    if (
        act.kind == "text"
        and act.text.startswith("SCRIPT-STOP")
        and scenario == "mcp"
        and shell_tool(conv)
    ):
        # no np tools yet (the host did not wait for np mcp): look around with the shell, as a model would
        st = shell_tool(conv)
        n_warm = len([c for c in conv.calls() if c.get("name") == st["name"]])
        if n_warm < 3:
            time.sleep(
                1.5
            )  # a real model thinks before it answers; the host may still be starting np
            return shell("ls -a", "look around (np tools not offered yet)")(
                conv, run
            ), f"main:warmup@{step}"
    return act, f"main:step{step}"


# ---------------------------------------------------------------- writers per wire API


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def sse(h, event: str | None, data) -> None:
    chunk = ""
    if event:
        chunk += f"event: {event}\n"
    chunk += (
        "data: "
        + (data if isinstance(data, str) else json.dumps(data, ensure_ascii=False))
        + "\n\n"
    )
    h.wfile.write(chunk.encode())
    h.wfile.flush()


def write_anthropic(h, body: dict, act: Action) -> dict:
    model = body.get("model", "claude-fake")
    mid = new_id("msg_")
    if act.kind == "tool":
        blocks = [
            {"type": "tool_use", "id": new_id("toolu_"), "name": a.name, "input": a.args}
            for a in act.calls()
        ]
        stop = "tool_use"
    else:
        blocks = [{"type": "text", "text": act.text}]
        stop = "end_turn"
    block = blocks[0]
    usage = {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    if not body.get("stream"):
        msg = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        h.send_json(msg)
        return msg
    h.start_sse()
    sse(
        h,
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1},
            },
        },
    )
    if act.kind == "tool":
        for i, b in enumerate(blocks):
            sse(
                h,
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": {**b, "input": {}}},
            )
            sse(
                h,
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": json.dumps(b["input"], ensure_ascii=False),
                    },
                },
            )
            sse(h, "content_block_stop", {"type": "content_block_stop", "index": i})
    else:
        sse(
            h,
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        sse(
            h,
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": act.text},
            },
        )
        sse(h, "content_block_stop", {"type": "content_block_stop", "index": 0})
    sse(
        h,
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 20},
        },
    )
    sse(h, "message_stop", {"type": "message_stop"})
    return {"block": block, "blocks": blocks, "stop_reason": stop}


def write_chat(h, body: dict, act: Action) -> dict:
    model = body.get("model", "fake")
    cid = new_id("chatcmpl-")
    now = int(time.time())
    usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    if act.kind == "tool":
        tcs = [
            {
                "id": new_id("call_"),
                "type": "function",
                "function": {"name": a.name, "arguments": json.dumps(a.args, ensure_ascii=False)},
            }
            for a in act.calls()
        ]
        msg = {"role": "assistant", "content": None, "tool_calls": tcs}
        finish = "tool_calls"
    else:
        msg = {"role": "assistant", "content": act.text}
        finish = "stop"
    if not body.get("stream"):
        out = {
            "id": cid,
            "object": "chat.completion",
            "created": now,
            "model": model,
            "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            "usage": usage,
        }
        h.send_json(out)
        return out
    h.start_sse()
    base = {"id": cid, "object": "chat.completion.chunk", "created": now, "model": model}
    if act.kind == "tool":
        for i, tc in enumerate(msg["tool_calls"]):
            delta = {
                "tool_calls": [
                    {
                        "index": i,
                        "id": tc["id"],
                        "type": "function",
                        "function": {"name": tc["function"]["name"], "arguments": ""},
                    }
                ]
            }
            if i == 0:
                delta = {"role": "assistant", "content": None, **delta}
            sse(h, None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            sse(
                h,
                None,
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": i,
                                        "function": {"arguments": tc["function"]["arguments"]},
                                    }
                                ]
                            },
                            "finish_reason": None,
                        }
                    ],
                },
            )
    else:
        sse(
            h,
            None,
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": None,
                    }
                ],
            },
        )
        sse(
            h,
            None,
            {
                **base,
                "choices": [{"index": 0, "delta": {"content": act.text}, "finish_reason": None}],
            },
        )
    sse(h, None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        sse(h, None, {**base, "choices": [], "usage": usage})
    sse(h, None, "[DONE]")
    return {"message": msg, "finish": finish}


def write_responses(h, body: dict, act: Action, tools: list[dict]) -> dict:
    rid = new_id("resp_")
    model = body.get("model", "fake")
    items = []
    if act.kind == "tool":
        for a in act.calls():
            t = next((x for x in tools if x["name"] == a.name), {})
            if (t.get("raw") or {}).get("type") == "tool_search":
                items.append(
                    {
                        "type": "tool_search_call",
                        "id": new_id("tsc_"),
                        "call_id": new_id("call_"),
                        "execution": "client",
                        "status": "completed",
                        "arguments": a.args,
                    }
                )
                continue
            it = {
                "type": "function_call",
                "id": new_id("fc_"),
                "call_id": new_id("call_"),
                "name": t.get("bare") or a.name,
                "arguments": json.dumps(a.args, ensure_ascii=False),
                "status": "completed",
            }
            if t.get("namespace"):
                it["namespace"] = t["namespace"]
            items.append(it)
    else:
        items.append(
            {
                "type": "message",
                "id": new_id("msg_"),
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": act.text, "annotations": []}],
            }
        )
    item = items[0]
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 120,
    }
    resp = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "completed",
        "output": items,
        "usage": usage,
    }
    if not body.get("stream", True):
        h.send_json(resp)
        return resp
    h.start_sse()
    sse(
        h,
        "response.created",
        {
            "type": "response.created",
            "sequence_number": 0,
            "response": {**resp, "status": "in_progress", "output": []},
        },
    )
    seq = 1
    for i, it in enumerate(items):
        sse(
            h,
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "sequence_number": seq,
                "output_index": i,
                "item": {**it, "status": "in_progress"},
            },
        )
        if act.kind == "text":
            sse(
                h,
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "sequence_number": seq + 1,
                    "item_id": it["id"],
                    "output_index": i,
                    "content_index": 0,
                    "delta": act.text,
                },
            )
        sse(
            h,
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "sequence_number": seq + 2,
                "output_index": i,
                "item": it,
            },
        )
        seq += 3
    sse(
        h,
        "response.completed",
        {"type": "response.completed", "sequence_number": seq, "response": resp},
    )
    return resp


def write_gemini(h, body: dict, act: Action, stream: bool) -> dict:
    if act.kind == "tool":
        parts = [{"functionCall": {"name": a.name, "args": a.args}} for a in act.calls()]
    else:
        parts = [{"text": act.text}]
    out = {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 20,
            "totalTokenCount": 120,
        },
        "modelVersion": "gemini-fake",
        "responseId": new_id("r"),
    }
    if not stream:
        h.send_json(out)
        return out
    h.start_sse()
    sse(h, None, out)
    return out


# ---------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, obj, code=200):
        data = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _route(self):
        path = urlparse(self.path).path
        m = re.match(r"^/h/([^/]+)/([^/]+)(/.*)?$", path)
        if not m:
            return "unknown", "probe", path
        return m.group(1), m.group(2), m.group(3) or "/"

    def _log(self, host, scenario, rec):
        d = os.path.join(LOG_DIR, f"{host}-{scenario}")
        os.makedirs(d, exist_ok=True)
        with _counter_lock:  # numbered by arrival in this folder (run.py empties it per run)
            nums = [int(f[:3]) for f in os.listdir(d) if re.fullmatch(r"\d{3}\.json", f)]
            n = max(nums, default=0) + 1
            with open(os.path.join(d, f"{n:03d}.json"), "w") as fh:
                json.dump(rec, fh, ensure_ascii=False, indent=1)
        return d

    def _run(self, host, scenario):
        d = os.path.join(LOG_DIR, f"{host}-{scenario}")
        os.makedirs(d, exist_ok=True)
        try:
            with open(os.path.join(d, "run.json")) as fh:
                run = json.load(fh)
        except Exception:
            run = {}
        run["_logdir"] = d
        return run

    def do_GET(self):
        host, scenario, rest = self._route()
        t = time.time()
        if rest.rstrip("/").endswith("/models"):
            out = {
                "object": "list",
                "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}],
                "models": [{"slug": "fake-model"}],
            }
        else:
            out = {"ok": True}
        self._log(
            host,
            scenario,
            {"t": t, "method": "GET", "path": self.path, "headers": self._headers(), "reply": out},
        )
        self.send_json(out)

    def _headers(self):
        return {
            k: (
                v
                if k.lower() not in ("authorization", "x-api-key", "x-goog-api-key")
                else "<redacted>"
            )
            for k, v in self.headers.items()
        }

    def do_POST(self):
        t = time.time()
        host, scenario, rest = self._route()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if (
            self.headers.get("Content-Encoding") == "zstd"
            or self.headers.get("Content-Encoding") == "gzip"
        ):
            import gzip

            try:
                raw = gzip.decompress(raw)
            except Exception:
                pass
        try:
            body = json.loads(raw or b"{}")
        except Exception:
            body = {"_unparsed": raw[:2000].decode("utf-8", "replace")}
        run = self._run(host, scenario)
        rec = {
            "t": t,
            "method": "POST",
            "path": self.path,
            "headers": self._headers(),
            "body": body,
        }
        try:
            if rest.endswith("/messages/count_tokens"):
                out = {"input_tokens": len(raw) // 4}
                self.send_json(out)
                rec["kind"], rec["reply"] = "anthropic:count_tokens", out
            elif rest.endswith("/messages"):
                conv = parse_anthropic(body)
                act, why = decide(conv, run, scenario)
                rec["kind"], rec["why"] = "anthropic", why
                rec["reply"] = write_anthropic(self, body, act)
            elif rest.endswith("/chat/completions"):
                conv = parse_chat(body)
                act, why = decide(conv, run, scenario)
                rec["kind"], rec["why"] = "chat", why
                rec["reply"] = write_chat(self, body, act)
            elif rest.endswith("/responses"):
                conv = parse_responses(body)
                act, why = decide(conv, run, scenario)
                rec["kind"], rec["why"] = "responses", why
                rec["reply"] = write_responses(self, body, act, conv.tools)
            elif ":countTokens" in rest:
                out = {"totalTokens": len(raw) // 4}
                self.send_json(out)
                rec["kind"], rec["reply"] = "gemini:countTokens", out
            elif ":streamGenerateContent" in rest or ":generateContent" in rest:
                conv = parse_gemini(body)
                act, why = decide(conv, run, scenario)
                rec["kind"], rec["why"] = "gemini", why
                rec["reply"] = write_gemini(self, body, act, ":streamGenerateContent" in rest)
            else:
                rec["kind"] = "unknown"
                self.send_json({"error": {"message": f"fake model: no route {rest}"}}, 404)
            if "conv" in dir():
                rec["parsed"] = {
                    "tools": [x["name"] for x in conv.tools],
                    "n_calls": len(conv.calls()),
                    "n_results": len(conv.results()),
                }
        except (BrokenPipeError, ConnectionResetError) as e:
            rec["error"] = f"client went away: {e!r}"
        except Exception as e:  # keep serving; log it
            import traceback

            rec["error"] = traceback.format_exc()
            try:
                self.send_json({"error": {"message": repr(e)}}, 500)
            except Exception:
                pass
        rec["t_done"] = time.time()
        self._log(host, scenario, rec)


def main() -> None:
    global LOG_DIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18765)
    ap.add_argument("--log-dir", default=LOG_DIR)
    a = ap.parse_args()
    LOG_DIR = a.log_dir
    os.makedirs(LOG_DIR, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)  # loopback only
    srv.daemon_threads = True
    print(f"fake model on 127.0.0.1:{a.port}, logs in {LOG_DIR}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
