-- One `np serve` client per root directory, and the request path to it.
--
-- exec(command, args, cb) sends workspace/executeCommand with ONE JSON-object argument and
-- calls cb(err, result) on the main loop; err is nil or { code?, message, data? } with
-- data.kind as in the server contract (plus "client_error" for local failures).
local compat = require("np.compat")
local config = require("np.config")

local M = {}

local states = {} -- root -> { root, id, bufnr, ready, dead, queue }
local listeners = {} -- fn(root, change) on np/didChange

local function client_error(message)
  return { message = message, data = { kind = "client_error" } }
end

local function fail_queue(st, err)
  local queue = st.queue
  st.queue = {}
  for _, item in ipairs(queue) do
    item.cb(err, nil)
  end
end

local anchors = {} -- root -> bufnr

-- A hidden scratch buffer per root that the client attaches to (see compat.start_client).
-- It lives as long as Neovim and is reused by the next client for the same root: deleting it
-- when a client exits would pull it from under Neovim 0.8/0.9, whose LSP client detaches
-- from its buffers in a callback scheduled after on_exit ("Invalid buffer id").
local function anchor(root)
  local bufnr = anchors[root]
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    return bufnr
  end
  bufnr = vim.api.nvim_create_buf(false, true)
  vim.bo[bufnr].bufhidden = "hide"
  vim.bo[bufnr].swapfile = false
  pcall(vim.api.nvim_buf_set_name, bufnr, "np-client://" .. root)
  anchors[root] = bufnr
  return bufnr
end

function M.on_change(fn)
  table.insert(listeners, fn)
end

local function dispatch_change(st, change)
  for _, fn in ipairs(listeners) do
    local ok, err = pcall(fn, st.root, change or {})
    if not ok then
      vim.notify("np: " .. tostring(err), vim.log.levels.ERROR)
    end
  end
end

local function send(st, item)
  local client = st.id and vim.lsp.get_client_by_id(st.id)
  if not client or compat.is_stopped(client) then
    local msg = "The np server is not running; run the command again to restart it."
    return item.cb(client_error(msg))
  end
  local params = { command = item.command, arguments = { item.args } }
  local ok = compat.request(client, "workspace/executeCommand", params, function(err, result)
    if err then
      item.cb(err, nil)
    elseif type(result) ~= "table" then
      item.cb(client_error("The np server sent an empty result for " .. item.command .. "."))
    else
      item.cb(nil, result)
    end
  end, st.bufnr)
  if not ok then
    item.cb(client_error("The np server has stopped; run the command again to restart it."))
  end
end

local function flush(st)
  local queue = st.queue
  st.queue = {}
  for _, item in ipairs(queue) do
    send(st, item)
  end
end

function M.executable()
  local cmd = config.options.cmd
  return type(cmd) == "table" and type(cmd[1]) == "string" and vim.fn.executable(cmd[1]) == 1
end

local function alive(st)
  if not st or st.dead or not st.id then
    return false
  end
  local client = vim.lsp.get_client_by_id(st.id)
  return client ~= nil and not compat.is_stopped(client)
end

--- The client state for `root`, starting the server when none is running.
--- Returns st or nil, message.
function M.ensure(root)
  local st = states[root]
  if alive(st) then
    return st
  end
  local cmd = config.options.cmd
  if not M.executable() then
    local name = type(cmd) == "table" and tostring(cmd[1]) or tostring(cmd)
    return nil,
      string.format(
        "The np server command %q was not found; install np or set cmd in require('np').setup{}.",
        name
      )
  end
  st = { root = root, ready = false, dead = false, queue = {} }
  st.bufnr = anchor(root)
  local conf = {
    name = "np",
    cmd = vim.deepcopy(cmd),
    cmd_env = config.server_env(),
    root_dir = root,
    handlers = {
      ["np/didChange"] = function(_, result)
        vim.schedule(function()
          dispatch_change(st, result)
        end)
      end,
    },
    on_init = function()
      vim.schedule(function()
        st.ready = true
        flush(st)
      end)
    end,
    on_exit = function(code, signal)
      -- Called from a libuv callback on 0.7: touch nothing until scheduled.
      vim.schedule(function()
        st.dead = true
        local what = st.ready and "stopped" or "exited before it was ready"
        fail_queue(
          st,
          client_error(
            string.format(
              "The np server %s (exit code %s, signal %s); see :checkhealth np.",
              what,
              tostring(code),
              tostring(signal)
            )
          )
        )
        if states[root] == st then
          states[root] = nil
          dispatch_change(st, { type = "client_exit" })
        end
        -- The anchor buffer stays (see anchor()): Neovim may still use it after this.
      end)
    end,
  }
  local ok, id = pcall(compat.start_client, conf, st.bufnr)
  if not ok or not id then
    return nil, "Could not start the np server: " .. tostring(ok and "no client id" or id)
  end
  st.id = id
  -- vim.lsp.start may hand back a client that is already initialized (reused).
  local client = vim.lsp.get_client_by_id(id)
  if client and client.initialized then
    st.ready = true
  end
  states[root] = st
  return st
end

