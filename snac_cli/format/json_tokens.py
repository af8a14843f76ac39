"""JSON token bodies, `{"tokens": [...]}` (one list, or one per channel), read into int64 arrays without a
Python object per token: json.loads made 14 MB of tokens 250 MB of ints (600 MB at peak) and took seconds;
the common shape, plain digits and commas, is read by numpy straight into its array (8 bytes a token).
Anything else goes through json.loads and `integer_rows`, which say what is wrong with it."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np

from snac_cli.format.export import integer_rows

# {"tokens": [1, 2, 3]} or {"tokens": [[1, 2], [3, 4]]}: digits, commas and spaces between the brackets.
PLAIN = re.compile(rb'\s*\{\s*"tokens"\s*:\s*(\[\s*\[[\d,\s\[\]]*\]\s*\]|\[[\d,\s]*\])\s*\}\s*')
ROW = re.compile(rb"\[([\d,\s]*)\]")


CHUNK = 1 << 20  # bytes of a row read at once: numpy's temporaries stay this small


def json_tokens(data: bytes) -> np.ndarray:
    """The tokens of a JSON body as an int64 array (channels, n); a ValueError naming what is wrong."""
    plain = PLAIN.fullmatch(data)
    if plain is not None:
        rows = [row_of(data, *m.span(1)) for m in ROW.finditer(data, *plain.span(1))]
        whole = [row for row in rows if row is not None]
        if whole and len(whole) == len(rows):
            if len({len(row) for row in whole}) > 1:
                raise ValueError("channels of different lengths")
            return np.stack(whole)
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return integer_rows(value.get("tokens") if isinstance(value, dict) else None)


def row_of(data: bytes, start: int, end: int) -> np.ndarray | None:
    """The row of plain decimal integers separated by commas in data[start:end], read by numpy a chunk at a
    time (no Python int per token), or None where it is not exactly that (json.loads then says what is)."""
    if not data[start:end].strip():
        return np.zeros(0, dtype=np.int64)
    pieces = []
    while start < end:
        cut = data.find(b",", min(start + CHUNK, end), end)
        cut = end if cut == -1 else cut
        piece = data[start:cut]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns where it stops early (an empty item): not plain
            try:
                row = np.fromstring(piece, dtype=np.int64, sep=",") if plain_numbers(piece) else None
            except (ValueError, DeprecationWarning):
                row = None
        if row is None or len(row) != piece.count(b",") + 1:
            return None
        pieces.append(row)
        start = cut + 1
    return np.concatenate(pieces) if data[end - 1 : end].strip() != b"," else None


def plain_numbers(text: bytes) -> bool:
    """Whether every number has at most 18 digits (19 may pass int64) and no leading zero (JSON has none),
    checked on the bytes as an array (a regular expression took 1.2 s for 60 MB)."""
    code = np.frombuffer(text, dtype=np.uint8)
    digit = (code >= ord("0")) & (code <= ord("9"))
    edges = np.diff(np.concatenate([[False], digit, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size and (ends - starts).max() > 18:
        return False
    return not bool(((code[starts] == ord("0")) & (ends - starts > 1)).any())
