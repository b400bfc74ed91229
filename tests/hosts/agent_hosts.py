"""Real agent hosts (installed from npm by ``.ci/hosts.sh``) driven by a scripted model.

Each run: a fresh ``HOME`` and git project, np where a pipx user has it (``~/.local/bin/np``,
with Debian's stock ``~/.profile``: Codex runs commands in a login shell), np wired into the
host exactly as the README says, and the host run non-interactively against the fake model
(``fakemodel.py``, the field study's harness) on 127.0.0.1. The host runs in a process
group of its own, ended by that group's id when its time is up.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import fakemodel as fm

from server.mcp.schema import TOOL_NAMES

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "np-ci" / "hosts"
# host -> (npm package, pinned version, its command); .ci/hosts.sh installs the same list.
HOSTS: dict[str, tuple[str, str, str]] = {
    "claude": ("@anthropic-ai/claude-code", "2.1.332", "claude"),
    "codex": ("@openai/codex", "0.171.0", "codex"),
    "gemini": ("@google/gemini-cli", "0.61.0", "gemini"),
    "opencode": ("opencode-ai", "1.18.33", "opencode"),
    "qwen": ("@qwen-code/qwen-code", "0.15.10", "qwen"),
    "cline": ("cline", "3.0.65", "cline"),
}
# Hosts that keep MCP tools behind a tool search by default (their first request would name
# np's tools in the system prompt instead of listing their schemas): np's tools mark
# themselves always loaded for Claude Code, and the README wires Qwen Code with its tool
# search off, so both list them (test_every_np_tool_is_findable).
DEFERRED = {"claude", "qwen"}
PROMPT = {
    "mcp": "Plan this small job with the np tools: print hello from a script.",
    "cli": "Plan this small job with the np command in the shell: print hello from a script.",
    "hooks": "Print hello from a script; keep a checklist as you go.",
    "search": "Find the tools to plan this small job: print hello from a script.",
    "turns": "Pick a licence for this project; keep a checklist as you go.",
    "todo": "Print hello from a script; keep a checklist as you go.",
    "goal": "/goal Print hello from a script",  # Claude Code: the person's goal
}
SECOND_PROMPT = f"{fm.SECOND_TURN}: go on."  # the user's second prompt (door "turns")
NP_TOOLS = tuple(TOOL_NAMES)  # every tool np mcp lists


def binary(host: str) -> Path:
    return CACHE / host / "node_modules" / ".bin" / HOSTS[host][2]


class FakeModel:
    """The scripted model on 127.0.0.1 (an ephemeral port), in this process."""

    def __init__(self, log_dir: Path) -> None:
        fm.LOG_DIR = str(log_dir)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), fm.Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Run:
    host: str
    door: str
    logdir: Path
    home: Path
    project: Path
    rc: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    started: float = 0.0  # wall clock, as the fake model's request times
    requests: list[dict[str, Any]] = field(default_factory=list)

    def load(self) -> None:
        self.requests = [json.loads(p.read_text()) for p in sorted(self.logdir.glob("[0-9]*.json"))]

    def main_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if str(r.get("why", "")).startswith("main:")]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _sh(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> int:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(
            cmd,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    return done.returncode


def configure(run: Run, port: int, env: dict[str, str]) -> list[str]:
    """Wire np into the host the README's way; returns the host's non-interactive command."""
    host, door, home, proj = run.host, run.door, run.home, run.project
    exe = str(binary(host))
    base = f"http://127.0.0.1:{port}/h/{host}/{door}"
    wiring = run.logdir / "wiring.log"
    prompt = PROMPT[door]
    mcp = door in ("mcp", "search")  # search: wired as for MCP
    if host == "claude":
        env.update(
            {
                "ANTHROPIC_BASE_URL": base,
                "ANTHROPIC_API_KEY": "sk-ant-fake",
                "DISABLE_AUTOUPDATER": "1",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_TELEMETRY": "1",
                "DISABLE_ERROR_REPORTING": "1",
            }
        )
        if mcp:  # README: claude mcp add np -- np mcp
            _sh([exe, "mcp", "add", "np", "--", "np", "mcp"], env, proj, wiring)
        if door in ("hooks", "turns", "todo", "goal"):  # README: np hooks claude --install
            _sh(["np", "hooks", "claude", "--install"], env, proj, wiring)
            _sh([exe, "mcp", "add", "np", "--", "np", "mcp"], env, proj, wiring)
        if door == "hooks":  # the operator has planned already: SessionStart shows the agent
            _sh(["np", "--actor", "operator", "s"], env, proj, wiring)
            _sh(["np", "--actor", "operator", "t", "a", "-t", "Check the licence"],
                env, proj, wiring)  # fmt: skip
        if door == "todo":  # Claude Code 2.1 offers TodoWrite instead of its Task tools
            env["CLAUDE_CODE_ENABLE_TASKS"] = "false"
        allowed = {"mcp": "mcp__np", "cli": "Bash", "todo": "TodoWrite mcp__np"}.get(
            door, "TaskCreate TaskUpdate mcp__np"
        )
        ask = ["-p", prompt] if door != "turns" else ["-p", "--input-format", "stream-json"]
        return [exe, *ask, "--output-format", "stream-json", "--verbose",
                "--allowedTools", allowed]  # fmt: skip
    if host == "codex":
        codex_home = home / ".codex"
        env["CODEX_HOME"] = str(codex_home)
        env["FAKE_API_KEY"] = "fake"
        # search: a model Codex knows (its metadata has tool search: Codex then keeps MCP
        # tools behind it, as with real OpenAI models); else fallback metadata, no search
        model = "gpt-5.5" if door == "search" else "fake-model"
        _write(
            codex_home / "config.toml",
            f'model = "{model}"\nmodel_provider = "fake"\napproval_policy = "never"\n'
            'sandbox_mode = "danger-full-access"\n\n[model_providers.fake]\nname = "fake"\n'
            f'base_url = "{base}/v1"\nwire_api = "responses"\nenv_key = "FAKE_API_KEY"\n'
            # README: Codex's plan tool is off unless enabled
            + ("\n[tools.update_plan]\nenabled = true\n" if door in ("hooks", "turns") else ""),
        )
        if mcp or door == "turns":  # README: codex mcp add np -- np mcp
            _sh([exe, "mcp", "add", "np", "--", "np", "mcp"], env, proj, wiring)
        if door in ("hooks", "turns", "goal"):  # README: np hooks codex --install (Codex is on the
            # person's PATH: np asks it to trust the project and np's hooks, as a person does)
            env["PATH"] = f"{exe.rsplit('/', 1)[0]}:{env['PATH']}"
            _sh(["np", "hooks", "codex", "--install"], env, proj, wiring)
        return [exe, "exec", "--json", "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox", prompt]  # fmt: skip
    if host in ("gemini", "qwen"):
        settings: dict[str, Any] = {
            "security": {"folderTrust": {"enabled": False}},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
        }
        if host == "gemini":
            env.update({"GEMINI_API_KEY": "fake", "GOOGLE_GEMINI_BASE_URL": base,
                        "GEMINI_CLI_NO_RELAUNCH": "true"})  # fmt: skip
            settings["security"]["auth"] = {"selectedType": "gemini-api-key"}
        else:
            env.update({"OPENAI_API_KEY": "fake", "OPENAI_BASE_URL": f"{base}/v1",
                        "OPENAI_MODEL": "fake-model"})  # fmt: skip
            settings["security"]["auth"] = {"selectedType": "openai"}
            if mcp:  # README: Qwen Code lists np's tools when its tool search is off
                settings["tools"] = {"exclude": ["tool_search"]}
        _write(home / f".{host}" / "settings.json", json.dumps(settings))
        if mcp:  # README: gemini mcp add np np mcp (qwen-code is a Gemini CLI fork)
            _sh([exe, "mcp", "add", "np", "np", "mcp"], env, proj, wiring)
        if door == "hooks":  # README: np hooks qwen --install
            _sh(["np", "hooks", host, "--install"], env, proj, wiring)
        return [exe, "-p", prompt, "--yolo", "--output-format", "stream-json"]
    if host == "opencode":
        env.update(
            {
                "OPENCODE_DISABLE_MODELS_FETCH": "1",
                "OPENCODE_DISABLE_AUTOUPDATE": "1",
                "OPENCODE_DISABLE_SHARE": "1",
                "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
            }
        )
        provider = {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Fake",
            "options": {"baseURL": f"{base}/v1", "apiKey": "fake"},
            "models": {"fake-model": {"name": "Fake model", "tool_call": True}},
        }
        cfg: dict[str, Any] = {
            "provider": {"fake": provider},
            "model": "fake/fake-model",
            "permission": {"edit": "allow", "bash": "allow", "webfetch": "allow"},
        }
        if mcp:  # README: opencode.json
            cfg["mcp"] = {"np": {"type": "local", "command": ["np", "mcp"]}}
        _write(proj / "opencode.json", json.dumps(cfg))
        return [exe, "run", "--print-logs", "--format", "json", "-m", "fake/fake-model", prompt]
    if host == "cline":
        _sh([exe, "auth", "-p", "openai-compatible", "-k", "fake", "-m", "fake-model",
             "-b", f"{base}/v1"], env, proj, wiring)  # fmt: skip
        if mcp:  # README: cline_mcp_settings.json, with its "timeout"
            servers = {"np": {"command": "np", "args": ["mcp"], "timeout": 30}}
            _write(
                home / ".cline" / "data" / "settings" / "cline_mcp_settings.json",
                json.dumps({"mcpServers": servers}),
            )
        return [exe, "--json", prompt]
    raise ValueError(host)


def run_host(host: str, door: str, np_bin: Path, model: FakeModel, base: Path,
             timeout: float = 240,
             between: Callable[[Run], None] | None = None) -> Run:  # fmt: skip
    """One run of ``host`` through ``door``; the model's requests are in ``run.requests``
    afterwards. Door ``turns``: two user prompts in one host session (Claude Code: two
    messages on its stream-json input; Codex: ``codex exec``, then ``codex exec resume
    --last``), with ``between(run)`` called after the first turn has ended."""
    name = f"{host}-{door}"
    logdir, home, project = (base / part / name for part in ("runs", "home", "proj"))
    for d in (logdir, home, project):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    run = Run(host, door, logdir, home, project)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "np").symlink_to(np_bin)  # where pipx puts it
    for dotfile in (".profile", ".bashrc"):
        if Path("/etc/skel", dotfile).exists():
            shutil.copy(Path("/etc/skel", dotfile), home / dotfile)
    node_dir = os.path.dirname(shutil.which("node") or "/usr/bin/node")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC", "OPENAI", "GEMINI", "CODEX", "NP_", "CLAUDE"))
    }
    env.update(
        {
            "HOME": str(home),
            "PATH": f"{home}/.local/bin:{node_dir}:/usr/local/bin:/usr/bin:/bin",
            "PWD": str(project),
        }
    )
    for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env.pop(key, None)
    cmd = configure(run, model.port, env)
    # what the fake model needs for the operator's change, made from the CLI mid-run
    _write(logdir / "run.json", json.dumps({"dir": str(project), "np": str(np_bin),
                                            "env": {"HOME": str(home)}}))  # fmt: skip
    started = time.monotonic()
    run.started = time.time()
    deadline = started + timeout
    with (logdir / "host.stdout").open("w") as out, (logdir / "host.stderr").open("w") as err:
        if door == "goal" and host == "codex":
            _person_sets_a_goal(run, cmd[0], env, err, deadline)
        elif door != "turns":
            _launch(run, cmd, env, out, err, deadline)
        elif host == "claude":
            _claude_turns(run, cmd, env, out, err, deadline, between)
        else:  # codex: the same session, resumed with the second prompt
            _launch(run, cmd, env, out, err, deadline)
            if not run.timed_out:
                if between is not None:
                    between(run)
                resume = [cmd[0], "exec", "resume", "--last", *cmd[2:-1], SECOND_PROMPT]
                _launch(run, resume, env, out, err, deadline)
    run.seconds = time.monotonic() - started
    _end_leftovers(home)
    run.load()
    return run


def _launch(run: Run, cmd: list[str], env: dict[str, str], out: IO[str], err: IO[str],
            deadline: float) -> None:  # fmt: skip
    """Run the host to its end (or its time), in a process group of its own."""
    proc = subprocess.Popen(cmd, env=env, cwd=run.project, stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        run.rc = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        run.timed_out = True
    _end_group(proc)
    run.rc = proc.returncode


def _person_sets_a_goal(run: Run, codex: str, env: dict[str, str], err: IO[str],
                        deadline: float) -> None:  # fmt: skip
    """A person's goal, set the way Codex's own screen sets it (its /goal command is the
    app server's thread/goal/set, origin "user"), then a turn, through ``codex app-server``
    as an app-server client drives it; ends when that turn has completed."""
    from server.cli.codex_trust import AppServer, CodexUnavailable

    left = max(deadline - time.monotonic(), 1)
    server = AppServer(codex, run.project, env, left, stderr=err, start_new_session=True)
    try:
        server.start()
        thread = server.request("thread/start", {"cwd": str(run.project)})["thread"]["id"]
        goal = {"threadId": thread, "objective": fm.GOAL_T, "origin": "user"}
        server.request("thread/goal/set", goal)
        prompt = [{"type": "text", "text": "Go on."}]
        server.request("turn/start", {"threadId": thread, "input": prompt})
        server.notification("turn/completed")
    except CodexUnavailable:
        run.timed_out = True
    finally:
        server.close()
        _end_group(server.proc)
        run.rc = server.proc.returncode


def _event_type(line: str) -> object:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event.get("type") if isinstance(event, dict) else None


def _end_group(proc: subprocess.Popen[Any]) -> None:
    """End this run's own process group, by its id: the host if its time is up, and the
    servers it left running in its group."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _claude_turns(run: Run, cmd: list[str], env: dict[str, str], out: IO[str], err: IO[str],
                  deadline: float, between: Callable[[Run], None] | None) -> None:  # fmt: skip
    """Claude Code with two user messages on its stream-json input: the second is written
    once the first turn's result is out (its Stop hook has run) and ``between`` is done."""
    proc = subprocess.Popen(cmd, env=env, cwd=run.project, stdout=subprocess.PIPE, stderr=err,
                            stdin=subprocess.PIPE, start_new_session=True, text=True)  # fmt: skip
    results: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stdout or ():
            out.write(line)
            out.flush()
            if '"result"' in line and _event_type(line) == "result":
                results.put(line)
        results.put(None)

    threading.Thread(target=read, daemon=True).start()
    assert proc.stdin is not None
    try:
        for n, prompt in enumerate((PROMPT["turns"], SECOND_PROMPT)):
            message = {"type": "user", "message": {"role": "user", "content": prompt}}
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            try:
                ended = results.get(timeout=max(deadline - time.monotonic(), 1))
            except queue.Empty:
                ended = None
            if ended is None:
                run.timed_out = True
                break
            if n == 0 and between is not None:
                between(run)
        proc.stdin.close()
        run.rc = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        run.timed_out = True
    finally:
        _end_group(proc)


