"""``np m``: the live terminal monitor (watcher, keys, terminal, screen loop, pure view).

Empty on purpose: the CLI imports ``server.monitor.screen`` only for ``np m``.
"""
