"""Properties of the server's LSP frame reader (``server.lsp.transport.Framer``), in process: it
never loses sync, whatever the chunking, the garbage or a wrong Content-Length."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from serve_support import frame

from server.lsp.transport import FrameError, Framer, Message

# Bodies are JSON objects: no proper prefix of one parses, as for real JSON-RPC messages.
values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))
objects = st.dictionaries(st.text(max_size=8), values, max_size=4)
garbage = st.binary(max_size=200).filter(lambda b: not re.search(rb"content-length", b, re.I))


def parsed(frames: list[Any]) -> list[Any]:
    return [f.value for f in frames if isinstance(f, Message)]


def errors(frames: list[Any]) -> list[FrameError]:
    return [f for f in frames if isinstance(f, FrameError)]


def feed_in_pieces(framer: Framer, data: bytes, cuts: list[int]) -> list[Any]:
    out: list[Any] = []
    prev = 0
    for cut in [*sorted(cuts), len(data)]:
        out += framer.feed(data[prev:cut])
        prev = cut
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(objects, min_size=1, max_size=6), st.data())
def test_any_chunking_yields_every_message(msgs: list[Any], data: st.DataObject) -> None:
    stream = b"".join(frame(m) for m in msgs)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    out = feed_in_pieces(Framer(), stream, cuts)
    assert parsed(out) == msgs and not errors(out)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(garbage, objects), min_size=1, max_size=6), garbage, st.data())
def test_garbage_between_frames_is_skipped(
    pairs: list[tuple[bytes, Any]], tail: bytes, data: st.DataObject
) -> None:
    stream = b"".join(g + frame(m) for g, m in pairs) + tail
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    out = feed_in_pieces(Framer(), stream, cuts)
    assert parsed(out) == [m for _, m in pairs]


@settings(max_examples=150, deadline=None)
@given(st.lists(objects, min_size=1, max_size=5), st.data())
def test_one_wrong_content_length_loses_nothing(msgs: list[Any], data: st.DataObject) -> None:
    bodies = [json.dumps(m).encode() for m in msgs]
    i = data.draw(st.integers(0, len(bodies) - 1))
    true = len(bodies[i])
    wrong = data.draw(st.integers(0, true + 300).filter(lambda n: n != true))
    stream = b"".join(
        b"Content-Length: %d\r\n\r\n" % (wrong if n == i else len(b)) + b
        for n, b in enumerate(bodies)
    )
    framer = Framer()
    out = framer.feed(stream)
    out += framer.flush_stalled()  # an overstated last frame: taken after a pause
    assert parsed(out) == msgs


def test_a_stall_only_takes_a_whole_document() -> None:
    framer = Framer()
    assert framer.feed(b'Content-Length: 100\r\n\r\n{"a": [1, 2') == []
    assert framer.waiting_for_body
    assert framer.flush_stalled() == []  # not a whole document yet: keep waiting
    assert not framer.waiting_for_body  # and do not parse it again until more arrives
    out = framer.feed(b"]}")
    assert out == [] and framer.waiting_for_body
    assert parsed(framer.flush_stalled()) == [{"a": [1, 2]}]


def test_oversized_frames_are_skipped_without_being_kept() -> None:
    framer = Framer(max_body=1000)
    out = framer.feed(b"Content-Length: 5000\r\n\r\n")
    for _ in range(4):
        out += framer.feed(b"x" * 1000)
        assert len(framer._buf) <= 100  # streamed away, not buffered
    out += framer.feed(b"x" * 1000 + frame({"after": 1}))
    assert [e.code for e in errors(out)] == [-32600]
    assert parsed(out) == [{"after": 1}]


def test_a_huge_declared_length_resyncs_on_the_next_header() -> None:
    out = Framer().feed(b"Content-Length: 99999999999\r\n\r\n{}" + frame({"next": True}))
    assert [e.code for e in errors(out)] == [-32600]
    assert parsed(out) == [{"next": True}]


def test_header_variants() -> None:
    out = Framer().feed(
        b'content-length:7\n\n{"a":1}'  # lower case, bare newlines, no space
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
        b'Content-Length:  7 \r\n\r\n{"b":2}'  # Content-Type first, extra spaces
    )
    assert parsed(out) == [{"a": 1}, {"b": 2}]


def test_bad_bodies_become_parse_errors() -> None:
    out = Framer().feed(frame(b"{nope") + frame(b"\xff\xfe") + frame(b"[" * 50_000) + frame(b""))
    assert [e.code for e in errors(out)] == [-32700] * 4
