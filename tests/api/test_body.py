"""The byte-level JSON depth count agrees with a plain recursive count on any JSON."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.api.body import nesting_depth
from cds_service.content_length import declared_length

tricky_text = st.text(alphabet='[]{}"\\\\nu0a\u200b', max_size=12)
values = st.recursive(
    st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(tricky_text, inner, max_size=3)
    ),
    max_leaves=25,
)


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=300)
@given(value=values)
def test_byte_count_matches_a_walk(value: Any) -> None:
    expected = reference_depth(value)
    for raw in (
        orjson.dumps(value),
        json.dumps(value, indent=1).encode(),
        json.dumps(value, ensure_ascii=True).encode(),
    ):
        assert nesting_depth(raw, 64) == min(expected, 65)


def test_limit_is_reported_as_exceeded() -> None:
    raw = b"[" * 100 + b"]" * 100
    assert nesting_depth(raw, 64) == 65
    assert nesting_depth(raw, 100) == 100


@pytest.mark.parametrize(
    ("header", "length"),
    [("123", 123), ("0", 0), (None, None), ("", None), ("\u00b2", None), ("\u0663", None),
     ("-1", None), ("1e9", None), (" 12", None)],
)
def test_declared_length_trusts_plain_ascii_digits_only(header: str | None, length: int | None) -> None:
    assert declared_length(header) == length
