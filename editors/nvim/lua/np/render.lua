-- Pure text: the plan window's lines and the event log, from the server's JSON objects.
local value = require("np.compat").value

local M = {}

M.STATUSES = { "pending", "in_progress", "completed", "failed", "cancelled" }
M.GLYPHS = {
  pending = "☐",
  in_progress = "⟳",
  completed = "☑",
  failed = "☒",
  cancelled = "⊗",
}
M.LABELS = {
  pending = "pending",
  in_progress = "in progress",
  completed = "completed",
  failed = "failed",
  cancelled = "cancelled",
}
M.HL = {
  pending = "NpPending",
  in_progress = "NpInProgress",
  completed = "NpCompleted",
  failed = "NpFailed",
  cancelled = "NpCancelled",
}

local function one_line(text)
  return (tostring(text or ""):gsub("[\r\n]", " "))
end
M.one_line = one_line

local function split(text)
  return vim.split(tostring(text or ""), "\n", { plain = true })
end

--- "np 3/7": completed tasks of all tasks.
function M.progress(plan)
  local tasks = value(plan.tasks) or {}
  local counts = value(plan.counts) or {}
  return string.format("%d/%d", tonumber(value(counts.completed)) or 0, #tasks)
end

function M.legend(tasks)
  local present = {}
  for _, t in ipairs(tasks) do
    present[t.status] = true
  end
  local parts = {}
  for _, s in ipairs(M.STATUSES) do
    if s == "pending" or s == "in_progress" or s == "completed" or present[s] then
      table.insert(parts, M.GLYPHS[s] .. " " .. M.LABELS[s])
    end
  end
  return "Legend: " .. table.concat(parts, " ")
end

--- The plan window's content.
--- plan: a plan result, or nil when the directory has no active session.
--- Returns { lines, ids (line number -> task id), marks ({line, col, end_col, group}) }.
--- By session id, then task id: the receipt of this editor's newest change to the task.
M.receipts = {}

--- "? claude-code asks: Which CSV dialect? [excel | rfc4180]", as the plan text says it.
function M.ask_line(ask)
  local choices = value(ask.choices) or {}
  local listed = #choices > 0 and (" [" .. table.concat(choices, " | ") .. "]") or ""
  local by = value(ask.by)
  return "? " .. (type(by) == "string" and by or "someone") .. " asks: " .. one_line(value(ask.question)) .. listed
end

local function clock(at)
  at = tostring(at or "")
  if at:sub(1, 10) == os.date("!%Y-%m-%d") then
    return at:sub(12, 16)
  end
  return at:sub(1, 10) .. " " .. at:sub(12, 16)
end

--- "seen by claude-code 14:05; not yet seen — codex last looked 13:40" (np.events receipts).
function M.receipt_text(receipts)
  local parts = {}
  for _, r in ipairs(receipts or {}) do
    if r.seen then
      local at = value(r.seen_at)
      table.insert(parts, "seen by " .. r.actor .. (type(at) == "string" and (" " .. clock(at)) or ""))
    else
      local at = value(r.last_looked)
      table.insert(parts, "not yet seen — " .. r.actor .. (type(at) == "string" and (" last looked " .. clock(at)) or ""))
    end
  end
  return table.concat(parts, "; ")
end

--- By task id: the receipt of `client`'s newest change to each task (events newest first).
function M.own_receipts(events, client)
  local out = {}
  for _, e in ipairs(events or {}) do
    local actor = value(e.actor)
    local payload = value(e.payload) or {}
    local id = value(payload.task_id)
    local own = type(actor) == "string" and (actor == client or actor:sub(1, #client + 1) == client .. "@")
    if own and type(id) == "string" and out[id] == nil then
      local text = M.receipt_text(value(e.receipts))
      if text ~= "" then
        out[id] = text
      end
    end
  end
  return out
end

function M.plan_view(plan, root, footer)
  local lines, ids, marks = {}, {}, {}
  local function add(text, group)
    table.insert(lines, text)
    if group then
      table.insert(marks, { #lines - 1, 0, #text, group })
    end
  end

  if not plan then
    add("np · " .. root, "NpHeader")
    add("")
    add("No active session in this directory.")
    add(":NpStart starts one (an agent runs `np s`).")
    add("")
    add(footer, "NpFooter")
    return { lines = lines, ids = ids, marks = marks }
  end

  local session = value(plan.session) or {}
  local tasks = value(plan.tasks) or {}
  local header = "np · " .. tostring(value(session.dir) or root) .. " · " .. M.progress(plan)
  if value(session.state) == "archived" then
    header = header .. " · archived"
  end
  add(header, "NpHeader")
  add("")

  local goal = value(plan.goal)
  if goal then
    add("Goal: " .. one_line(value(goal.title)), "NpGoal")
    local description = value(goal.description) or ""
    if description:match("%S") then
      for _, l in ipairs(split(description)) do
        add(l)
      end
    end
  else
    add("Goal: (not set) — :NpGoal {title}", "NpGoal")
  end
  add("")

  if #tasks == 0 then
    add("(no tasks yet) — :NpAdd {title}")
  end
  for _, t in ipairs(tasks) do
    local glyph = M.GLYPHS[t.status] or "?"
    local id = tostring(t.id)
    -- What an open task waits for and who holds it, as the plan text shows them.
    local extra = {}
    local after = value(t.after)
    if (t.status == "pending" or t.status == "in_progress") and type(after) == "table" and #after > 0 then
      table.insert(extra, "after " .. table.concat(after, ","))
    end
    local holder = value(t.claimed_by)
    if t.status == "in_progress" and type(holder) == "string" and holder ~= "" then
      local until_at = tostring(value(t.claim_expires_at) or ""):sub(12, 16)
      table.insert(extra, until_at ~= "" and (holder .. " until " .. until_at .. "Z") or holder)
    end
    local marks_text = #extra > 0 and ("  [" .. table.concat(extra, "; ") .. "]") or ""
    add(glyph .. " " .. id .. " " .. one_line(value(t.title)) .. marks_text)
    local n = #lines - 1
    ids[#lines] = t.id
    table.insert(marks, { n, 0, #glyph, M.HL[t.status] or "NpPending" })
    table.insert(marks, { n, #glyph + 1, #glyph + 1 + #id, "NpTaskId" })
    if t.status == "completed" or t.status == "cancelled" then
      table.insert(marks, { n, #glyph + 2 + #id, #lines[#lines], "NpDone" })
    end
    -- Why a failed or cancelled task ended so, under it (as `np m` and the CLI show it).
    local reason = (t.status == "failed" or t.status == "cancelled") and value(t.reason) or nil
    if type(reason) == "string" and reason:match("%S") then
      add("    reason: " .. vim.trim((reason:gsub("%s+", " "))), "NpReason")
      ids[#lines] = t.id
    end
    -- An agent's open question (issue 23), and the receipt of this editor's own change.
    local ask = value(t.ask)
    if type(ask) == "table" then
      add("    " .. M.ask_line(ask), "NpAsk")
      ids[#lines] = t.id
    end
    local seen = M.receipts[tostring(value(session.sid))]
    if seen and seen[t.id] then
      add("    your change: " .. seen[t.id], "NpReceipt")
      ids[#lines] = t.id
    end
    local description = value(t.description) or ""
    if (t.status == "pending" or t.status == "in_progress") and description:match("%S") then
      for _, l in ipairs(split(description)) do
        add(l ~= "" and ("    " .. l) or "", "NpDescription")
        ids[#lines] = t.id
      end
    end
  end
  add("")
  add(M.legend(tasks), "NpLegend")
  add(footer, "NpFooter")
  return { lines = lines, ids = ids, marks = marks }
end

local function quote(text, limit)
  text = tostring(text or ""):gsub("%s+", " ")
  limit = limit or 60
  if vim.fn.strchars(text) > limit then
    text = vim.fn.strcharpart(text, 0, limit - 1) .. "…"
  end
  return '"' .. text .. '"'
end

local function status_label(s)
  return (M.GLYPHS[s] or "?") .. " " .. (M.LABELS[s] or tostring(s))
end

--- What one event did, in one line (mirrors `np log`).
function M.event_details(e)
  local p = value(e.payload) or {}
  local t = e.type
  if t == "session_started" then
    return "session started in " .. tostring(value(p.dir) or "?")
  elseif t == "session_archived" then
    return "session archived"
  elseif t == "session_moved" then
    return "session moved from " .. tostring(value(p.dir_before) or "?") .. " to "
      .. tostring(value(p.dir_after) or "?")
  elseif t == "goal_set" then
    return "goal set: " .. quote((value(p.goal) or {}).title)
  elseif t == "goal_updated" then
    local b, a = value(p.goal_before) or {}, value(p.goal_after) or {}
    local parts = {}
    if b.title ~= a.title then
      table.insert(parts, "title " .. quote(b.title) .. " → " .. quote(a.title))
    end
    if b.description ~= a.description then
      table.insert(parts, "description changed")
    end
    return "goal changed: " .. (#parts > 0 and table.concat(parts, "; ") or "no visible change")
  elseif t == "task_added" then
    local task = value(p.task) or {}
    return "task " .. tostring(task.id) .. " added: " .. quote(task.title)
  elseif t == "task_updated" then
    local b, a = value(p.before) or {}, value(p.after) or {}
    local parts = {}
    if b.title ~= a.title then
      table.insert(parts, "title " .. quote(b.title) .. " → " .. quote(a.title))
    end
    if b.description ~= a.description then
      table.insert(parts, "description changed")
    end
    return "task "
      .. tostring(p.task_id)
      .. " edited: "
      .. (#parts > 0 and table.concat(parts, "; ") or "no visible change")
  elseif t == "task_status_changed" then
    return string.format(
      "task %s %s: %s → %s",
      tostring(p.task_id),
      quote(p.title, 40),
      status_label(p.status_before),
      status_label(p.status_after)
    )
  end
  return tostring(t)
end

function M.event_lines(events)
  local lines = {}
  for _, e in ipairs(events or {}) do
    local at = tostring(value(e.at) or ""):sub(1, 19):gsub("T", " ")
    local line = string.format("#%s %s %s", tostring(e.seq), at, M.event_details(e))
    local reason = value(e.reason)
    if reason and reason ~= "" then
      line = line .. " — reason: " .. tostring(reason):gsub("%s+", " ")
    end
    local cmd = value(e.cmd)
    if cmd and cmd ~= "" then
      line = line .. "  [" .. tostring(cmd):gsub("%s+", " ") .. "]"
    end
    table.insert(lines, line)
  end
  if #lines == 0 then
    lines = { "(no events)" }
  end
  return lines
end

return M
