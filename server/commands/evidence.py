"""Evidence on "done": cheap git facts about a session's working tree (issue 23).

When a task moves to in progress, and again when it is completed, np records in the event
what the working tree looked like: ``HEAD`` and a digest of the changed and untracked files
(each file's git status, index blob and size and modification time: no file is read).
At completion it compares with the facts recorded when the task started and records the
difference (``change``: files changed, commits made), which the operator's doors show as
"3 files changed, 1 commit" or "no change" (``server.text.render.git_summary``).

Never slow: one ``git status`` (no optional locks: it never writes the index), and at
completion at most two more git commands, all under one deadline (:data:`TIME_LIMIT`).
When git is missing, the folder is not a git work tree, or the deadline passes (a huge
tree), the facts say ``skipped`` and why, and the write goes on.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

# hashlib, shutil and subprocess are imported where they are used: a status change in a
# folder outside git (most CLI writes that are not in a repository) never pays for them.

JSON = dict[str, Any]

TIME_LIMIT = 1.0  # seconds for all the git commands of one np command, in total
FILES_KEPT = 200  # changed files listed one by one (by digest); beyond, only the digest
_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


class _Late(Exception):
    """The deadline passed."""


def _git(directory: str, args: list[str], deadline: float) -> subprocess.CompletedProcess[bytes]:
    import subprocess

    left = deadline - time.monotonic()
    if left <= 0:
        raise _Late
    try:
        return subprocess.run(
            ["git", "-C", directory, *args],
            capture_output=True,
            timeout=left,
            env={**os.environ, **_ENV},
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _Late from None


def _skipped(why: str) -> JSON:
    return {"skipped": why}


def _late() -> JSON:
    return _skipped(f"git took longer than {TIME_LIMIT:g} s (a very large tree)")


def facts(directory: str, deadline: float | None = None) -> JSON:
    """The working tree's git facts at ``directory``: ``head`` (None before the first
    commit), ``dirty`` (how many changed or untracked files), ``digest`` (of all of them)
    and ``files`` (path → digest, when at most :data:`FILES_KEPT`); or ``skipped`` and why.
    Never raises."""
    deadline = time.monotonic() + TIME_LIMIT if deadline is None else deadline
    if not _in_work_tree(directory):
        return _skipped("not a git repository")
    import shutil

    if shutil.which("git") is None:
        return _skipped("git is not installed")
    try:
        done = _git(
            directory,
            ["status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all"],
            deadline,
        )
    except _Late:
        return _late()
    except OSError as exc:
        return _skipped(f"git could not run ({exc.strerror or exc})")
    if done.returncode != 0:
        if b"not a git repository" in done.stderr:
            return _skipped("not a git repository")
        return _skipped("git status failed: " + done.stderr.decode(errors="replace").strip()[:200])
    head: str | None = None
    entries: dict[str, str] = {}
    records = done.stdout.split(b"\0")
    i = 0
    while i < len(records):
        record = records[i].decode("utf-8", errors="surrogateescape")
        i += 1
        if not record:
            continue
        kind = record[0]
        if kind == "#":
            if record.startswith("# branch.oid "):
                oid = record.split()[2]
                head = None if oid == "(initial)" else oid
            continue
        fields = {"1": 8, "2": 9, "u": 10, "?": 1, "!": 1}.get(kind)
        if fields is None:
            continue
        parts = record.split(" ", fields)
        path = parts[-1]
        if kind == "2":
            i += 1  # the original path of a rename follows
        if kind == "!":
            continue
        entries[path] = _file_digest(directory, path, " ".join(parts[1:-1]))
    out: JSON = {"head": head, "dirty": len(entries), "digest": _digest(entries)}
    if len(entries) <= FILES_KEPT:
        out["files"] = entries
    return out


def _in_work_tree(directory: str) -> bool:
    """Whether ``directory`` or a folder above it holds ``.git`` (a folder, or a worktree's
    file), or ``GIT_DIR`` names a repository: a few ``stat`` calls, so a folder outside
    git costs no git process."""
    if os.environ.get("GIT_DIR"):
        return True
    here = os.path.abspath(directory)
    while True:
        if os.path.lexists(os.path.join(here, ".git")):
            return True
        parent = os.path.dirname(here)
        if parent == here:
            return False
        here = parent


def _file_digest(directory: str, path: str, status: str) -> str:
    """A file's git status line plus its size and modification time: changes when the
    file does, without reading it."""
    import hashlib

    try:
        top = os.path.join(directory, path)
        st = os.lstat(top)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except (OSError, ValueError):
        stamp = "gone"
    return hashlib.sha256(f"{status}|{stamp}".encode(errors="surrogateescape")).hexdigest()[:12]


def _digest(entries: dict[str, str]) -> str:
    import hashlib

    h = hashlib.sha256()
    for path in sorted(entries):
        h.update(f"{path}\0{entries[path]}\0".encode(errors="surrogateescape"))
    return h.hexdigest()[:16]


def change(directory: str, start: JSON, end: JSON, deadline: float | None = None) -> JSON:
    """What changed between the ``start`` and ``end`` facts: ``changed`` (bool), ``files``
    (how many files differ, None when too many to tell one by one) and ``commits`` (None
    when git cannot count them, e.g. history was rewritten); or ``skipped`` and why."""
    deadline = time.monotonic() + TIME_LIMIT if deadline is None else deadline
    if "skipped" in start or "skipped" in end:
        return _skipped(start.get("skipped") or end.get("skipped") or "no facts")
    if start.get("head") == end.get("head") and start.get("digest") == end.get("digest"):
        return {"changed": False, "files": 0, "commits": 0}
    files: set[str] = set()
    commits: int | None = 0
    before, after = start.get("head"), end.get("head")
    try:
        if before != after and after is not None:
            commits = None
            if before is not None:
                counted = _git(directory, ["rev-list", "--count", f"{before}..{after}"], deadline)
                if counted.returncode == 0:
                    commits = int(counted.stdout.strip() or 0)
                diff = _git(directory, ["diff", "--name-only", "-z", before, after], deadline)
                if diff.returncode == 0:
                    files.update(
                        p.decode(errors="surrogateescape") for p in diff.stdout.split(b"\0") if p
                    )
            else:
                counted = _git(directory, ["rev-list", "--count", after], deadline)
                if counted.returncode == 0:
                    commits = int(counted.stdout.strip() or 0)
    except _Late:
        return _late()
    old, new = start.get("files"), end.get("files")
    if old is None or new is None:
        if start.get("digest") != end.get("digest") and not files:
            return {"changed": True, "files": None, "commits": commits}
    else:
        files.update(p for p in {*old, *new} if old.get(p) != new.get(p))
    return {"changed": bool(files) or bool(commits), "files": len(files), "commits": commits}
