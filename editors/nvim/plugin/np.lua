-- np (nasin pali): user commands. The work happens in lua/np/ and is loaded on first use;
-- require("np").setup{} is optional (it sets options and starts the server for :pwd).
if vim.g.loaded_np == 1 then
  return
end
vim.g.loaded_np = 1

if vim.fn.has("nvim-0.7") ~= 1 then
  vim.api.nvim_err_writeln("np: Neovim 0.7 or newer is required")
  return
end

local function np()
  return require("np")
end

local function command(name, fn, opts)
  vim.api.nvim_create_user_command(name, fn, opts)
end

command("Np", function()
  np().toggle()
end, { nargs = 0, desc = "np: toggle the live plan window" })

command("NpStart", function()
  np().start()
end, { nargs = 0, desc = "np: start a session in the working directory" })

command("NpGoal", function(a)
  np().goal(a.args, nil, a.mods)
end, { nargs = "*", desc = "np: set the goal {title} (asks for the description), or edit it" })

command("NpAdd", function(a)
  local title = vim.trim(a.args)
  if title == "" then
    np().add_prompt()
  else
    np().add(title)
  end
end, { nargs = "*", desc = "np: add a task {title}" })

command("NpStatus", function(a)
  local id, status, reason = a.args:match("^%s*(%S+)%s+(%S+)%s*(.-)%s*$")
  if not id then
    vim.notify("np: usage: :NpStatus {id} {status} [reason…]", vim.log.levels.ERROR)
    return
  end
  np().set_status(id:lower(), status, reason ~= "" and reason or nil)
end, {
  nargs = "+",
  complete = function(...)
    return np().complete_status(...)
  end,
  desc = "np: set a task's status: {id} {status} [reason…]",
})

command("NpEdit", function(a)
  local id = vim.trim(a.args)
  if id == "" then
    vim.notify("np: usage: :NpEdit {id}", vim.log.levels.ERROR)
    return
  end
  np().edit(id:lower(), nil, a.mods)
end, {
  nargs = 1,
  complete = function(...)
    return np().complete_id(...)
  end,
  desc = "np: edit a task's title and description",
})

command("NpAnswer", function(a)
  local id, text = a.args:match("^%s*(%S+)%s*(.-)%s*$")
  if not id then
    vim.notify("np: usage: :NpAnswer {id} [answer…]", vim.log.levels.ERROR)
    return
  end
  np().answer(id:lower(), text ~= "" and text or nil)
end, {
  nargs = "+",
  complete = function(...)
    return np().complete_id(...)
  end,
  desc = "np: answer the agent's question on task {id}: [answer…], else pick a choice",
})

command("NpArchive", function()
  np().archive()
end, { nargs = 0, desc = "np: archive the session (asks first)" })

command("NpExport", function(a)
  np().export(vim.trim(a.args), nil, a.mods)
end, {
  nargs = "?",
  complete = function()
    return { "markdown", "json" }
  end,
  desc = "np: the plan and its event log in a new buffer",
})

command("NpLog", function(a)
  local n = tonumber(vim.trim(a.args))
  np().log(n, nil, a.mods)
end, { nargs = "?", desc = "np: the event log, newest first [count]" })
