"""The headless-Neovim runner behind the ``nvim`` fixture (see conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PLUGIN = ROOT / "editors" / "nvim"
NP_BIN = Path(sys.executable).parent / "np"
# NP_TEST_NVIM runs the suite on another Neovim build (e.g. a newer one) than the one on PATH.
NVIM = os.environ.get("NP_TEST_NVIM") or shutil.which("nvim")


def require_nvim() -> str:
    """The Neovim to test with; skip (outside CI) or fail (in CI) when there is none."""
    if NVIM is None:
        reason = "nvim is not installed: the Neovim plugin tests need `nvim` on PATH"
        if os.environ.get("CI"):
            pytest.fail(reason + " (in CI, .ci/run installs Debian's neovim)")
        pytest.skip(reason)
    return NVIM


INIT = HERE / "minimal_init.lua"
PRELUDE = 'local T = require("np_test")\n'


class NvimRun:
    """A finished (or, from ``start``, a running) headless Neovim."""

    def __init__(self, proc: subprocess.Popen[str], out_path: Path, signals: Path) -> None:
        self.proc = proc
        self.out_path = out_path
        self.signals = signals
        self.code: int | None = None
        self.stdout = ""
        self.stderr = ""

    def wait_signal(self, name: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not (self.signals / name).exists():
            if self.proc.poll() is not None:
                self.finish()
                pytest.fail(f"nvim exited before signalling {name!r}:\n{self.stderr}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.finish()
                pytest.fail(f"nvim never signalled {name!r}:\n{self.stderr}")
            time.sleep(0.02)

    def finish(self, timeout: float = 30) -> NvimRun:
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
            pytest.fail(f"nvim did not exit within {timeout}s:\n{self.stderr}")
        self.code = self.proc.returncode
        return self

    @property
    def out(self) -> dict[str, Any]:
        if not self.out_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.out_path.read_text(encoding="utf-8") or "{}")
        return data

    def check(self) -> NvimRun:
        if self.code != 0:
            pytest.fail(f"nvim test script failed (exit {self.code}):\n{self.stderr}{self.stdout}")
        return self


class Nvim:
    def __init__(self, tmp_path: Path, env: dict[str, str], cwd: Path) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.cwd = cwd
        self.runs = 0

    def start(self, script: str, *, env: dict[str, str | None] | None = None) -> NvimRun:
        """Start Neovim on ``script`` without waiting for it."""
        assert NVIM is not None
        self.runs += 1
        base = self.tmp_path / f"nvim-{self.runs}"
        signals = base / "signals"
        signals.mkdir(parents=True)
        script_path = base / "test.lua"
        script_path.write_text(PRELUDE + textwrap.dedent(script), encoding="utf-8")
        out_path = base / "out.json"
        full_env = {
            **self.env,
            "NP_NVIM_PLUGIN": str(PLUGIN),
            "NP_NVIM_TESTS": str(HERE),
            "NP_TEST_SCRIPT": str(script_path),
            "NP_TEST_OUT": str(out_path),
            "NP_TEST_SIGNALS": str(signals),
            "NP_BIN": str(NP_BIN),
            # Keep Neovim's state, cache and logs (lsp.log) inside the test's directory.
            "XDG_CONFIG_HOME": str(base / "config"),
            "XDG_DATA_HOME": str(base / "data"),
            "XDG_STATE_HOME": str(base / "state"),
            "XDG_CACHE_HOME": str(base / "cache"),
        }
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        proc = subprocess.Popen(
            [NVIM, "--headless", "--clean", "-n", "-i", "NONE", "-u", str(INIT)],
            cwd=str(self.cwd),
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        return NvimRun(proc, out_path, signals)

    def __call__(self, script: str, *, env: dict[str, str | None] | None = None) -> NvimRun:
        """Run ``script`` to the end and fail the test unless it passed."""
        return self.start(script, env=env).finish().check()
