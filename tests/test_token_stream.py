"""Tokens one at a time, as a language model emits them: frames handed on as soon as complete, every
token's range checked for its place (code 0 valid), junk named by its index or dropped with its frame."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snac_cli.format.token_stream import TextTokens, TokenFrames, text_rows
from snac_cli.format.tokens import format_text, to_tokens

STRIDES = [(4, 2, 1), (8, 4, 2, 1)]


def random_codes(strides, frames, seed=0):
    rng = np.random.default_rng(seed)
    per_frame = [max(strides) // s for s in strides]
    codes = [rng.integers(0, 4096, frames * k) for k in per_frame]
    codes[0][0] = 0  # code 0 is a code like any other
    return codes


@pytest.mark.parametrize("strides", STRIDES)
@pytest.mark.parametrize("offsets", ["none", "scale", "position"])
def test_tokens_fed_one_at_a_time_give_back_the_exported_frames(strides, offsets):
    codes = random_codes(strides, 9)
    tokens = to_tokens(codes, strides, 4096, offsets, base=128266)
    parser = TokenFrames(strides, 4096, offsets=offsets, base=128266)
    frames = []
    for i, token in enumerate(tokens):
        done = parser.feed([int(token)])
        assert len(done) == (1 if (i + 1) % len(parser.order) == 0 else 0)  # the moment its last token comes
        frames += done
    parser.finish()
    assert [np.concatenate([f[s] for f in frames]).tolist() for s in range(len(strides))] == [c.tolist() for c in codes]


@pytest.mark.parametrize(("index", "token"), [(0, 4096), (3, -1), (8, 4096 * 7)])
def test_a_token_out_of_range_for_its_place_names_its_index(index, token):
    tokens = to_tokens(random_codes((4, 2, 1), 2), (4, 2, 1), 4096, "position").tolist()
    tokens[index] = token
    parser = TokenFrames((4, 2, 1), 4096, offsets="position")
    with pytest.raises(ValueError, match=f"at index {index} "):
        parser.feed(tokens)


def test_drop_frame_drops_only_the_frames_with_junk_and_counts_them():
    codes = random_codes((4, 2, 1), 5)
    tokens = to_tokens(codes, (4, 2, 1), 4096, "position").tolist()
    tokens[9] = 10**9  # in frame 1
    tokens[30] = -1  # in frame 4
    parser = TokenFrames((4, 2, 1), 4096, offsets="position", drop_frame=True)
    frames = parser.feed(tokens + [0, 0])  # and a partial frame at the end
    parser.finish()
    assert parser.dropped == 3 and len(frames) == 3
    assert [f[0][0] for f in frames] == [codes[0][0], codes[0][2], codes[0][3]]


def test_a_partial_last_frame_is_an_error():
    parser = TokenFrames((4, 2, 1), 4096)
    parser.feed([1, 2, 3])
    with pytest.raises(ValueError, match="end inside a frame"):
        parser.finish()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_text_read_in_pieces_of_any_size_reads_as_a_whole(data):
    template = data.draw(st.sampled_from(["<snac_{}>", "<custom_token_{}>", "a{}", "[{}]x"]))
    tokens = data.draw(st.lists(st.integers(0, 2**63 - 1), max_size=20))
    spaces = st.sampled_from(["", " ", "\t", "\n", " \n "])
    text = "".join(format_text(np.array([t], dtype=np.int64), template) + data.draw(spaces) for t in tokens)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    reader, numbers = TextTokens(template), []
    for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True):
        numbers += reader.feed(text[a:b])
    numbers += reader.feed("", final=True)
    assert numbers == tokens == [n for row in text_rows(text, template) for n in row]


def test_text_that_is_no_token_is_named_by_its_index_or_skipped():
    with pytest.raises(ValueError, match="at index 2: 'oops'"):
        TextTokens().feed("<snac_1><snac_2>oops<snac_3>", final=True)
    assert TextTokens(lenient=True).feed("<snac_1>oops<snac_3><snac_x>", final=True) == [1, None, 3, None]


def test_text_tokens_round_trip():
    tokens = np.array([0, 4095, 12])
    text = format_text(tokens)
    assert text == "<snac_0><snac_4095><snac_12>"
    assert text_rows(text) == [tokens.tolist()]
    assert text_rows("<snac_1> <snac_2>\n") == [[1, 2]]
    with pytest.raises(ValueError):
        text_rows("<snac_1><other_2>")


def test_each_line_of_text_is_a_channel():
    assert text_rows("<snac_1><snac_2>\n\n<snac_3> <snac_4>\r\n") == [[1, 2], [3, 4]]
    reader = TextTokens()
    assert reader.feed("<snac_1><sn") == [1] and reader.lines == 1
    assert reader.feed("ac_2>\n \n") == [2] and reader.lines == 1
    assert reader.feed("<snac_3>", final=True) == [3] and reader.lines == 2
    with pytest.raises(ValueError, match="line 2: not a '<snac_{}>' token at index 1"):
        text_rows("<snac_1>\n<snac_2>oops")


@pytest.mark.parametrize(("text", "written"), [
    ("<snac_1><snac_1 0>", "<snac_1 0>"),  # not code 10
    ("<snac_1><sn ac_1>", "<sn ac_1>"),  # not <snac_1>
    ("<snac_1><snac_\t2>", "<snac_\t2>"),
    ("<snac_1><snac_٣>", "<snac_٣>"),  # a digit of another script
    ("1 2 3 4 5 6 7", "1 2 3 4 5 6 7"),  # not '1234567'
])  # fmt: skip
def test_whitespace_inside_a_token_makes_it_no_token_quoted_as_written(text, written):
    def one_character_at_a_time(text: str) -> None:
        reader = TextTokens()
        for c in text:
            reader.feed(c)
        reader.feed("", final=True)

    for read in (text_rows, one_character_at_a_time):
        with pytest.raises(ValueError) as error:
            read(text)
        assert str(error.value).endswith(f": {written!r}")
    assert TextTokens(lenient=True).feed(text + " <snac_5>", final=True)[-2:] == [None, 5]


def test_a_line_break_inside_a_token_ends_it():
    with pytest.raises(ValueError, match="line 1: not a '<snac_{}>' token at index 1: '<snac_'"):
        text_rows("<snac_1><snac_\n1>")
    reader = TextTokens()
    assert reader.feed("<snac_1><snac_") == [1]
    with pytest.raises(ValueError, match="index 1: '<snac_'"):
        reader.feed("\n1>")
