"""Shared fixtures: a fresh database file and a runner for the real ``np`` executable."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import np_command

ROOT = Path(__file__).resolve().parent.parent


class NpResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"NpResult(code={self.code}, out={self.out[:400]!r}, err={self.err[:400]!r})"


NpRunner = Callable[..., NpResult]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "np.db"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "project"
    d.mkdir()
    return d


@pytest.fixture
def np_env(db_path: Path) -> dict[str, str]:
    env = {**os.environ, "NP_DB": str(db_path)}
    env.pop("NP_DEBUG", None)
    return env


@pytest.fixture
def run_np(np_env: dict[str, str], workdir: Path) -> NpRunner:
    """Run the real ``np`` in a subprocess: ``run_np("t", "a", "-t", "x", cwd=...)``."""

    def run(
        *args: str,
        cwd: Path | str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> NpResult:
        proc = subprocess.run(
            [*np_command(), *args],
            cwd=str(cwd or workdir),
            env={**np_env, **(env or {})},
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return NpResult(proc)

    return run
