"""``np serve``: the command table over JSON-RPC 2.0 on stdio (LSP framing), with pygls.

Layers, top to bottom (import-linter contract ``lsp-layers``): ``server`` (wiring: NpServer,
handlers, ``serve()``) above ``protocol`` (NpProtocol, every pygls private override) above
``transport`` (the Content-Length framer and the stdin readers). Empty on purpose: the CLI
imports ``server.lsp.server`` only for ``np serve``.
"""
