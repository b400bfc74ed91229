"""Fixtures for the Neovim plugin tests: real headless Neovim, real ``np serve``.

Each test runs once per Neovim of the matrix (``NP_NVIM_MATRIX``, else ``NP_TEST_NVIM``,
else ``nvim`` on PATH; see nvim_harness.matrix) and hands ``nvim(script)`` a Lua snippet.
Neovim starts with ``--headless --clean`` and ``tests/nvim/minimal_init.lua`` (the plugin
dir on the runtimepath), runs the snippet with the helpers of ``tests/nvim/lua/np_test`` in
scope as ``T``, stops the plugin's servers and waits for their exit callbacks, and exits 0,
or 3 with the failure on stderr. The plugin spawns the real ``np serve`` (the venv's ``np``) on the
test's temporary database, passed as ``NP_DB``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nvim_harness import NP_BIN, Nvim, NvimBin, matrix, require_nvim


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses Neovim runs once per build of the matrix (see nvim_harness.matrix)."""
    if "nvim_bin" in metafunc.fixturenames:
        bins: list[NvimBin | None] = list(matrix()) or [None]
        ids = [b.id if b else "no-nvim" for b in bins]
        metafunc.parametrize("nvim_bin", bins, ids=ids)


@pytest.fixture
def nvim(
    nvim_bin: NvimBin | None,
    tmp_path: Path,
    np_env: dict[str, str],
    db_path: Path,
    workdir: Path,
) -> Nvim:
    nvim_exe = require_nvim(nvim_bin)
    if not NP_BIN.exists():
        pytest.skip(f"the np console script is not installed at {NP_BIN}")
    env = {**np_env, "NP_TEST_DB": str(db_path)}
    env.pop("NVIM", None)  # not a child of another Neovim
    env.pop("NVIM_LISTEN_ADDRESS", None)
    return Nvim(nvim_exe, tmp_path, env, workdir)


@pytest.fixture
def session(run_np: Callable[..., Any]) -> Callable[..., list[str]]:
    """Start a session in the workdir with a goal and tasks via the CLI; returns task ids."""

    def make(*titles: str, goal: bool = True) -> list[str]:
        assert run_np("s").code == 0
        if goal:
            assert run_np("g", "s", "-t", "Ship it", "-d", "Issue 5: the Neovim plugin.").code == 0
        ids: list[str] = []
        if titles:
            args = [a for t in titles for a in ("-t", t)]
            result = run_np("t", "a", *args, "--json")
            assert result.code == 0, result
            ids = result.json()["added"]
        return ids

    return make


@pytest.fixture
def plan_json(run_np: Callable[..., Any]) -> Callable[[], dict[str, Any]]:
    """The plan as the CLI sees it (``np p --json``), in another process."""

    def get() -> dict[str, Any]:
        result = run_np("p", "--json")
        assert result.code == 0, result
        data: dict[str, Any] = result.json()
        return data

    return get
