-- :checkhealth np — the server command, the database path, the running clients.
local M = {}

function M.check()
  local compat = require("np.compat")
  local config = require("np.config")
  local client = require("np.client")
  local h = compat.health()

  h.start("np: Neovim")
  local v = vim.version()
  local paths = compat.paths()
  h.info(
    string.format(
      "Neovim %d.%d.%d: %s, %s, health via %s",
      v.major,
      v.minor,
      v.patch,
      paths.start,
      paths.request,
      paths.health
    )
  )
  if vim.fn.has("nvim-0.7") == 1 then
    h.ok("Neovim 0.7 or newer")
  else
    h.error("np needs Neovim 0.7 or newer")
  end

  h.start("np: server")
  local cmd = config.options.cmd
  local shown = type(cmd) == "table" and table.concat(cmd, " ") or tostring(cmd)
  if client.executable() then
    local exe = vim.fn.exepath(cmd[1])
    local version = vim.fn.system({ cmd[1], "--version" })
    if vim.v.shell_error == 0 then
      h.ok(string.format("server command: %s (%s, %s)", shown, exe, vim.trim(version)))
    else
      h.ok(string.format("server command: %s (%s)", shown, exe))
    end
  else
    h.error(
      "server command not found: " .. shown,
      { "Install np (the nasin-pali Python package) or set cmd in require('np').setup{}." }
    )
  end

  h.start("np: database")
  local db, source = config.db_path()
  if vim.fn.filereadable(db) == 1 then
    h.ok(string.format("database: %s (from %s)", db, source))
  else
    h.info(string.format("database: %s (from %s; created on first write)", db, source))
  end

  h.start("np: clients")
  local root = config.root()
  local state, id = client.state(root)
  if state then
    h.ok(string.format("client %d for %s is %s", id, root, state))
  else
    h.info("no client for " .. root .. " yet (any :Np command starts one)")
  end
  for _, c in ipairs(client.roots()) do
    if c.root ~= root then
      local state_name = c.ready and "ready" or "starting"
      h.info(string.format("client %d for %s (%s)", c.id, c.root, state_name))
    end
  end
end

return M
