"""The CLI's import path stays lean: each verb loads only what it runs.

``np prompt``, ``np --help`` and ``np help`` load neither sqlite3 nor attrs; table verbs load
no protocol library (pygls, lsprotocol, cattrs), no rich, and on SQLite no psycopg. Checked
in a fresh interpreter that runs ``server.cli.main`` and then lists ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HEAVY = (
    "sqlite3",
    "attrs",
    "attr",
    "sqlite_utils",
    "pygls",
    "lsprotocol",
    "cattrs",
    "rich",
    "psycopg",
)

PROBE = """
import json, sys
from server.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout = sys.__stdout__
print("\\n" + json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)))
""".replace("HEAVY", repr(HEAVY))


def probe(script: str, *argv: str, cwd: Path, env: dict[str, str]) -> Any:
    """What ``script`` (run with ``argv`` in a fresh interpreter) prints last, as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def loaded(*argv: str, cwd: Path, env: dict[str, str]) -> set[str]:
    return {m.split(".")[0] for m in probe(PROBE, *argv, cwd=cwd, env=env)}


def test_prompt_and_help_load_no_database_code(workdir: Path, np_env: dict[str, str]) -> None:
    for argv in (("prompt",), ("--help",), ("help", "t", "u"), ("t", "u", "--help"), ()):
        assert loaded(*argv, cwd=workdir, env=np_env) == set(), argv


def test_table_verbs_load_no_protocol_library(workdir: Path, np_env: dict[str, str]) -> None:
    env = {**np_env, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert loaded("s", cwd=workdir, env=env) <= {"sqlite3", "attrs", "attr", "sqlite_utils"}
    for argv in (("p",), ("t", "a", "-t", "x"), ("log",), ("export",), ("ls",)):
        mods = loaded(*argv, cwd=workdir, env=env)
        assert "sqlite3" in mods, argv  # it did run
        assert not mods & {"pygls", "lsprotocol", "cattrs", "rich"}, (argv, mods)
        assert "psycopg" not in mods, argv  # SQLite mode never loads the PostgreSQL driver


# What a status change (``np t u``, the commonest write) loads of np itself: the verb table,
# the command table, the store's core and the SQLite engine, the plan's text. Anything else
# is loaded by the verb that needs it (the change feed, the maintenance verbs, PostgreSQL,
# the hints, the other doors). A module added to this path costs every agent's every write
# (bench/cli_latency.py): add it here only on purpose.
WRITE_PATH = {
    *("server", "server.actors", "server.exits", "server.version"),
    *("server.cli", "server.cli.argv", "server.cli.output", "server.cli.verbs"),
    *("server.commands", "server.commands.args", "server.commands.evidence"),
    *("server.commands.table", "server.commands.wire"),
    *("server.text", "server.text.guide", "server.text.render"),
    *("store", "store.agents", "store.clock", "store.engine", "store.errors", "store.ids"),
    *("store.limits", "store.paths", "store.queries", "store.rows", "store.settings"),
    *("store.store", "store.text", "store.types", "store.unit"),
    *("store.sqlite", "store.sqlite.conn", "store.sqlite.engine", "store.sqlite.schema"),
}
# Standard-library modules a write does without (each is a measurable share of a run).
NOT_ON_WRITE_PATH = {
    *("argparse", "asyncio", "dataclasses", "decimal", "gettext", "hashlib", "locale"),
    *("logging", "random", "selectors", "socket", "subprocess", "tempfile", "textwrap"),
    *("uuid",),
}

ALL_PROBE = """
import json, sys
from server.cli import main
code = main(sys.argv[1:])
sys.stdout = sys.__stdout__
print("\\n" + json.dumps([code, sorted(sys.modules)]))
"""


def test_a_status_change_loads_only_the_write_path(workdir: Path, np_env: dict[str, str]) -> None:
    env = {**np_env, "PYTHONPATH": os.pathsep.join(sys.path)}

    def run(*argv: str) -> tuple[int, set[str]]:
        code, modules = probe(ALL_PROBE, *argv, cwd=workdir, env=env)
        return code, set(modules)

    assert run("s")[0] == 0
    assert run("t", "a", "-t", "x")[0] == 0
    plan = subprocess.run(
        [sys.executable, "-m", "server.cli", "p", "--json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    task = json.loads(plan.stdout)["tasks"][0]["id"]
    for status in ("in_progress", "completed"):  # both record the folder's git facts
        code, modules = run("t", "u", "-i", task, "-s", status)
        assert code == 0, status
        ours = {m for m in modules if m.split(".")[0] in ("store", "server")}
        assert ours == WRITE_PATH, (sorted(ours - WRITE_PATH), sorted(WRITE_PATH - ours))
        assert not modules & NOT_ON_WRITE_PATH, sorted(modules & NOT_ON_WRITE_PATH)
