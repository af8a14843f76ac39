"""Flat token sequences for language models: the Orpheus order, offsets, exact round trips."""

from __future__ import annotations

import numpy as np
import pytest

from snac_cli.format.tokens import check_template, frame_order, from_tokens, to_tokens


def test_the_24khz_order_is_orpheus_order():
    c0, c1, c2 = np.array([10, 11]), np.arange(20, 24), np.arange(40, 48)
    tokens = to_tokens([c0, c1, c2], (4, 2, 1), 4096)
    assert tokens[:7].tolist() == [10, 20, 40, 41, 21, 42, 43]
    assert tokens[7:].tolist() == [11, 22, 44, 45, 23, 46, 47]


def test_four_scales_give_fifteen_tokens_per_frame():
    assert len(frame_order((8, 4, 2, 1))) == 15
    assert frame_order((8, 4, 2, 1))[:5] == [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1)]


@pytest.mark.parametrize("offsets", ["none", "scale", "position"])
@pytest.mark.parametrize("strides", [(4, 2, 1), (8, 4, 2, 1)])
def test_tokens_round_trip_exactly(offsets, strides):
    rng = np.random.default_rng(0)
    frames = 13
    codes = [rng.integers(0, 4096, frames * strides[0] // s) for s in strides]
    tokens = to_tokens(codes, strides, 4096, offsets, base=128266)
    back = from_tokens(tokens, strides, 4096, offsets, base=128266)
    assert all(np.array_equal(a, b) for a, b in zip(codes, back, strict=True))


def test_position_offsets_add_position_times_codebook_size():
    codes = [np.array([1]), np.array([2, 3]), np.array([4, 5, 6, 7])]
    assert to_tokens(codes, (4, 2, 1), 4096, "position", base=10).tolist() == [
        10 + 1, 10 + 4096 + 2, 10 + 2 * 4096 + 4, 10 + 3 * 4096 + 5, 10 + 4 * 4096 + 3, 10 + 5 * 4096 + 6,
        10 + 6 * 4096 + 7,
    ]  # fmt: skip


def test_bad_token_sequences_are_rejected_with_their_place():
    with pytest.raises(ValueError, match="not a whole number of frames"):
        from_tokens(np.arange(8), (4, 2, 1), 4096)
    tokens = to_tokens([np.array([1]), np.array([2, 3]), np.array([4, 5, 6, 7])], (4, 2, 1), 4096, "position")
    tokens[3] = 5  # position 3 must lie in 3 * 4096 ... 4 * 4096 - 1
    with pytest.raises(ValueError, match="frame 0, position 3"):
        from_tokens(tokens, (4, 2, 1), 4096, "position")


def test_odd_strides_cannot_be_interleaved():
    with pytest.raises(ValueError, match="multiple of the next"):
        frame_order((3, 2, 1))


@pytest.mark.parametrize("template", ["abc", "{0}{1}", "{x}", "{}{}", "{}", "< {}>", "<{}1>", "{{}}<{}>", "<{:d}>"])
def test_a_template_must_read_back_unambiguously(template):
    with pytest.raises(ValueError, match="template"):
        check_template(template)


def test_a_base_that_would_overflow_64_bits_is_refused():
    one_frame = [np.zeros(n, dtype=np.int64) for n in (1, 2, 4)]
    with pytest.raises(ValueError, match="base"):
        to_tokens(one_frame, (4, 2, 1), 4096, "position", 2**63 - 10)
    with pytest.raises(ValueError, match="base"):
        to_tokens(one_frame, (4, 2, 1), 4096, "none", -1)
