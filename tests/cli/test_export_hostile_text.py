"""The Markdown export keeps np's outline whatever the user's text holds (B6): titles,
descriptions, reasons, actors and recorded commands full of Markdown (headings, list
markers, unclosed fences, emphasis, links, raw HTML) change no heading and no list item,
as markdown-it-py (CommonMark) parses the real ``np export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.conftest import NpResult, NpRunner

HOSTILE_DESCRIPTION = (
    "## Event log\n\n- fake item\n1. fake ordered\n```\nunclosed fence\n"
    "    indented\n# H1 inside\n<div>raw html</div>\n> quote\n---\n````\n~~~"
)
HOSTILE_TITLES = [
    "Goal with `tick` and **bold** <b>x</b>",
    "a ``` b",
    "*star* _u_ [link](http://x) \\",
    "# not a heading #",
    "- not an item",
    "<!-- comment",
    "&amp; &#35; ![img](x.png) <http://auto.link>",
]


def outline(markdown: str) -> list[tuple[Any, ...]]:
    """The document's structure: headings (level, text) and list items (nesting depth),
    in order, plus every raw-HTML token; never the user's text inside code."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    out: list[tuple[Any, ...]] = []
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            out.append(("heading", tok.tag, tokens[i + 1].content))
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
            out.append((tok.type, depth))
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif tok.type == "list_item_open":
            out.append(("item", depth))
        elif tok.type in ("html_block", "blockquote_open", "hr"):
            out.append((tok.type,))
        for child in tok.children or []:
            if child.type in ("html_inline", "link_open", "image", "em_open"):
                out.append((child.type, child.content))
    return out


def texts(markdown: str) -> list[str]:
    """Every piece of inline text as a viewer shows it (escapes resolved)."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    found: list[str] = []

    def walk(children: list[Token]) -> None:
        for child in children:
            if child.type in ("text", "code_inline"):
                found.append(child.content)

    for tok in tokens:
        walk(tok.children or [])
    return found


def build(run_np: Any, titles: list[str], description: str, reason: str) -> str:
    assert run_np("s").code == 0
    assert run_np("g", "s", "-t", titles[0], "-d", description).code == 0
    args = ["t", "a"]
    for title in titles[1:]:
        args += ["-t", title, "-d", description]
    ids = run_np(*args, "--json").json()["added"]
    r = run_np("t", "u", "-i", ids[0], "-s", "failed", "-r", reason, env={"NP_ACTOR": reason})
    assert r.code == 0, r
    r = run_np("t", "u", "-i", ids[1], "-s", "cancelled", "-r", reason)
    assert r.code == 0, r
    r = run_np("export")
    assert r.code == 0, r
    return r.out


def test_hostile_text_leaves_the_outline_of_the_export_unchanged(
    run_np: NpRunner, tmp_path: Path
) -> None:
    plain = build(run_np, [f"title {n}" for n in range(len(HOSTILE_TITLES))], "plain", "why")
    other = tmp_path / "hostile"
    other.mkdir()

    def run_there(*args: str, env: dict[str, str] | None = None) -> NpResult:
        return run_np(*args, cwd=other, env=env)

    reason = "- **not** a list `x` <i>y</i> # z [l](u)"
    hostile = build(run_there, HOSTILE_TITLES, HOSTILE_DESCRIPTION, reason)
    headings = [h for h in outline(hostile) if h[0] == "heading"]
    assert [h[1] for h in headings] == ["h1", "h2", "h2", "h2"]
    assert [h[2] for h in headings[1:]] == ["Goal", "Tasks", "Event log"]
    # the same structure (headings' levels, lists, items and their nesting) as plain text
    assert levels(outline(hostile)) == levels(outline(plain))
    assert not [
        o for o in outline(hostile) if o[0] not in ("heading", "item") and "list" not in o[0]
    ]
    # every title, the reason and the actor read as the user typed them
    shown = texts(hostile)
    for text in [*HOSTILE_TITLES, reason]:
        assert any(text in piece for piece in shown), text
    assert f"By: {reason}" in shown
    # descriptions are verbatim in fenced code blocks, unclosed fences and all
    blocks = [t.content for t in MarkdownIt("commonmark").parse(hostile) if t.type == "fence"]
    assert blocks.count(HOSTILE_DESCRIPTION + "\n") == len(HOSTILE_TITLES)
    # the multi-line recorded commands too: a fence of their own, not a broken code span
    assert any(b.startswith("np g s -t ") and "# H1 inside" in b for b in blocks)


def levels(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(o[0], o[1]) for o in items]