--- Run one server command for `root` (default: config.root()). `args` is the command's
--- single JSON-object argument.
function M.exec(command, args, cb, root)
  root = root or config.root()
  if args == nil or next(args) == nil then
    args = vim.empty_dict() -- {} would be sent as []
  end
  local st, msg = M.ensure(root)
  if not st then
    return cb(client_error(msg), nil)
  end
  local item = { command = command, args = args, cb = cb }
  if st.ready then
    send(st, item)
  else
    table.insert(st.queue, item)
  end
end

--- Blocking variant for completion and tests; only when the client is ready.
--- Returns result or nil, err.
function M.exec_sync(command, args, timeout_ms, root)
  local st = states[root or config.root()]
  if not alive(st) or not st.ready then
    return nil, client_error("The np server is not ready.")
  end
  local client = vim.lsp.get_client_by_id(st.id)
  local params = { command = command, arguments = { args } }
  local method = "workspace/executeCommand"
  local res, reason = compat.request_sync(client, method, params, timeout_ms or 1000, st.bufnr)
  if not res then
    return nil, client_error("The np server did not answer (" .. tostring(reason) .. ").")
  end
  if res.err then
    return nil, res.err
  end
  return res.result, nil
end

--- The state for a root without starting anything ("ready", "starting" or nil), and id.
function M.state(root)
  local st = states[root or config.root()]
  if not alive(st) then
    return nil
  end
  return st.ready and "ready" or "starting", st.id
end

function M.roots()
  local out = {}
  for root, st in pairs(states) do
    if alive(st) then
      table.insert(out, { root = root, id = st.id, ready = st.ready })
    end
  end
  table.sort(out, function(a, b)
    return a.root < b.root
  end)
  return out
end

--- Stop every client this plugin started (used by tests and :NpStop-like flows).
function M.stop_all()
  for root, st in pairs(states) do
    local client = st.id and vim.lsp.get_client_by_id(st.id)
    if client then
      compat.stop(client)
    end
    states[root] = nil
  end
end

local function field(t, key)
  local v = type(t) == "table" and compat.value(t[key]) or nil
  return v
end

--- The next step of an np error in this plugin's own commands, by the error's kind and data
--- (the server's message ends with the JSON door's hint, "Give it in the "reason" field."
--- and the like, which means nothing here: the plugin shows data.detail, the neutral
--- sentence, followed by this). nil: the sentence says it all.
function M.hint(kind, data)
  data = type(data) == "table" and data or {}
  local moved, action = field(data, "moved"), field(data, "action")
  if type(moved) == "table" and (kind == "no_active_session" or kind == "session_already_active") then
    return string.format(
      'The session belongs to a folder that was renamed: move it here with `np mv --session %s -r "<why>"` in a shell.',
      tostring(field(moved, "sid") or "SID")
    )
  end
  if kind == "no_active_session" then
    if type(field(data, "archived")) == "table" then
      return "Start a new one with :NpStart only if you want new work here."
    end
    if action == "session.move" then
      return 'List the sessions with `np ls --all` in a shell, then run `np mv --session SID -r "<why>"`.'
    end
    return "Start one with :NpStart."
  elseif kind == "reason_required" then
    if action == "task.status" then
      return string.format(
        "Give it: :NpStatus %s %s {reason}, or f/x in the plan window, which ask for it.",
        tostring(field(data, "id") or "{id}"),
        tostring(field(data, "status") or "failed")
      )
    elseif action == "goal.change" or action == "task.edit" then
      return "Give one when :w asks for it; it is recorded in the event log."
    end
    return "Give a reason; it is recorded in the event log."
  elseif kind == "session_already_active" then
    return ":Np shows it."
  elseif kind == "goal_already_set" then
    return ":NpGoal opens it for editing."
  elseif kind == "goal_not_set" then
    return "Set it with :NpGoal {title}."
  elseif kind == "task_not_found" then
    return "The plan window (:Np) lists the task ids; <Tab> completes them."
  elseif kind == "storage_error" then
    local f = field(data, "field")
    if f == "schema" then
      return "Its owner upgrades it with `np db migrate` in a shell."
    elseif f == "db" then
      return 'Check the database np uses: require("np").setup({ db = ... }), else NP_DB.'
    end
  elseif kind == "changed_since_seen" then
    return "The plan window (:Np) shows what changed; if you still mean it, run the same command again."
  elseif kind == "task_claimed" then
    return "Another agent holds it (:Np shows who, until when); leave it to them or pick another task."
  elseif kind == "dependency_refused" then
    return "The plan window (:Np) lists the tasks and their ids."
  elseif kind == "invalid_argument" and field(data, "field") == "sid" then
    return "List the sessions with `np ls --all` in a shell."
  end
  return nil
end

local function squeeze(text)
  return (tostring(text):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

--- One readable line for an error from exec, in this plugin's terms: an np error's neutral
--- sentence (data.detail) and the plugin's own next step (M.hint); any other error's message.
function M.message(err)
  if type(err) ~= "table" then
    return tostring(err)
  end
  local data = field(err, "data")
  local detail = field(data, "detail")
  if type(detail) == "string" and detail:match("%S") then
    local text = squeeze(detail)
    local next_step = M.hint(field(data, "kind"), data)
    return next_step and (text .. " " .. next_step) or text
  end
  return squeeze(compat.value(err.message) or "Unknown error")
end

function M.kind(err)
  local data = type(err) == "table" and compat.value(err.data)
  return type(data) == "table" and compat.value(data.kind) or nil
end

return M
