-- The plan window: a scratch buffer in a split that shows one root's plan and refreshes
-- whenever the plugin learns of a change (np/didChange, or a result of its own writes).
local compat = require("np.compat")
local config = require("np.config")
local render = require("np.render")

local M = {}

local ns = vim.api.nvim_create_namespace("np_plan")
local view = { buf = nil, root = nil, ids = {}, plan = nil }

local KEY_HELP = {
  { "cycle", "cycle" },
  { "fail", "fail" },
  { "cancel", "cancel" },
  { "add", "add" },
  { "edit", "edit" },
  { "answer", "answer" },
  { "refresh", "refresh" },
  { "close", "close" },
}

function M.footer()
  local parts = {}
  for _, k in ipairs(KEY_HELP) do
    local key = config.options.keys[k[1]]
    if key then
      table.insert(parts, key .. " " .. k[2])
    end
  end
  return table.concat(parts, " · ")
end

local function buf_valid()
  return view.buf ~= nil and vim.api.nvim_buf_is_valid(view.buf)
end

--- The window showing the plan buffer in the current tab page, if any.
function M.win()
  if not buf_valid() then
    return nil
  end
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == view.buf then
      return win
    end
  end
  return nil
end

function M.is_open()
  return M.win() ~= nil
end

function M.root()
  return view.root
end

function M.buf()
  return view.buf
end

--- The task id on the cursor line (task line or its description), or nil.
function M.task_at_cursor()
  local win = M.win()
  if not win then
    return nil
  end
  local line = vim.api.nvim_win_get_cursor(win)[1]
  return view.ids[line]
end

local function task_by_id(id)
  for _, t in ipairs(view.plan and view.plan.tasks or {}) do
    if t.id == id then
      return t
    end
  end
  return nil
end
M.task_by_id = task_by_id

--- Show `plan` (nil: no active session) if the window is for `root`.
function M.update(root, plan)
  if not buf_valid() or view.root ~= root then
    return
  end
  local win = M.win()
  local cursor_id = win and view.ids[vim.api.nvim_win_get_cursor(win)[1]]
  local cursor_line = win and vim.api.nvim_win_get_cursor(win)[1]

  local v = render.plan_view(plan, root, M.footer())
  view.plan, view.ids = plan, v.ids
  local buf = view.buf
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, v.lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  for _, m in ipairs(v.marks) do
    pcall(vim.api.nvim_buf_set_extmark, buf, ns, m[1], m[2], { end_col = m[3], hl_group = m[4] })
  end

  -- Keep the cursor on the same task when the list moves under it.
  if win then
    local target = math.min(cursor_line or 1, #v.lines)
    if cursor_id then
      local first
      for lnum, id in pairs(v.ids) do
        if id == cursor_id and (first == nil or lnum < first) then
          first = lnum
        end
      end
      target = first or target
    end
    pcall(vim.api.nvim_win_set_cursor, win, { math.max(target, 1), 0 })
  end
end

--- The buffer lines, for tests and scripts.
function M.lines()
  if not buf_valid() then
    return {}
  end
  return vim.api.nvim_buf_get_lines(view.buf, 0, -1, false)
end

local function create_buf(actions)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "hide"
  vim.bo[buf].swapfile = false
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, "np://plan")
  compat.set_filetype(buf, "np")

  local keys = config.options.keys
  local function map(name, fn, desc)
    local lhs = keys[name]
    if lhs then
      vim.keymap.set("n", lhs, fn, { buffer = buf, nowait = true, silent = true, desc = desc })
    end
  end
  local function with_task(fn)
    return function()
      local id = M.task_at_cursor()
      if not id then
        vim.notify("np: put the cursor on a task line", vim.log.levels.WARN)
        return
      end
      fn(id)
    end
  end
  map(
    "cycle",
    with_task(function(id)
      actions.cycle(id, view.root)
    end),
    "np: cycle the task's status"
  )
  map(
    "fail",
    with_task(function(id)
      actions.status_prompt(id, "failed", view.root)
    end),
    "np: mark the task failed (asks for a reason)"
  )
  map(
    "cancel",
    with_task(function(id)
      actions.status_prompt(id, "cancelled", view.root)
    end),
    "np: cancel the task (asks for a reason)"
  )
  map("add", function()
    actions.add_prompt(view.root)
  end, "np: add a task")
  map(
    "edit",
    with_task(function(id)
      actions.edit(id, view.root)
    end),
    "np: edit the task's title and description"
  )
  map(
    "answer",
    with_task(function(id)
      actions.answer(id, nil, view.root)
    end),
    "np: answer the agent's question on the task"
  )
  map("refresh", function()
    actions.refresh(view.root, true)
  end, "np: refresh the plan")
  map("close", M.close, "np: close the plan window")

  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = buf,
    callback = function()
      view.buf, view.ids, view.plan = nil, {}, nil
    end,
  })
  return buf
end

function M.open(root, actions, plan_or_nil, known)
  if not buf_valid() then
    view.buf = create_buf(actions)
  end
  view.root = root
  local win = M.win()
  if not win then
    local w = config.options.window or {}
    local size = tonumber(w.size) or 60
    if w.position == "bottom" then
      vim.cmd("botright " .. size .. "split")
    else
      vim.cmd("botright " .. size .. "vsplit")
    end
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, view.buf)
    local wo = vim.wo[win]
    wo.number = false
    wo.relativenumber = false
    wo.signcolumn = "no"
    wo.foldcolumn = "0"
    wo.spell = false
    wo.list = false
    wo.wrap = true
    wo.linebreak = true
    wo.cursorline = true
    if w.position == "bottom" then
      wo.winfixheight = true
    else
      wo.winfixwidth = true
    end
  else
    vim.api.nvim_set_current_win(win)
  end
  if known then
    M.update(root, plan_or_nil)
  elseif #M.lines() <= 1 then
    vim.bo[view.buf].modifiable = true
    vim.api.nvim_buf_set_lines(view.buf, 0, -1, false, { "np · " .. root, "", "Loading…" })
    vim.bo[view.buf].modifiable = false
  end
  return win
end

function M.close()
  local win = M.win()
  if not win then
    return
  end
  if #vim.api.nvim_tabpage_list_wins(0) == 1 then
    -- The last window: show another buffer instead of closing Neovim's only window.
    vim.cmd("enew")
  else
    vim.api.nvim_win_close(win, true)
  end
end

return M
