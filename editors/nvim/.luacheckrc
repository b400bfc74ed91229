-- luacheck (Debian: lua-check): `luacheck .` here, or with ../../tests/nvim/lua too.
std = "luajit"
globals = { "vim" }
max_line_length = 100
