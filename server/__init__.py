"""np's protocol side: the command table and its front doors (CLI, LSP server, monitor).

Keep this module empty: ``np`` imports ``server.cli`` on every run, and anything here
would be on that path.
"""
