"""Trust np's hooks in Codex as a person does it in Codex, through Codex itself.

Codex 0.171.0 runs a hook from a project's ``.codex/hooks.json`` only when (1) the project is
trusted (``[projects."<dir>"] trust_level = "trusted"`` in ``~/.codex/config.toml``: what its
"trust this folder?" question saves) and (2) the hook is trusted (``[hooks.state."<key>"]
trusted_hash = "sha256:…"``: what its ``/hooks`` review screen saves; a hook whose hash no
longer matches is "modified" and does not run). Both are written here the way Codex's own
screens write them: through Codex's app server (``codex app-server``, JSON-RPC lines on
stdio): ``hooks/list`` names each hook's key and current hash (np never computes Codex's
hash), ``config/batchWrite`` saves the trust, and a last ``hooks/list`` checks that np's
hooks are trusted before anything is claimed. Only hooks that run ``np bridge codex`` from
the file np wrote are trusted.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from server.version import __version__

WAIT_SECONDS = 30.0  # for Codex's app server to start and answer


class CodexUnavailable(Exception):
    """Codex could not be asked (not installed, or its app server did not answer)."""


class AppServer:
    """``codex app-server`` on pipes: one request at a time, each answer awaited (the
    notifications that came meanwhile are kept for :meth:`notification`); everything within
    ``wait`` seconds of the start."""

    def __init__(
        self,
        codex: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        wait: float = WAIT_SECONDS,
        **popen: Any,
    ) -> None:
        popen.setdefault("stderr", subprocess.DEVNULL)
        self.proc = subprocess.Popen(
            [codex, "app-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
            env=env,
            text=True,
            encoding="utf-8",
            **popen,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        self.next_id = 0
        self.deadline = time.monotonic() + wait
        self.notes: list[dict[str, Any]] = []

    def start(self) -> None:
        """The handshake every client makes first."""
        self.request("initialize", {"clientInfo": {"name": "np", "version": __version__}})
        self.send({"method": "initialized"})

    def _read(self, out: IO[str] | None) -> None:
        for line in out or ():
            self.lines.put(line)
        self.lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise CodexUnavailable(f"codex app-server stopped ({exc})") from exc

    def _next(self, waiting_for: str) -> dict[str, Any]:
        while True:
            left = self.deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.0))
            except queue.Empty:
                raise CodexUnavailable(f"codex app-server: no {waiting_for} in time") from None
            if line is None:
                raise CodexUnavailable(f"codex app-server ended before {waiting_for}")
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                return message

    def notification(self, method: str) -> dict[str, Any]:
        """The params of the first notification ``method`` not yet taken (waiting for it)."""
        while True:
            for note in self.notes:
                if note.get("method") == method:
                    self.notes.remove(note)
                    params: dict[str, Any] = note.get("params") or {}
                    return params
            self.notes.append(self._next(method))

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self._next(f"answer to {method}")
            if message.get("id") != self.next_id or "method" in message:
                if "method" in message and "id" not in message:
                    self.notes.append(message)  # config warnings, status, turn events
                continue
            if "error" in message:
                error = message["error"]
                raise CodexUnavailable(f"Codex refused {method}: {error.get('message', error)}")
            return message.get("result")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # this process, by its own handle
            self.proc.wait()


def _np_hooks(server: AppServer, project: Path, hooks_file: Path, command: str) -> list[Any]:
    listed = server.request("hooks/list", {"cwds": [str(project)]}) or {}
    return [
        hook
        for entry in listed.get("data") or []
        for hook in entry.get("hooks") or []
        if hook.get("command") == command
        and Path(str(hook.get("sourcePath"))).resolve() == hooks_file.resolve()
    ]


def trust(project: Path, hooks_file: Path, command: str, wanted: int) -> str:
    """Have Codex trust ``project`` and its hooks that run ``command`` (``wanted`` of them);
    returns what was done, in words. Raises :class:`CodexUnavailable` when Codex cannot be
    asked or does not end up trusting them."""
    codex = shutil.which("codex")
    if codex is None:
        raise CodexUnavailable("codex is not on PATH")
    server = AppServer(codex, project)
    try:
        server.start()
        done = []
        hooks = _np_hooks(server, project, hooks_file, command)
        if not hooks:  # a project's hooks are listed only once the project is trusted
            folder = {str(project): {"trust_level": "trusted"}}
            edit = {"keyPath": "projects", "value": folder, "mergeStrategy": "upsert"}
            server.request("config/batchWrite", {"edits": [edit]})
            done.append(f'this project (projects."{project}".trust_level = "trusted")')
            hooks = _np_hooks(server, project, hooks_file, command)
        new = {h["key"]: {"trusted_hash": h["currentHash"]} for h in hooks if _untrusted(h)}
        if new:
            edit = {"keyPath": "hooks.state", "value": new, "mergeStrategy": "upsert"}
            server.request("config/batchWrite", {"edits": [edit]})
        hooks = _np_hooks(server, project, hooks_file, command)
    finally:
        server.close()
    trusted = [h for h in hooks if h.get("trustStatus") == "trusted" and h.get("enabled")]
    if len(trusted) != wanted:
        raise CodexUnavailable(f"Codex lists {len(trusted)} of np's {wanted} hooks as trusted")
    done.append(f"np's {wanted} hooks (their hashes under [hooks.state], as /hooks saves them)")
    config = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex") / "config.toml"
    return f"Codex now trusts {' and '.join(done)}, in {config}."


def _untrusted(hook: dict[str, Any]) -> bool:
    return bool(hook.get("key") and hook.get("currentHash")) and hook["trustStatus"] != "trusted"
