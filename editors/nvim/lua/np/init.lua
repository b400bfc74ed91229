-- np (nasin pali) for Neovim: the live plan of the session in your working directory.
--
--   require("np").setup{ cmd = { "np", "serve" }, db = nil }
--
-- Every action goes through the np server (`np serve`, an LSP-style JSON-RPC server over
-- stdio): one client per root directory, workspace/executeCommand with one JSON object.
local client = require("np.client")
local compat = require("np.compat")
local config = require("np.config")
local render = require("np.render")
local window = require("np.window")

local M = {}

local cache = {} -- root -> plan result | false (no active session)
local fetching = {} -- root -> true while a plan request is in flight
local refresh_queued = {} -- root -> true while a debounced refresh waits

local function notify(msg, level)
  vim.notify("np: " .. msg, level or vim.log.levels.INFO)
end

local function fail(err)
  notify(client.message(err), vim.log.levels.ERROR)
end

local function redraw_status()
  pcall(vim.cmd, "redrawstatus!")
end

local function is_plan(result)
  return type(result) == "table" and result.session ~= nil and result.tasks ~= nil
end

local announced = {} -- "sid:seq" of the questions already announced
local receipt_timer = {} -- by root: a pending re-read of the receipts
local RECEIPT_POLL_MS = 2000

--- An agent's question not announced yet: one notification saying how to answer.
local function announce(plan)
  if not plan then
    return
  end
  local sid = tostring(plan.session.sid)
  for _, t in ipairs(plan.tasks or {}) do
    local ask = t.ask
    if type(ask) == "table" and not announced[sid .. ":" .. tostring(ask.seq)] then
      announced[sid .. ":" .. tostring(ask.seq)] = true
      notify(string.format("%s on %s — :NpAnswer %s", render.ask_line(ask):sub(3), t.id, t.id))
    end
  end
end

