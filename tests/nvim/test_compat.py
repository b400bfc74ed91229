"""Version shims, :checkhealth np, setup() and the help file, on the installed Neovim."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from nvim_harness import PLUGIN, Nvim, NvimBin, in_ci, require_nvim, whole_matrix

Session = Callable[..., list[str]]


def test_version_shims_take_the_installed_versions_path(nvim: Nvim, session: Session) -> None:
    session("one")
    run = nvim("""
      T.setup()
      local compat = require("np.compat")
      local client = require("np.client")
      local v = vim.version()
      T.out("version", { v.major, v.minor, v.patch })
      T.out("paths", compat.paths())
      T.out("has", {
        lsp_start = vim.lsp.start ~= nil,
        vim_health = vim.health ~= nil and vim.health.start ~= nil,
        nvim_011 = vim.fn.has("nvim-0.11") == 1,
      })

      -- start (vim.lsp.start or start_client + buf_attach_client), then request.
      vim.cmd("Np")
      T.wait_window("one")
      local state, id = client.state()
      T.eq(state, "ready")
      local lsp_client = vim.lsp.get_client_by_id(id)
      T.eq(lsp_client.name, "np")
      T.eq(lsp_client.config.root_dir, require("np.config").root())
      -- the client is attached to its own hidden buffer, not to the user's buffers
      local anchor = vim.fn.bufnr("np-client://" .. lsp_client.config.root_dir)
      T.ok(vim.lsp.buf_is_attached(anchor, id), "attached to the anchor buffer")
      T.ok(not vim.lsp.buf_is_attached(1, id), "not attached to buffer 1")

      -- one client per root: a second command reuses it
      vim.cmd("NpAdd two")
      T.wait_note("added")
      T.eq(select(2, client.state()), id, "same client")

      -- request_sync shim
      local plan = assert(client.exec_sync("np.plan", { dir = require("np.config").root() }, 2000))
      T.eq(#plan.tasks, 2)
      -- the empty-object shim: a command with no fields gets {} (not [])
      local done = false
      client.exec("np.session.list", nil, function(err, result)
        T.eq(err, nil)
        T.eq(#result.sessions, 1)
        done = true
      end)
      T.wait(function() return done end, "np.session.list")

      -- is_stopped / stop shims: stopping ends the client; the next command starts another
      client.stop_all()
      T.wait(function() return vim.lsp.get_client_by_id(id) == nil end, "the client to exit")
      vim.cmd("NpAdd three")
      T.wait_note("three")
      T.ok(select(2, client.state()) ~= id, "a new client")
      T.no_errors()
    """)
    major, minor, _ = run.out["version"]
    paths, has = run.out["paths"], run.out["has"]
    assert paths["start"] == ("vim.lsp.start" if has["lsp_start"] else "vim.lsp.start_client")
    assert paths["request"] == ("client:request" if has["nvim_011"] else "client.request")
    if (major, minor) < (0, 8):  # Debian's 0.7.2: the oldest supported paths
        assert paths == {
            "start": "vim.lsp.start_client",
            "request": "client.request",
            "health": "require('health').report_start",
        }
    if has["vim_health"]:
        assert paths["health"] == "vim.health.start"


def test_checkhealth_np_reports_server_database_and_client(
    nvim: Nvim, session: Session, db_path: Path
) -> None:
    session()
    run = nvim("""
      T.setup()
      vim.cmd("Np")
      T.wait_window("Ship it")
      vim.cmd("checkhealth np")
      T.out("report", T.buf_text())
    """)
    report = run.out["report"]
    assert "np: server" in report
    assert "OK" in report
    assert "server command:" in report
    assert f"database: {db_path} (from $NP_DB)" in report
    assert "is ready" in report
    assert "ERROR" not in report


def test_checkhealth_np_reports_a_missing_server(nvim: Nvim) -> None:
    run = nvim("""
      T.setup({ cmd = { "/nonexistent/np", "serve" } })
      vim.cmd("checkhealth np")
      T.out("report", T.buf_text())
    """)
    assert "ERROR" in run.out["report"]
    assert "/nonexistent/np" in run.out["report"]


def test_commands_work_without_setup(nvim: Nvim, session: Session) -> None:
    session("one")
    nvim("""
      -- no setup(): defaults (cmd = { "np", "serve" }); put the venv's np first on PATH
      vim.env.PATH = vim.fn.fnamemodify(T.np_bin, ":h") .. ":" .. vim.env.PATH
      T.eq(vim.fn.exists(":Np"), 2)
      for _, name in ipairs({ "NpStart", "NpGoal", "NpAdd", "NpStatus", "NpEdit",
                               "NpArchive", "NpExport", "NpLog" }) do
        T.eq(vim.fn.exists(":" .. name), 2, name)
      end
      vim.cmd("Np")
      T.wait_window("one")
      T.no_errors()
    """)


def test_help_file_has_valid_tags(nvim_bin: NvimBin | None, tmp_path: Path) -> None:
    nvim_exe = require_nvim(nvim_bin).path
    doc = tmp_path / "doc"
    shutil.copytree(PLUGIN / "doc", doc, ignore=shutil.ignore_patterns("tags"))
    proc = subprocess.run(
        [nvim_exe, "--headless", "--clean", "-i", "NONE", "-c", f"helptags {doc}", "-c", "qa!"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "E154" not in proc.stderr  # duplicate tag
    generated = (doc / "tags").read_text(encoding="utf-8")
    # The repository ships doc/tags (so `:help np` works with no :helptags step); it must be
    # what :helptags makes of doc/np.txt today. Regenerate: nvim --clean -c 'helptags
    # editors/nvim/doc' -c q
    assert (PLUGIN / "doc" / "tags").read_text(encoding="utf-8") == generated
    tags = generated.split("\n")
    names = {line.split("\t")[0] for line in tags if line}
    for tag in (
        "np.txt",
        ":Np",
        ":NpStart",
        ":NpGoal",
        ":NpAdd",
        ":NpStatus",
        ":NpEdit",
        ":NpArchive",
        ":NpExport",
        ":NpLog",
        "np-setup",
        "np-keys",
        "np.status()",
    ):
        assert tag in names, tag


def test_help_np_works_right_after_install(nvim: Nvim) -> None:
    # The harness installs the plugin the plainest way (its folder on the runtimepath) and
    # never runs :helptags.
    run = nvim("""
      local found = {}
      for _, topic in ipairs({ "np", ":NpStatus", "np-setup", "np.status()" }) do
        vim.cmd("help " .. topic)
        T.eq(vim.bo.buftype, "help", topic)
        table.insert(found, { vim.fn.expand("%:t"), vim.fn.getline(".") })
        vim.cmd("helpclose")
      end
      T.out("found", found)
    """)
    found = run.out["found"]
    assert [name for name, _ in found] == ["np.txt"] * 4
    assert "*np*" in found[0][1]
    assert "*:NpStatus*" in found[1][1]
    assert "*np-setup*" in found[2][1]


def test_the_matrix_covers_the_supported_range() -> None:
    """The README says "0.7.2 through 0.12": a matrix run must have run all of them."""
    if os.environ.get("NP_NVIM_MATRIX") is None:
        message = "not a matrix run (NP_NVIM_MATRIX is not set; see .ci/nvim-matrix.sh)"
        if in_ci():
            pytest.fail(message + ": CI runs the Neovim tests through `make nvim-matrix`")
        pytest.skip(message)
    # `make test` runs the matrix in halves side by side: the range is the whole run's.
    builds = whole_matrix()
    found = {b.version_info for b in builds if b.version}
    releases = {v[:2] for v in found}
    problems = [f"{b.path} does not run" for b in builds if b.version is None]
    if (0, 7, 2) not in found:
        problems.append("no Neovim 0.7.2 (the oldest supported)")
    problems += [f"no Neovim 0.{m}" for m in (8, 9, 10, 11) if (0, m) not in releases]
    if not releases or max(releases) < (0, 12):
        problems.append("no Neovim 0.12 or later (the newest)")
    if problems and not in_ci():
        pytest.skip("a partial matrix: " + "; ".join(problems))
    assert not problems, "the matrix does not cover 0.7.2 through 0.12: " + "; ".join(problems)
