-- Version shims: the one place that knows which Neovim API to call.
--
-- Neovim 0.7.2 (Debian) through 0.12 differ in exactly the calls below. Everything else in
-- the plugin uses APIs that exist, undeprecated, across that whole range (nvim_create_*,
-- vim.keymap.set, vim.bo/vim.wo, nvim_buf_set_extmark, vim.ui.input/select).
local M = {}

M.uv = vim.uv or vim.loop -- vim.uv from 0.10; vim.loop deprecated there
M.has_08 = vim.fn.has("nvim-0.8") == 1
M.has_011 = vim.fn.has("nvim-0.11") == 1

-- Which code path is in use for each shim, for :checkhealth np and the tests.
function M.paths()
  local h = vim.health
  local health
  if h and h.start then
    health = "vim.health.start"
  elseif h and h.report_start then
    health = "vim.health.report_start"
  else
    health = "require('health').report_start"
  end
  return {
    start = vim.lsp.start and "vim.lsp.start" or "vim.lsp.start_client",
    request = M.has_011 and "client:request" or "client.request",
    health = health,
  }
end

local function same_client(client, config)
  return client.name == config.name and client.config.root_dir == config.root_dir
end

--- Start (or reuse) a client for `config` and attach it to `bufnr`, a hidden scratch buffer
--- the plugin owns, so the server never receives the user's files.
--- Returns the client id, or nil.
function M.start_client(config, bufnr)
  if vim.lsp.start then
    -- 0.8+: vim.lsp.start attaches the *current* buffer on 0.8 (opts.bufnr came later),
    -- so run it with our buffer current; reuse a client with the same name and root.
    local id
    vim.api.nvim_buf_call(bufnr, function()
      id = vim.lsp.start(config, { bufnr = bufnr, reuse_client = same_client })
    end)
    return id
  end
  -- 0.7: start_client starts at once; attaching is a separate step.
  local id = vim.lsp.start_client(config)
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

--- client:request on 0.11+ (the dot form is deprecated there and removed in 0.13);
--- client.request before (the colon form passes the client as `method` on 0.7-0.10).
function M.request(client, method, params, handler, bufnr)
  if M.has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M.request_sync(client, method, params, timeout_ms, bufnr)
  if M.has_011 then
    return client:request_sync(method, params, timeout_ms, bufnr)
  end
  return client.request_sync(method, params, timeout_ms, bufnr)
end

function M.stop(client, force)
  if M.has_011 then
    return client:stop(force)
  end
  return client.stop(force)
end

function M.is_stopped(client)
  if M.has_011 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- The health reporter: vim.health.start/ok/… on 0.10+, vim.health.report_* on 0.8/0.9,
--- require("health").report_* (the health#report_* autoload functions) on 0.7.
function M.health()
  local h = vim.health
  if h and h.start then
    return { start = h.start, ok = h.ok, info = h.info, warn = h.warn, error = h.error }
  end
  h = h or require("health")
  return {
    start = h.report_start,
    ok = h.report_ok,
    info = h.report_info,
    warn = h.report_warn,
    error = h.report_error,
  }
end

--- Set the filetype of `buf`, a buffer the plugin opened, so that no FileType handler can
--- break it: errors from ftplugins, syntax files and the user's autocommands are silenced
--- (`:silent!`). Example: Neovim 0.12's markdown ftplugin starts tree-sitter and raises an
--- error when no markdown parser is on the runtimepath; the buffer still opens, with the
--- filetype set and regex syntax highlighting.
function M.set_filetype(buf, filetype)
  vim.api.nvim_buf_call(buf, function()
    vim.cmd("silent! setlocal filetype=" .. vim.fn.fnameescape(filetype))
  end)
end

--- JSON null arrives as nil in objects but as vim.NIL elsewhere; treat both as absent.
function M.value(v)
  if v == vim.NIL then
    return nil
  end
  return v
end

return M
