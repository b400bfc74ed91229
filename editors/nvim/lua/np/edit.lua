-- An editing buffer for a task's or the goal's text: line 1 is the title, the lines after
-- a blank line are the description. :w asks for the reason and saves through the server.
local compat = require("np.compat")

local M = {}

local ns = vim.api.nvim_create_namespace("np_edit")

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

--- Split buffer lines into title and description.
function M.parse(lines)
  local title = trim(lines[1] or "")
  local first = 2
  if lines[2] ~= nil and trim(lines[2]) == "" then
    first = 3
  end
  local body = {}
  for i = first, #lines do
    table.insert(body, lines[i])
  end
  while #body > 0 and trim(body[#body]) == "" do
    table.remove(body)
  end
  return title, table.concat(body, "\n")
end

local function content(title, description)
  local lines = { title, "" }
  if description ~= "" then
    vim.list_extend(lines, vim.split(description, "\n", { plain = true }))
  end
  return lines
end

--- spec: { name, title, description, label, mods, save = fn(title, description, done) }
--- save() gets only what changed (nil for an unchanged field) and calls done(ok).
function M.open(spec)
  spec.title = (tostring(spec.title or ""):gsub("[\r\n]", " "))
  local existing = vim.fn.bufnr(spec.name)
  if existing ~= -1 and vim.api.nvim_buf_is_valid(existing) then
    local win = vim.fn.bufwinid(existing)
    if win ~= -1 then
      vim.api.nvim_set_current_win(win)
    else
      vim.cmd((spec.mods or "") .. " sbuffer " .. existing)
    end
    return existing
  end

  vim.cmd((spec.mods ~= "" and spec.mods or "") .. " new")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = "acwrite"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].swapfile = false
  vim.api.nvim_buf_set_name(buf, spec.name)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, content(spec.title, spec.description))
  compat.set_filetype(buf, "markdown")
  vim.bo[buf].modified = false
  vim.api.nvim_buf_set_extmark(buf, ns, 0, 0, {
    virt_text = { { "  ← " .. spec.label .. " title · description below · :w saves", "Comment" } },
    virt_text_pos = "eol",
  })

  local original = { title = spec.title, description = spec.description }
  vim.api.nvim_create_autocmd("BufWriteCmd", {
    buffer = buf,
    callback = function()
      local title, description = M.parse(vim.api.nvim_buf_get_lines(buf, 0, -1, false))
      local new_title = title ~= original.title and title or nil
      local new_description = description ~= original.description and description or nil
      if new_title == nil and new_description == nil then
        vim.notify("np: nothing changed", vim.log.levels.INFO)
        vim.bo[buf].modified = false
        return
      end
      spec.save(new_title, new_description, function(ok)
        if not ok or not vim.api.nvim_buf_is_valid(buf) then
          return
        end
        vim.bo[buf].modified = false
        pcall(vim.api.nvim_buf_delete, buf, { force = true })
      end)
    end,
  })
  return buf
end

return M
