"""When np creates its database, its folder is 0700 and the file 0600 — whatever the umask,
at the default location and at an explicit one, and for SQLite's -wal/-shm files too."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import np_cmd

UMASK_THEN_EXEC = (
    "import os, sys\nos.umask(int(sys.argv[1], 8))\nos.execv(sys.argv[2], sys.argv[2:])\n"
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _np_with_umask(umask: int, args: list[str], env: dict[str, str], cwd: Path) -> None:
    command = np_cmd()
    if len(command) == 1:
        command = [sys.executable, command[0]]
    proc = subprocess.run(
        [sys.executable, "-c", UMASK_THEN_EXEC, f"{umask:o}", *command, *args],
        env=env,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_explicit_path_folders_0700_file_0600(tmp_path, workdir, umask):
    db = tmp_path / "new" / "nested" / "np.db"
    env = {**os.environ, "NP_DB": str(db)}
    _np_with_umask(umask, ["s"], env, workdir)
    assert _mode(db) == 0o600
    assert _mode(db.parent) == 0o700
    # Missing parents above np's own folder follow the umask, as with `mkdir -p`.


def test_default_location_is_private(tmp_path, workdir):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NP_DB", "XDG_DATA_HOME")}
    env["HOME"] = str(home)
    _np_with_umask(0o000, ["s"], env, workdir)
    db = home / ".local" / "share" / "np" / "np.db"
    assert _mode(db) == 0o600
    assert _mode(db.parent) == 0o700


def test_wal_and_shm_files_are_private_too(tmp_path, workdir):
    from store import Store

    db = tmp_path / "data" / "np.db"
    old = os.umask(0)
    try:
        with Store(str(db)) as store:
            with store.transaction("test") as unit:
                unit.start_session(str(workdir))
            # The connection is still open, so SQLite's side files exist now.
            for side in ("-wal", "-shm"):
                path = Path(str(db) + side)
                assert path.exists()
                assert _mode(path) == 0o600, side
    finally:
        os.umask(old)


def test_an_existing_file_keeps_its_mode(tmp_path, workdir):
    """np tightens only what it creates; it never chmods a user's own file."""
    db = tmp_path / "data" / "np.db"
    db.parent.mkdir()
    env = {**os.environ, "NP_DB": str(db)}
    _np_with_umask(0o022, ["s"], env, workdir)
    db.chmod(0o640)
    _np_with_umask(0o022, ["p"], env, workdir)
    assert _mode(db) == 0o640
