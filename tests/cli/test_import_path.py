"""The CLI's import path stays lean: each verb loads only what it runs.

``np prompt``, ``np --help`` and ``np help`` load neither sqlite3 nor attrs; table verbs load
no protocol library (pygls, lsprotocol, cattrs) and no rich. Checked in a fresh interpreter
that runs ``server.cli.main`` and then lists ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("sqlite3", "attrs", "attr", "sqlite_utils", "pygls", "lsprotocol", "cattrs", "rich")

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


def loaded(*argv: str, cwd: Path, env: dict[str, str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return {m.split(".")[0] for m in json.loads(proc.stdout.strip().splitlines()[-1])}


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