--- The receipts of this editor's own changes (np.events), shown under their tasks; read
--- again every two seconds while one is unseen (an agent's read writes no event).
local function load_receipts(root, plan)
  if not plan then
    return
  end
  local sid = tostring(plan.session.sid)
  client.exec("np.events", { sid = sid, newest_first = true, limit = 200 }, function(err, result)
    if err or type(result) ~= "table" then
      return
    end
    local seen = render.own_receipts(result.events, "Neovim")
    if not vim.deep_equal(seen, render.receipts[sid] or {}) then
      render.receipts[sid] = seen
      if cache[root] then
        window.update(root, cache[root])
      end
    end
    local waiting = false
    for _, text in pairs(seen) do
      if text:find("not yet seen", 1, true) then
        waiting = true
      end
    end
    if waiting and not receipt_timer[root] then
      receipt_timer[root] = true
      vim.defer_fn(function()
        receipt_timer[root] = nil
        load_receipts(root, cache[root])
      end, RECEIPT_POLL_MS)
    end
  end, root)
end

--- Record a plan (or false: no active session) for `root` and show it.
local function remember(root, plan)
  local before = cache[root]
  cache[root] = plan
  window.update(root, plan or nil)
  announce(plan or nil)
  load_receipts(root, plan or nil)
  if (before and render.progress(before)) ~= (plan and render.progress(plan)) then
    redraw_status()
  end
end

--- Fetch the plan for `root` into the cache and the plan window.
--- loud: report errors other than "no active session".
function M.refresh(root, loud, cb)
  root = root or config.root()
  fetching[root] = true
  client.exec("np.plan", { dir = root }, function(err, result)
    fetching[root] = nil
    if err then
      local kind = client.kind(err)
      if kind == "no_active_session" then
        remember(root, false)
      elseif kind == "client_error" then
        cache[root] = nil
        if loud then
          fail(err)
        end
      elseif loud then
        fail(err)
      end
    else
      remember(root, result)
    end
    if cb then
      cb(err, result)
    end
  end, root)
end

local function queue_refresh(root)
  if refresh_queued[root] then
    return
  end
  refresh_queued[root] = true
  vim.defer_fn(function()
    refresh_queued[root] = nil
    M.refresh(root, false)
  end, 30)
end

client.on_change(function(root, change)
  if change.type == "client_exit" then
    cache[root] = nil
    redraw_status()
    return
  end
  queue_refresh(root)
end)

--- Run a write command; on success record the returned plan and call then(result).
local function write(command, args, root, then_)
  client.exec(command, args, function(err, result)
    if err then
      return fail(err)
    end
    if is_plan(result) then
      remember(root, result)
    else
      queue_refresh(root)
    end
    if then_ then
      then_(result)
    end
  end, root)
end

local function input(opts, cb)
  vim.ui.input(opts, function(value)
    -- vim.ui.input may call back from a prompt context; continue on the main loop.
    vim.schedule(function()
      cb(value)
    end)
  end)
end

local function task_title(root, id)
  local plan = cache[root]
  for _, t in ipairs(plan and plan.tasks or {}) do
    if t.id == id then
      return t.title
    end
  end
  return nil
end

local function label(root, id)
  local title = task_title(root, id)
  return title and string.format("%s %q", id, title) or id
end

-- Actions (used by the commands and the plan window) --------------------------------------

function M.start(root)
  root = root or config.root()
  write("np.session.start", { dir = root }, root, function(result)
    notify(
      "session started in "
        .. tostring(result.session and result.session.dir or root)
        .. "; set the goal with :NpGoal {title}"
    )
  end)
end

local function set_goal(root, title, description)
  write("np.goal.set", { dir = root, title = title, description = description }, root, function()
    notify("goal set: " .. title)
  end)
end

--- :NpGoal {title}: set the goal (asks for the description); when a goal is already set,
--- open it for editing instead (the change asks for a reason).
function M.goal(title, root, mods)
  root = root or config.root()
  title = title and vim.trim(title) or ""
  M.refresh(root, true, function(err, plan)
    if err then
      if client.kind(err) == "no_active_session" then
        fail(err)
      end
      return
    end
    local goal = compat.value(plan.goal)
    if goal then
      return M.edit_goal(root, title ~= "" and title or nil, mods)
    end
    local function ask_description(t)
      input({ prompt = "Goal description (issue, files, constraints): " }, function(description)
        if description == nil then
          return notify("goal not set: it needs a description", vim.log.levels.WARN)
        end
        set_goal(root, t, description)
      end)
    end
    if title ~= "" then
      return ask_description(title)
    end
    input({ prompt = "Goal title: " }, function(t)
      if t and vim.trim(t) ~= "" then
        ask_description(vim.trim(t))
      end
    end)
  end)
end

function M.edit_goal(root, new_title, mods)
  local plan = cache[root]
  local goal = plan and compat.value(plan.goal)
  if not goal then
    return notify("no goal is set yet; set it with :NpGoal {title}", vim.log.levels.WARN)
  end
  local buf = require("np.edit").open({
    name = "np://goal",
    label = "goal",
    title = goal.title,
    description = compat.value(goal.description) or "",
    mods = mods,
    save = function(title, description, done)
      input({ prompt = "Reason for changing the goal: " }, function(reason)
        if reason == nil then
          return done(false)
        end
        local args = { dir = root, reason = reason, title = title, description = description }
        client.exec("np.goal.change", args, function(err, result)
          if err then
            fail(err)
            return done(false)
          end
          remember(root, result)
          notify("goal changed")
          done(true)
        end, root)
      end)
    end,
  })
  if new_title then
    vim.api.nvim_buf_set_lines(buf, 0, 1, false, { new_title })
  end
end

function M.add(title, root, description)
  root = root or config.root()
  local task = { title = title }
  if description and description ~= "" then
    task.description = description
  end
  write("np.task.add", { dir = root, tasks = { task } }, root, function(result)
    local id = result.added and result.added[1]
    notify("added " .. tostring(id) .. " " .. title)
  end)
end

--- Ask for a title and an optional description, then add the task.
function M.add_prompt(root)
  root = root or config.root()
  input({ prompt = "New task: " }, function(title)
    if not title or vim.trim(title) == "" then
      return
    end
    input({ prompt = "Description (optional): " }, function(description)
      M.add(vim.trim(title), root, description)
    end)
  end)
end

function M.set_status(id, status, reason, root)
  root = root or config.root()
  local update = { id = id, status = status }
  if reason and vim.trim(reason) ~= "" then
    update.reason = reason
  end
  write("np.task.update", { dir = root, updates = { update } }, root, function()
    notify(string.format("%s → %s %s", label(root, id), render.GLYPHS[status] or "", status))
  end)
end

--- Failed/cancelled from the plan window: ask for the reason first.
function M.status_prompt(id, status, root)
  input({ prompt = string.format("Reason (%s %s): ", id, status) }, function(reason)
    if reason == nil then
      return
    end
    M.set_status(id, status, reason, root)
  end)
end

function M.cycle(id, root)
  root = root or config.root()
  local plan = cache[root]
  local current
  for _, t in ipairs(plan and plan.tasks or {}) do
    if t.id == id then
      current = t.status
    end
  end
  local order = config.options.cycle
  local next_status = order[1]
  for i, s in ipairs(order) do
    if s == current then
      next_status = order[i % #order + 1]
    end
  end
  M.set_status(id, next_status, nil, root)
end

function M.edit(id, root, mods)
  root = root or config.root()
  local function open(plan)
    local task
    for _, t in ipairs(plan and plan.tasks or {}) do
      if t.id == id then
        task = t
      end
    end
    if not task then
      return fail({ message = string.format("No task %q in this plan.", id) })
    end
    require("np.edit").open({
      name = "np://task/" .. id,
      label = "task " .. id,
      title = task.title,
      description = compat.value(task.description) or "",
      mods = mods,
      save = function(title, description, done)
        input({ prompt = "Reason for the edit: " }, function(reason)
          if reason == nil then
            return done(false)
          end
          local args =
            { dir = root, id = id, reason = reason, title = title, description = description }
          client.exec("np.task.edit", args, function(err, result)
            if err then
              fail(err)
              return done(false)
            end
            remember(root, result)
            notify("edited " .. id)
            done(true)
          end, root)
        end)
      end,
    })
  end
  M.refresh(root, true, function(err, plan)
    if not err then
      open(plan)
    elseif client.kind(err) == "no_active_session" then
      fail(err)
    end
  end)
end

--- Answer the agent's open question on task `id`: `text`, else a choice or words of one's own.
function M.answer(id, text, root)
  root = root or config.root()
  local plan = cache[root]
  local ask
  for _, t in ipairs(plan and plan.tasks or {}) do
    if t.id == id and type(t.ask) == "table" then
      ask = t.ask
    end
  end
  local function send(answer)
    if answer == nil or vim.trim(answer) == "" then
      return notify("answer not sent")
    end
    write("np.task.answer", { dir = root, id = id, answer = answer }, root, function(result)
      local by = result and result.answered and result.answered.asked_by
      notify(string.format("answered %s; %s gets it first in its next output", id, type(by) == "string" and by or "the agent"))
      M.refresh(root, false)
    end)
  end
  if text and vim.trim(text) ~= "" then
    return send(text)
  end
  if not ask then
    return notify("task " .. id .. " has no open question", vim.log.levels.WARN)
  end
  local own = "Your own words…"
  local choices = vim.list_extend(vim.deepcopy(ask.choices or {}), { own })
  local function words()
    input({ prompt = ask.question .. " " }, send)
  end
  if #choices == 1 then
    return words()
  end
  vim.ui.select(choices, { prompt = render.ask_line(ask):sub(3) }, function(choice)
    vim.schedule(function()
      if choice == own then
        words()
      elseif choice ~= nil then
        send(choice)
      end
    end)
  end)
end

function M.archive(root)
  root = root or config.root()
  local prompt = "Archive the np session in " .. root .. "?"
  vim.ui.select({ "Archive", "Cancel" }, { prompt = prompt }, function(choice)
    vim.schedule(function()
      if choice ~= "Archive" then
        return
      end
      write("np.session.archive", { dir = root }, root, function()
        remember(root, false)
        notify("session archived")
      end)
    end)
  end)
end

local function scratch(lines, filetype, mods, name)
  vim.cmd(((mods and mods ~= "") and mods or "") .. " new")
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  compat.set_filetype(buf, filetype)
  vim.bo[buf].modified = false
  if name then
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].bufhidden = "wipe"
    vim.bo[buf].swapfile = false
    vim.bo[buf].modifiable = false
    pcall(vim.api.nvim_buf_set_name, buf, name)
    vim.keymap.set("n", "q", "<cmd>close<cr>", { buffer = buf, nowait = true, silent = true })
  end
  return buf
end

--- The plan and the full event log, in a new buffer (Markdown by default). The buffer is an
--- ordinary unnamed one: :w {file} saves it.
function M.export(format, root, mods)
  root = root or config.root()
  format = (format and format ~= "") and format or "markdown"
  client.exec("np.export", { dir = root, format = format }, function(err, result)
    if err then
      return fail(err)
    end
    local content = tostring(result.content or "")
    local ft = result.format == "json" and "json" or "markdown"
    local text = content:gsub("\n$", "")
    scratch(vim.split(text, "\n", { plain = true }), ft, mods)
  end, root)
end

--- The event log, newest first, in a scratch buffer (q closes it).
function M.log(limit, root, mods)
  root = root or config.root()
  local args = { dir = root, newest_first = true }
  if limit then
    args.limit = limit
  end
  client.exec("np.events", args, function(err, result)
    if err then
      return fail(err)
    end
    local buf = vim.fn.bufnr("np://log")
    if buf ~= -1 then
      pcall(vim.api.nvim_buf_delete, buf, { force = true })
    end
    scratch(render.event_lines(result.events), "nplog", mods, "np://log")
  end, root)
end

function M.toggle(root)
  if window.is_open() then
    return window.close()
  end
  root = root or config.root()
  local known = cache[root]
  window.open(root, M, known or nil, known ~= nil)
  M.refresh(root, true)
end

-- Statusline ------------------------------------------------------------------------------

--- "np 3/7" (completed of all tasks) for the working directory's session, "" without one.
--- Never starts a server; it reads what the plugin already knows and, when a server is
--- running for this directory, fetches the plan once in the background.
function M.status()
  local ok, root = pcall(config.root)
  if not ok then
    return ""
  end
  local plan = cache[root]
  if plan == nil then
    if client.state(root) == "ready" and not fetching[root] then
      fetching[root] = true
      vim.schedule(function()
        M.refresh(root, false)
      end)
    end
    return ""
  end
  if plan == false then
    return ""
  end
  return "np " .. render.progress(plan)
end

--- The cached plan for a root (nil: unknown, false: no active session).
function M.cached(root)
  return cache[root or config.root()]
end

-- Completion ------------------------------------------------------------------------------

local function task_ids(root)
  local plan = cache[root]
  if plan == nil and client.state(root) == "ready" then
    local result = client.exec_sync("np.plan", { dir = root }, 500, root)
    if is_plan(result) then
      cache[root] = result
      plan = result
    end
  end
  local ids = {}
  for _, t in ipairs(plan and plan.tasks or {}) do
    table.insert(ids, t.id)
  end
  return ids
end

local function matching(items, lead)
  local out = {}
  for _, item in ipairs(items) do
    if item:sub(1, #lead) == lead then
      table.insert(out, item)
    end
  end
  return out
end

function M.complete_id(lead, line, pos)
  local before = line:sub(1, pos)
  local words = vim.split(vim.trim(before), "%s+")
  local index = #words - (before:match("%s$") and 0 or 1) -- 1: the first argument
  if index ~= 1 then
    return {}
  end
  return matching(task_ids(config.root()), lead)
end

function M.complete_status(lead, line, pos)
  local before = line:sub(1, pos)
  local words = vim.split(vim.trim(before), "%s+")
  local index = #words - (before:match("%s$") and 0 or 1)
  if index == 1 then
    return matching(task_ids(config.root()), lead)
  elseif index == 2 then
    return matching(render.STATUSES, lead)
  end
  return {}
end

-- Setup -----------------------------------------------------------------------------------

local function highlights()
  local links = {
    NpHeader = "Title",
    NpGoal = "Title",
    NpTaskId = "Number",
    NpPending = "Normal",
    NpInProgress = "DiagnosticWarn",
    NpCompleted = "String",
    NpFailed = "DiagnosticError",
    NpCancelled = "Comment",
    NpDone = "Comment",
    NpDescription = "Comment",
    NpReason = "Comment",
    NpAsk = "DiagnosticInfo",
    NpReceipt = "Comment",
    NpLegend = "Comment",
    NpFooter = "Comment",
  }
  for group, target in pairs(links) do
    vim.cmd(string.format("highlight default link %s %s", group, target))
  end
end

local group

function M.setup(opts)
  config.set(opts)
  highlights()
  group = vim.api.nvim_create_augroup("np", { clear = true })
  vim.api.nvim_create_autocmd("ColorScheme", { group = group, callback = highlights })
  if config.options.autostart then
    local function autostart()
      if not client.executable() then
        return
      end
      local root = config.root()
      if client.ensure(root) then
        M.refresh(root, false)
      end
    end
    vim.api.nvim_create_autocmd("DirChanged", { group = group, callback = autostart })
    if vim.v.vim_did_enter == 1 then
      autostart()
    else
      vim.api.nvim_create_autocmd("VimEnter", { group = group, once = true, callback = autostart })
    end
  end
  return M
end

highlights()

return M