def as_operator(run: Run, np_bin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The operator's np command on this run's project (its HOME: the same database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NP_")}
    env["HOME"] = str(run.home)
    for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        env.pop(key, None)
    cmd = [str(np_bin), "-C", str(run.project), "--actor", "operator", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def _end_leftovers(home: Path) -> None:
    """End, by PID, the processes this run started that outlived its process group (Cline
    starts a hub daemon in a session of its own): those with this run's HOME."""
    mark = f"HOME={home}".encode() + b"\0"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"\0" + mark in b"\0" + environ:
            try:
                os.kill(int(entry.name), signal.SIGTERM)
            except ProcessLookupError:
                pass


def conversation(request: dict[str, Any]) -> fm.Conv | None:
    kind, body = request.get("kind") or "", request.get("body") or {}
    parse = {"anthropic": fm.parse_anthropic, "chat": fm.parse_chat,
             "responses": fm.parse_responses, "gemini": fm.parse_gemini}.get(kind)  # fmt: skip
    return parse(body) if parse else None


def np_tools_offered(run: Run, request: dict[str, Any]) -> int:
    """How many of np's tools ``request`` offers the model (by schema; for hosts that
    defer MCP tools behind a search, by name in the request, with np not "still
    connecting")."""
    conv = conversation(request)
    if conv is None:
        return 0
    names = {t["name"] for t in conv.tools}
    listed = sum(any(n.endswith(tool) for n in names) for tool in NP_TOOLS)
    if run.host in DEFERRED and listed < len(NP_TOOLS):
        text = json.dumps(request.get("body"))
        if "still connecting" in text and "\\nnp\\n" in text:
            return listed
        return sum(f"__{tool}" in text or f'_{tool}"' in text for tool in NP_TOOLS)
    return listed


def tool_results(run: Run) -> list[str]:
    """Every tool result the model was shown, as text (JSON-wrapped text unwrapped)."""
    last = run.main_requests()[-1] if run.main_requests() else None
    conv = conversation(last) if last else None
    if conv is None:
        return []
    return [fm.deep_text(str(r.get("text") or "")) for r in conv.results()]


def forwarded_bytes(run: Run) -> int:
    """Bytes of np's tools as the host forwarded them to the model (the largest request)."""
    best = 0
    for request in run.main_requests():
        conv = conversation(request)
        if conv is None:
            continue
        tools = [
            t.get("raw", t) for t in conv.tools if any(t["name"].endswith(n) for n in NP_TOOLS)
        ]
        size = len(json.dumps(tools, ensure_ascii=False, separators=(",", ":")).encode())
        best = max(best, size)
    return best


def findable(run: Run) -> dict[str, list[str]]:
    """What of np the model could reach: np's tools offered with their schemas in the last
    request (``"offered"``), and for each tool-search query, the np tools it returned."""
    mains = run.main_requests()
    convs = [c for c in (conversation(r) for r in mains) if c is not None]
    if not convs:
        return {}
    schemas = {x["name"] for c in convs for x in c.tools if x.get("schema")} - {
        x["name"] for c in convs for x in c.tools if x.get("deferred")
    }
    out = {"offered": [t for t in NP_TOOLS if any(name.endswith(t) for name in schemas)]}
    conv = convs[-1]
    for call in conv.calls():
        if call.get("name") in ("ToolSearch", "tool_search"):
            result = conv.result_for(call) or {}
            text = fm.deep_text(str(result.get("text") or ""))
            out[str((call.get("args") or {}).get("query"))] = [t for t in NP_TOOLS if t in text]
    return out


def hook_context(run: Run, request: dict[str, Any]) -> str:
    """The text a UserPromptSubmit hook added to ``request``, found where the host puts it:
    Claude Code, a text block "UserPromptSubmit hook additional context: …"; Codex, a
    developer message right after the user's prompt."""
    body = request.get("body") or {}
    if run.host == "claude":
        blocks = [b for m in body.get("messages") or [] if isinstance(m.get("content"), list)
                  for b in m["content"]]  # fmt: skip
        texts = [str(b.get("text")) for b in blocks if b.get("type") == "text"]
        mark = "UserPromptSubmit hook additional context:"
        return "\n".join(text for text in texts if text.startswith(mark))
    items = body.get("input") or []
    prompts = [i for i, item in enumerate(items) if item.get("role") == "user"]
    after = items[prompts[-1] + 1 :] if prompts else []
    return "\n".join(fm.text_of(i.get("content")) for i in after if i.get("role") == "developer")
