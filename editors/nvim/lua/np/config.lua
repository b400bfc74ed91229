-- Options for require("np").setup{} and the directory the plugin acts in.
local compat = require("np.compat")

local M = {}

M.defaults = {
  -- The server command (`np serve`); a list, run without a shell.
  cmd = { "np", "serve" },
  -- Database path for the server (sets NP_DB); nil keeps $NP_DB or np's default.
  db = nil,
  -- Extra environment for the server process.
  env = nil,
  -- The directory to act in: a function returning a path. Default: the current
  -- working directory (:pwd, so :lcd/:tcd are honoured). np walks up to the nearest
  -- parent directory with an active session, like the CLI.
  root = nil,
  -- Start the server for the working directory when Neovim starts and on :cd, so that
  -- status() shows progress before any :Np command. Skipped when cmd is not executable.
  autostart = true,
  -- The plan window: "right" (vertical split) or "bottom" (horizontal split), and its
  -- width or height.
  window = { position = "right", size = 60 },
  -- Keys inside the plan window (false disables one).
  keys = {
    cycle = "s",
    fail = "f",
    cancel = "x",
    add = "a",
    edit = "e",
    answer = "A",
    refresh = "r",
    close = "q",
  },
  -- The statuses the cycle key steps through; failed/cancelled tasks re-open to the first.
  cycle = { "pending", "in_progress", "completed" },
}

local function copy(t)
  return vim.deepcopy(t)
end

M.options = copy(M.defaults)

function M.set(opts)
  opts = opts or {}
  local o = vim.tbl_deep_extend("force", copy(M.defaults), opts)
  -- Lists replace the defaults whole, never merged index by index.
  o.cmd = opts.cmd and copy(opts.cmd) or copy(M.defaults.cmd)
  o.cycle = opts.cycle and copy(opts.cycle) or copy(M.defaults.cycle)
  if type(o.cmd) == "string" then
    o.cmd = { o.cmd }
  end
  if o.db then
    o.db = vim.fn.fnamemodify(vim.fn.expand(o.db), ":p")
  end
  M.options = o
  return o
end

--- The canonical directory to act in (symlinks resolved, like the server does).
function M.root()
  local dir
  if type(M.options.root) == "function" then
    dir = M.options.root()
  elseif type(M.options.root) == "string" then
    dir = M.options.root
  end
  if not dir or dir == "" then
    dir = vim.fn.getcwd()
  end
  dir = vim.fn.fnamemodify(vim.fn.expand(dir), ":p")
  return compat.uv.fs_realpath(dir) or dir:gsub("/$", "")
end

--- The environment the server is started with (merged into Neovim's own).
function M.server_env()
  local env = {}
  for k, v in pairs(M.options.env or {}) do
    env[k] = tostring(v)
  end
  if M.options.db then
    env.NP_DB = M.options.db
  end
  if next(env) == nil then
    return nil
  end
  return env
end

--- The database the server will use, and where that choice came from.
function M.db_path()
  local cmd = M.options.cmd or {}
  for i, arg in ipairs(cmd) do
    if arg == "--db" and cmd[i + 1] then
      return cmd[i + 1], "cmd (--db)"
    end
    local inline = type(arg) == "string" and arg:match("^%-%-db=(.+)$")
    if inline then
      return inline, "cmd (--db)"
    end
  end
  if M.options.db then
    return M.options.db, "setup{ db = … }"
  end
  local env = M.options.env and M.options.env.NP_DB
  if env then
    return env, "setup{ env = { NP_DB = … } }"
  end
  if vim.env.NP_DB and vim.env.NP_DB ~= "" then
    return vim.env.NP_DB, "$NP_DB"
  end
  local base = vim.env.XDG_DATA_HOME
  if not base or base == "" then
    base = vim.fn.expand("~/.local/share")
  end
  return base .. "/np/np.db", "np's default"
end

return M
