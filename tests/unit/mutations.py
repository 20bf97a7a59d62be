"""Hypothesis strategies shared by the fuzz tests: shipped files, damaged a few spans at a time."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def mutated(draw: st.DrawFn, sources: list[bytes], fragments: st.SearchStrategy[str]) -> bytes:
    """A file of ``sources`` with a few spans deleted, repeated (duplicate keys, deeper nesting), or replaced by or
    preceded with one of ``fragments``."""
    data = bytearray(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        end = min(len(data), start + draw(st.integers(0, 60)))
        how = draw(st.sampled_from(["delete", "repeat", "insert", "replace"]))
        span = data[start:end] * draw(st.integers(1, 3)) if how == "repeat" else draw(fragments).encode()
        data[start:end if how in ("delete", "replace") else start] = b"" if how == "delete" else span
    return bytes(data)
