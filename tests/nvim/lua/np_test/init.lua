-- Helpers for the headless Neovim tests (see tests/nvim/conftest.py).
--
-- A test script runs top to bottom inside Neovim; any error fails it: the harness prints
-- the error, the notifications seen so far and the plan window, then exits with `cquit 3`.
-- Prompts are answered by stubbing vim.ui.input / vim.ui.select, the documented override
-- points that the plugin calls.
local T = {}

T.np_bin = assert(os.getenv("NP_BIN"), "NP_BIN is not set")
T.db = os.getenv("NP_TEST_DB")
T.notes = {} -- { msg, level } for every vim.notify
T.prompts = {} -- every vim.ui.input / select prompt, in order
local out = {}

vim.notify = function(msg, level)
  table.insert(T.notes, { msg = tostring(msg), level = level or vim.log.levels.INFO })
end

local function fmt(v)
  return type(v) == "string" and v or vim.inspect(v)
end

function T.ok(cond, msg)
  if not cond then
    error("assertion failed: " .. fmt(msg or "condition is false"), 2)
  end
  return cond
end

function T.eq(actual, expected, msg)
  if not vim.deep_equal(actual, expected) then
    local text = "%s\n  expected: %s\n  actual:   %s"
    error(string.format(text, msg or "not equal", fmt(expected), fmt(actual)), 2)
  end
end

function T.contains(haystack, needle, msg)
  if type(haystack) == "table" then
    haystack = table.concat(haystack, "\n")
  end
  if not tostring(haystack):find(needle, 1, true) then
    error(string.format("%s\n  %q not found in:\n%s", msg or "missing text", needle, haystack), 2)
  end
end

--- Wait (running the event loop) until pred() is truthy; error after timeout_ms.
function T.wait(pred, msg, timeout_ms)
  local value
  local ok = vim.wait(timeout_ms or 8000, function()
    value = pred()
    return value
  end, 20)
  if not ok then
    error("timed out waiting for " .. (msg or "a condition"), 2)
  end
  return value
end

--- Wait for a notification whose message contains `text` (plain) at `level` (optional).
function T.wait_note(text, level, timeout_ms)
  return T.wait(function()
    for _, n in ipairs(T.notes) do
      if n.msg:find(text, 1, true) and (level == nil or n.level == level) then
        return n
      end
    end
  end, "a notification containing " .. string.format("%q", text), timeout_ms)
end

function T.errors()
  local errs = {}
  for _, n in ipairs(T.notes) do
    if n.level == vim.log.levels.ERROR then
      table.insert(errs, n.msg)
    end
  end
  return errs
end

--- No error notifications, and no deprecation warnings from the Neovim runtime.
function T.no_errors()
  T.eq(T.errors(), {}, "no error notifications expected")
  for _, n in ipairs(T.notes) do
    T.ok(not n.msg:lower():find("deprecat"), "deprecation warning: " .. n.msg)
  end
end

--- Answer the next vim.ui.input prompts with `answers` (nil entries cancel).
function T.answer(...)
  local answers = { n = select("#", ...), ... }
  local i = 0
  vim.ui.input = function(opts, on_confirm)
    i = i + 1
    table.insert(T.prompts, opts.prompt or "")
    if i > answers.n then
      error("unexpected prompt: " .. tostring(opts.prompt))
    end
    on_confirm(answers[i])
  end
end

function T.choose(choice)
  vim.ui.select = function(items, opts, on_choice)
    table.insert(T.prompts, opts.prompt or "")
    for i, item in ipairs(items) do
      if item == choice then
        return on_choice(item, i)
      end
    end
    on_choice(nil, nil)
  end
end

function T.setup(opts)
  local base = { cmd = { T.np_bin, "serve" }, autostart = false }
  return require("np").setup(vim.tbl_extend("force", base, opts or {}))
end

--- The np CLI in another process (its --json output, decoded), like an agent in a shell.
function T.cli(...)
  local argv = { T.np_bin }
  if T.db then
    vim.list_extend(argv, { "--db", T.db })
  end
  vim.list_extend(argv, { ... })
  table.insert(argv, "--json")
  local text = vim.fn.system(argv)
  local ok, decoded = pcall(vim.fn.json_decode, text)
  if not ok then
    error("np " .. table.concat({ ... }, " ") .. " printed no JSON: " .. text, 2)
  end
  return decoded, vim.v.shell_error
end

function T.window_text()
  return table.concat(require("np.window").lines(), "\n")
end

function T.buf_text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf or 0, 0, -1, false), "\n")
end

--- Wait until the plan window shows `text`.
function T.wait_window(text, timeout_ms)
  return T.wait(function()
    return T.window_text():find(text, 1, true) ~= nil
  end, "the plan window to show " .. string.format("%q", text), timeout_ms)
end

--- Move the cursor in the plan window to the line of task `id`.
function T.cursor_on(id)
  local win = T.ok(require("np.window").win(), "the plan window is open")
  vim.api.nvim_set_current_win(win)
  for i, line in ipairs(require("np.window").lines()) do
    if line:find(" " .. id .. " ", 1, true) then
      vim.api.nvim_win_set_cursor(win, { i, 0 })
      return i
    end
  end
  error("task " .. id .. " is not in the plan window")
end

--- Create a file the Python side waits for (coordination with another process).
function T.signal(name)
  local dir = assert(os.getenv("NP_TEST_SIGNALS"))
  local f = assert(io.open(dir .. "/" .. name, "w"))
  f:write("1")
  f:close()
end

--- Values for the Python side (written as JSON to $NP_TEST_OUT at exit).
function T.out(key, value)
  out[key] = value
end

local function report(err)
  local lines = { "FAIL: " .. tostring(err), "notifications:" }
  for _, n in ipairs(T.notes) do
    table.insert(lines, string.format("  [%s] %s", tostring(n.level), n.msg))
  end
  table.insert(lines, "plan window:")
  for _, l in ipairs(require("np.window").lines()) do
    table.insert(lines, "  | " .. l)
  end
  io.stderr:write(table.concat(lines, "\n") .. "\n")
end

local function write_out()
  local path = os.getenv("NP_TEST_OUT")
  if path then
    local f = assert(io.open(path, "w"))
    f:write(vim.fn.json_encode(next(out) and out or vim.empty_dict()))
    f:close()
  end
end

local function np_clients()
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  local found = {}
  for _, c in ipairs(get()) do
    if c.name == "np" then
      table.insert(found, c)
    end
  end
  return found
end

--- Stop the plugin's servers and let their exit callbacks run, as happens when a user's
--- server goes away: errors raised there are printed (stderr) and fail the test.
function T.stop_servers()
  require("np.client").stop_all()
  T.wait(function()
    return #np_clients() == 0
  end, "the np servers to exit", 10000)
  -- on_exit work is scheduled; give it (and what it schedules) a few turns of the loop.
  vim.wait(100)
end

function T.run(path)
  local ok, err = xpcall(function()
    dofile(path)
    T.stop_servers()
  end, debug.traceback)
  write_out()
  if ok then
    vim.cmd("qall!")
  else
    report(err)
    vim.cmd("cquit 3")
  end
end

return T
