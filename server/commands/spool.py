"""A result whose long values are read lazily (``Context.stream``: ``np.export``'s content,
``np.events``' events), encoded as JSON in pieces — to a door's output as they are read (the
CLI), or into a temporary file for a door that must know a message's length before sending
it (``np serve``'s ``Content-Length``). Either way memory stays flat however long the log is.

Door-neutral (the standard library only).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

# Keys of a streamed result whose lazy value is text in pieces (a JSON string); any other
# lazy value is a sequence of items (a JSON array).
TEXT_STREAMS = frozenset({"content"})
SPOOL_IN_MEMORY = 1 << 20  # bytes of a spooled result kept in memory; the rest on disk
CHUNK = 1 << 16


def dump(obj: object) -> str:
    """Compact JSON, UTF-8 kept as is (what ``--json`` prints)."""
    import json  # off the CLI's import path until a result is printed

    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def is_streamed(result: dict[str, Any]) -> bool:
    """Whether some value of ``result`` is lazy (to be read while the store is open)."""
    return any(
        not (v is None or isinstance(v, str | int | float | bool | dict | list))
        for v in result.values()
    )


def dump_parts(obj: dict[str, Any]) -> Iterator[str]:
    """:func:`dump` of a result some of whose values are lazy iterables (a streamed
    result, ``Context.stream``), in pieces as they are read: the same bytes as
    ``dump`` of the whole, at flat memory."""
    import json

    yield "{"
    for i, (key, value) in enumerate(obj.items()):
        yield ("," if i else "") + dump(key) + ":"
        if value is None or isinstance(value, str | int | float | bool | dict | list):
            yield dump(value)
        elif key in TEXT_STREAMS:
            yield '"'
            for part in value:
                yield json.dumps(part, ensure_ascii=False)[1:-1]
            yield '"'
        else:
            yield "["
            for j, item in enumerate(value):
                yield ("," if j else "") + dump(item)
            yield "]"
    yield "}"


class Spooled:
    """A streamed result encoded as UTF-8 JSON (``size`` bytes), read back in chunks once;
    kept in memory up to :data:`SPOOL_IN_MEMORY`, beyond that in a temporary file."""

    def __init__(self, result: dict[str, Any]) -> None:
        import tempfile

        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            size = 0
            for part in dump_parts(result):
                data = part.encode("utf-8")
                self._file.write(data)
                size += len(data)
            self.size = size
        except BaseException:
            self._file.close()
            raise

    def chunks(self) -> Iterator[bytes]:
        """The bytes, a chunk at a time; the file is closed after the last (or on close)."""
        try:
            self._file.seek(0)
            while chunk := self._file.read(CHUNK):
                yield chunk
        finally:
            self._file.close()

    def close(self) -> None:
        self._file.close()
