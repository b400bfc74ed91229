"""Words for agents and people, shared by every door: plan text, events, export, guidance.

The command table's results carry ``text`` and ``guide`` (SPEC §5), so these are part of the
protocol contract; they import no front door and no protocol library.
"""
