"""An empty environment variable counts as unset, everywhere (issue 20, kind 7).

A sweep over every variable np reads (``HOME``, ``XDG_DATA_HOME``, each ``NP_*``, ``PWD``,
``TERM``): the same commands run with the variable unset and with it set to ``""`` must
give the same database, folders, actor and answers. ``HOME=""`` is the example of the
issue: Python expands ``~`` to ``/`` then, which put the database at
``/.local/share/np/np.db`` and ``-o ~/plan.md`` at ``/plan.md``.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import np_command

VARIABLES = (
    "HOME",
    "XDG_DATA_HOME",
    "NP_DB",
    "NP_BUSY_TIMEOUT",
    "NP_ACTOR",
    "NP_SCOPE",
    "NP_DEBUG",
    "PWD",
    "TERM",
)
PW_HOME = pwd.getpwuid(os.getuid()).pw_dir


def _run(env: dict[str, str], cwd: Path, *args: str) -> Any:
    proc = subprocess.run(
        [*np_command(), *args, "--json"],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    out = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, out


def _probe(base: Path, name: str, value: str | None) -> dict[str, Any]:
    """What np does with ``name`` unset (None) or set to ``value``, in a fresh folder."""
    case = base / ("unset" if value is None else "empty")
    work = case / "project"
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    # np's database stays in the case folder whatever the variable: through XDG_DATA_HOME
    # when the variable is one that decides the database's place, else through NP_DB.
    if name in ("HOME", "XDG_DATA_HOME", "NP_DB"):
        env["XDG_DATA_HOME"] = str(case / "xdg")
        env["HOME"] = str(case / "home")
    else:
        env["NP_DB"] = str(case / "np.db")
        env["HOME"] = str(case / "home")
    env.pop(name, None)
    if value is not None:
        env[name] = value
    found: dict[str, Any] = {}
    code, doctor = _run(env, work, "doctor")
    found["db"] = doctor["path"] if doctor else code
    code, started = _run(env, work, "s")
    found["start"] = (code, started and started.get("session", {}).get("dir"))
    code, _ = _run(env, work, "t", "a", "-t", "x")
    found["add"] = code
    code, log = _run(env, work, "log")
    found["actors"] = sorted({e.get("actor") for e in (log or {}).get("events", [])})
    code, there = _run(env, work, "p", "-C", "~")  # a read at the home folder
    found["home"] = (code, (there or {}).get("error", {}).get("data", {}).get("dir"))
    return json.loads(json.dumps(found).replace(str(case), "<case>"))


@pytest.mark.parametrize("name", VARIABLES)
def test_an_empty_variable_counts_as_unset(tmp_path: Path, name: str) -> None:
    unset = _probe(tmp_path, name, None)
    empty = _probe(tmp_path, name, "")
    assert empty == unset, name
    assert unset["add"] == 0 and unset["start"][0] == 0, unset


def test_empty_home_is_the_password_entrys_home_never_the_root(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env["HOME"] = ""
    _, doctor = _run(env, tmp_path, "doctor")
    assert doctor["path"] == os.path.join(PW_HOME, ".local", "share", "np", "np.db"), doctor
    assert not doctor["path"].startswith("/.local")
    # a path option's ~ is that home too (refused here only because the file is absent)
    env["NP_DB"] = str(tmp_path / "np.db")
    proc = subprocess.run(
        [*np_command(), "backup", "~/np-test-never-written.db", "--json"],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 3, proc  # no database to back up: nothing written anywhere
    assert not Path("/np-test-never-written.db").exists()
