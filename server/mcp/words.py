"""What the MCP door says beyond the shared tables: its server instructions, its ``np``
prompt and its own errors about ``dir``. Guides after results and the next step each error
adds are ``server.text.guide`` and ``server.text.hints`` (door ``"mcp"``): tool names and
their arguments, never a shell flag or an ``np`` command."""

from __future__ import annotations

from store import NpError

from ..text.hints import hint, shown_changes
from .schema import INSTRUCTIONS, PROMPT_DESCRIPTION

__all__ = ["INSTRUCTIONS", "PROMPT", "PROMPT_DESCRIPTION", "failed", "saved"]
PROMPT = """\
## nasin pali (the way of work)

Instead of any built-in todo or planning tools, plan your work with the np tools, unless the
operator says otherwise. Start every piece of work with np_start (or np_resume to resume an
existing session after a context reset); each result tells you the next step. Pass "dir" (the
project's absolute path) when the np server does not run in the project. Never try to archive
a session yourself; that is the operator's.
"""

NO_DIR = (
    'This np server runs in / or your home directory, not in a project; pass "dir" with '
    "the project's absolute path."
)


def saved(tool: str, cause: Exception) -> str:
    """The result of a write that committed, then failed to build its result."""
    why = cause.message if isinstance(cause, NpError) else type(cause).__name__
    return (
        f"saved: {tool} was carried out and saved, but its result could not be built ({why}); "
        "do not repeat it. Call np_plan to see the plan."
    )


#: The next step when np mcp cannot run as configured (a missing -C folder, a bad NP_DB).
MISCONFIGURED = (
    "np mcp cannot run as it was started; fix its -C, --db or NP_DB in this host's MCP "
    "settings for np, then restart the server."
)


def failed(kind: str, message: str, next_step: str | None = None) -> str:
    """An error result's text. Its first words say that the call failed and what to do,
    then why: hosts show it in many ways (Codex and opencode drop ``isError``, Gemini CLI and
    Qwen Code wrap it in JSON, Cline shows the raw result), and a model reading any of them
    must not take it for a success. ``Failed (kind): next step. Why.``"""
    return f"Failed ({kind}): {next_step} {message}" if next_step else f"Failed ({kind}): {message}"


def error_message(exc: NpError) -> str:
    """A tool error's result text (:func:`failed`), with this door's next step."""
    text = failed(exc.kind, exc.message, hint("mcp", exc.kind, exc.data))
    return text + shown_changes(exc.kind, exc.data)
