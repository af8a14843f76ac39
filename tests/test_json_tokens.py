"""JSON token bodies (format/json_tokens.py): the fast reading of plain digits gives exactly what json.loads
and `integer_rows` give, for every body, and the same error where they refuse one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snac_cli.format.export import integer_rows
from snac_cli.format.json_tokens import CHUNK, json_tokens


def reference(data: bytes) -> object:
    try:
        value = json.loads(data)
        return integer_rows(value.get("tokens") if isinstance(value, dict) else None).tolist()
    except (ValueError, RecursionError) as e:
        return type(e)


def ours(data: bytes) -> object:
    try:
        return json_tokens(data).tolist()
    except ValueError as e:
        return type(e)


tokens = st.lists(st.integers(0, 2**63 - 1) | st.integers(0, 5000), max_size=50)


@settings(max_examples=300, deadline=None)
@given(st.lists(tokens, min_size=1, max_size=3), st.sampled_from([", ", ",", " , ", ",\n"]), st.booleans())
def test_plain_bodies_read_as_json_reads_them(rows, separator, channels):
    value = rows if channels else rows[0]
    data = ('{"tokens": ' + json.dumps(value).replace(", ", separator) + "}").encode()
    assert ours(data) == reference(data)


@pytest.mark.parametrize(
    "body",
    [b'{"tokens": [1,,2]}', b'{"tokens": [1,2,]}', b'{"tokens": [,1]}', b'{"tokens": [01]}', b'{"tokens": [-1]}',
     b'{"tokens": [1.5]}', b'{"tokens": [9223372036854775808]}', b'{"tokens": [99999999999999999999]}',
     b'{"tokens": [[1], [2, 3]]}', b'{"tokens": [true]}', b'{"tokens": "1,2"}', b'[1, 2]', b"[" * 100_000,
     b'{"tokens": []}', b'{"tokens": [[]]}', b'{"tokens": [1, 2], "model": "x"}'],
)  # fmt: skip
def test_every_other_body_is_read_or_refused_as_json_does(body):
    assert ours(body) == reference(body) or (reference(body) is RecursionError and ours(body) is ValueError)


def test_a_row_longer_than_a_chunk_reads_whole():
    row = list(range(3 * CHUNK // 7))  # about 3 chunks of text
    assert json_tokens(json.dumps({"tokens": row}).encode()).tolist() == [row]
    assert np.array_equal(json_tokens(json.dumps({"tokens": [row, row]}).encode()), np.array([row, row]))
