-- Test init for `nvim --headless --clean -u minimal_init.lua`: puts the plugin and the test
-- helpers on the runtimepath, then runs $NP_TEST_SCRIPT once Neovim has started.
local plugin = assert(os.getenv("NP_NVIM_PLUGIN"), "NP_NVIM_PLUGIN is not set")
local tests = assert(os.getenv("NP_NVIM_TESTS"), "NP_NVIM_TESTS is not set")
vim.opt.runtimepath:prepend(plugin)
vim.opt.runtimepath:append(tests)
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. "F"

vim.api.nvim_create_autocmd("VimEnter", {
  once = true,
  callback = function()
    vim.schedule(function()
      require("np_test").run(assert(os.getenv("NP_TEST_SCRIPT")))
    end)
  end,
})
