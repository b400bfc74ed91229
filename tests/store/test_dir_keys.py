"""The stored form of a directory (``store.paths.dir_key``) is injective and well-formed,
and ``dir_path`` is its inverse, for any path the file system can hand over: any bytes
but NUL, decoded as Python does (PEP 383). Paths without a backslash or a byte that is not
UTF-8 are their own key, as in every database written before (fresh finding F6)."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from store.paths import dir_key, dir_path
from store.text import first_ill_formed

# Any path bytes (no NUL), with backslashes, "x", hex digits and high bytes made likely.
PATH_BYTES = st.lists(
    st.one_of(
        st.sampled_from([b"\\", b"x", b"f", b"e9", b"\\x", b"\\\\", b"/"]),
        st.binary(min_size=1, max_size=3).filter(lambda b: b"\0" not in b),
    ),
    max_size=12,
).map(lambda parts: os.fsdecode(b"/" + b"".join(parts)))


@given(a=PATH_BYTES, b=PATH_BYTES)
def test_dir_key_is_injective_well_formed_and_inverted_by_dir_path(a: str, b: str) -> None:
    assert first_ill_formed(dir_key(a)) is None
    dir_key(a).encode("utf-8")  # storable as SQLite TEXT
    assert dir_path(dir_key(a)) == a
    if a != b:
        assert dir_key(a) != dir_key(b)


def test_clean_paths_keep_their_key_and_the_two_folders_of_f6_differ() -> None:
    for clean in ("/home/ana/src/np", "/tmp/été/日本", "/x y/z"):
        assert dir_key(clean) == clean == dir_path(clean)
    raw = os.fsdecode(b"/tmp/u\xff\xe9")
    assert dir_key(raw) == "/tmp/u\\xff\\xe9"
    assert dir_key("/tmp/u\\xff\\xe9") == "/tmp/u\\\\xff\\\\xe9"
    # A key from before backslashes were escaped: a lone backslash names itself.
    assert dir_path("/tmp/a\\b") == "/tmp/a\\b"
