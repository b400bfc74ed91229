"""Who an agent is, the same through every door it uses (issue 21).

Hosts tell the programs they start who they are through environment variables. The CLI's
default actor is the name that host's MCP client sends (``clientInfo.name``), so one agent
using both ``np mcp`` and ``np`` is one actor; where the host exposes a session id to both
(Claude Code's ``CLAUDE_CODE_SESSION_ID``), both doors add it, so two agents of one host are
two actors. Measured with the real hosts (``/work/shared/reference/agent-hosts.md``, "What
each host tells the programs it starts"); opencode, Qwen Code and Cline as their sources set
them. Standard library only, no imports: the CLI's import path.
"""

from __future__ import annotations

from collections.abc import Mapping

# (environment variable that marks the host, the name its MCP client sends, the variable
# that holds a session id every process of that agent sees, or "").
HOSTS: tuple[tuple[str, str, str], ...] = (
    ("CLAUDECODE", "claude-code", "CLAUDE_CODE_SESSION_ID"),
    # Codex gives its shell CODEX_SESSION_ID but filters the MCP server's environment: a
    # session suffix on the CLI alone would split one agent into two actors.
    ("CODEX_SESSION_ID", "codex-mcp-client", ""),
    ("CODEX_THREAD_ID", "codex-mcp-client", ""),
    ("CODEX_CI", "codex-mcp-client", ""),
    ("GEMINI_CLI", "gemini-cli-mcp-client", ""),
    ("QWEN_CODE", "qwen-cli-mcp-client-np", ""),
    ("OPENCODE", "opencode", ""),
    ("CLINE_ACTIVE", "@cline/core", ""),
)
SESSION_CHARS = 8  # how much of a host's session id an actor name carries


def host_actor(env: Mapping[str, str]) -> str | None:
    """The actor the CLI records by default when a known host runs it (the name that host's
    MCP client sends, with the agent's session where the host exposes one to both doors);
    None when no host is recognised."""
    for marker, name, session in HOSTS:
        if env.get(marker, "").strip():
            return with_session(name, env.get(session, "") if session else "")
    return None


def mcp_actor(client: str, env: Mapping[str, str]) -> str:
    """The actor ``np mcp`` records for MCP client ``client``: its name, with the agent's
    session when its host exposes one to the server as well (the same as the CLI's)."""
    for marker, name, session in HOSTS:
        if name == client and session and env.get(marker, "").strip():
            return with_session(name, env.get(session, ""))
    return client


def with_session(name: str, session: str) -> str:
    """``name#<the first characters of session>``, or ``name`` without a usable session."""
    short = "".join(c for c in session.strip() if c.isalnum())[:SESSION_CHARS]
    return f"{name}#{short}" if short else name


__all__ = ["HOSTS", "host_actor", "mcp_actor", "with_session"]
