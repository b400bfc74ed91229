"""What the Neovim matrix showed: nothing the plugin opens may fail because of the user's
setup or the Neovim release, a server that dies is restarted without an error, and the
harness itself fails a run that printed an error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nvim_harness import Nvim, printed_errors

Session = Callable[..., list[str]]


def test_a_printed_error_fails_the_run_even_with_exit_code_0(nvim: Nvim) -> None:
    # Errors in scheduled callbacks are printed, but do not change Neovim's exit code.
    run = nvim.start("""
      vim.schedule(function() error("boom from a scheduled callback") end)
      vim.wait(100)
    """).finish()
    assert run.code == 0
    assert "boom from a scheduled callback" in printed_errors(run.stderr)
    with pytest.raises(pytest.fail.Exception, match="Neovim printed errors"):
        run.check()


def test_buffers_open_although_the_users_filetype_handlers_fail(
    nvim: Nvim, session: Session
) -> None:
    # Like Neovim 0.12's markdown ftplugin without a tree-sitter parser (Debian's build),
    # or any broken user config: FileType handlers raise for every filetype np opens.
    (a,) = session("one")
    run = nvim(f"""
      T.setup()
      vim.api.nvim_create_autocmd("FileType", {{
        pattern = {{ "markdown", "json", "nplog", "np" }},
        callback = function() error("the user's broken ftplugin") end,
      }})
      local function opened(cmd, ready)
        local before = vim.api.nvim_get_current_buf()
        vim.cmd(cmd)
        T.wait(function()
          return vim.api.nvim_get_current_buf() ~= before and ready()
        end, cmd)
        return {{ filetype = vim.bo.filetype, text = T.buf_text() }}
      end
      T.out("export", opened("NpExport", function() return T.buf_text() ~= "" end))
      T.out("json", opened("NpExport json", function() return vim.bo.filetype == "json" end))
      T.out("log", opened("NpLog", function() return vim.bo.filetype == "nplog" end))
      T.out("edit", opened("NpEdit {a}", function() return vim.bo.filetype == "markdown" end))
      vim.cmd("Np")
      T.wait_window("{a}")
      T.out("plan", {{ filetype = vim.bo.filetype, text = T.window_text() }})
      T.no_errors()
    """)
    assert run.out["export"]["filetype"] == "markdown"
    assert run.out["export"]["text"].startswith("# Ship it")
    assert f"`{a}` **one**" in run.out["export"]["text"]
    assert '"np_export": 1' in run.out["json"]["text"]
    assert "session started" in run.out["log"]["text"]
    assert run.out["edit"]["text"].startswith("one")
    assert run.out["plan"]["filetype"] == "np"
    assert "Ship it" in run.out["plan"]["text"]


def test_the_export_opens_cleanly_on_a_neovim_without_tree_sitter_parsers(
    nvim: Nvim, session: Session
) -> None:
    # Neovim 0.12's markdown ftplugin starts tree-sitter and raises "Parser could not be
    # created" without a markdown parser (a build that ships none, or whose parsers are not
    # on the runtimepath). Take the parsers off the runtimepath to be that Neovim.
    (a,) = session("one")
    run = nvim("""
      T.setup()
      for _, dir in ipairs(vim.api.nvim_get_runtime_file("parser", true)) do
        local parent = vim.fn.fnamemodify(dir, ":h")
        T.ok(parent ~= vim.env.VIMRUNTIME, "parsers live outside $VIMRUNTIME: " .. dir)
        vim.opt.runtimepath:remove(parent)
      end
      T.out("parser", (pcall(vim.treesitter.get_string_parser, "# x", "markdown")))
      local before = vim.api.nvim_get_current_buf()
      vim.cmd("NpExport")
      T.wait(function()
        return vim.api.nvim_get_current_buf() ~= before and T.buf_text() ~= ""
      end, "the export")
      T.out("filetype", vim.bo.filetype)
      T.out("syntax", vim.bo.syntax)
      T.out("text", T.buf_text())
      T.no_errors()
    """)
    assert run.out["parser"] is False, "a markdown parser is still available"
    assert (run.out["filetype"], run.out["syntax"]) == ("markdown", "markdown")
    assert f"`{a}` **one**" in run.out["text"]


def test_a_killed_server_is_restarted_on_the_next_command_without_errors(
    nvim: Nvim, session: Session
) -> None:
    session("one")
    run = nvim("""
      T.setup()
      vim.cmd("Np")
      T.wait_window("one")
      local client = require("np.client")
      local root = require("np.config").root()
      local _, id = client.state()
      local anchor = vim.fn.bufnr("np-client://" .. root)
      local children = vim.api.nvim_get_proc_children(vim.fn.getpid())
      T.ok(#children >= 1, "np serve runs as a child of Neovim")
      for _, pid in ipairs(children) do
        (vim.uv or vim.loop).kill(pid, "sigkill")
      end
      T.wait(function() return require("np").status() == "" end, "the plugin to see the exit")
      T.eq(client.state(), nil, "no server runs")

      vim.cmd("NpAdd two")
      T.wait_note("added")
      T.wait_window("two")
      local _, new_id = client.state()
      T.ok(new_id ~= nil and new_id ~= id, "a new server")
      T.eq(vim.fn.bufnr("np-client://" .. root), anchor, "the same anchor buffer")
      T.ok(vim.lsp.buf_is_attached(anchor, new_id), "the new client is attached to it")
      T.out("status", require("np").status())
      T.no_errors()
    """)
    assert run.out["status"] == "np 0/2"
