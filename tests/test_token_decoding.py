"""Tokens to audio from Python (codec/token_decoding.py): one token at a time gives the audio of the whole
token sequence, and a stream can be reset."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from snac_cli.codec.token_decoding import TokenStream, decode_tokens
from snac_cli.format.tokens import format_text, to_tokens
from snac_cli.settings import DecodeSettings, ModelSettings, TokenSettings


def test_tokens_pushed_one_by_one_decode_to_the_whole(checkpoint):
    folder = checkpoint("tiny-lm")
    stream = TokenStream(ModelSettings(str(folder)), TokenSettings("position", 1000), seed=2)
    model = stream.decoder.model
    strides = tuple(model.vq_strides)
    rng = np.random.default_rng(0)
    frames = 11
    codes = [rng.integers(0, model.codebook_size, frames * (math.lcm(*strides) // s)) for s in strides]
    tokens = to_tokens(codes, strides, model.codebook_size, "position", 1000)
    one_by_one = np.concatenate([stream.push(int(t)) for t in tokens] + [stream.finish()], axis=1)
    assert one_by_one.shape == (1, frames * stream.decoder.frame_samples)
    assert stream.lookahead_frames >= 1 and stream.lookahead_ms > 0
    stream.reset()
    again = np.concatenate([stream.push(tokens), stream.finish()], axis=1)
    assert np.abs(again - one_by_one).max() <= 1e-5
    out = io.BytesIO()
    text = io.BytesIO(format_text(tokens).encode())
    report = decode_tokens(text, out, DecodeSettings(seed=2, subtype="FLOAT"), tokens=TokenSettings("position", 1000),
                           model=ModelSettings(str(folder)))  # fmt: skip
    assert (report.tokens, report.frames, report.dropped) == (len(tokens), frames, 0)
    samples = np.frombuffer(out.getvalue()[44:], dtype="<f4")
    assert np.abs(samples - one_by_one[0]).max() <= 1e-5


def test_junk_tokens_are_an_error_or_dropped_frames(checkpoint):
    folder = checkpoint("tiny-lm")
    stream = TokenStream(ModelSettings(str(folder)))
    with pytest.raises(ValueError, match="at index 0"):
        stream.push(10**9)
    lenient = TokenStream(ModelSettings(str(folder)), TokenSettings(on_invalid="drop-frame"))
    per_frame = len(lenient.parser.order)
    audio = np.concatenate([lenient.push([10**9] + [0] * (per_frame - 1) + [0] * per_frame), lenient.finish()], axis=1)
    assert lenient.dropped == 1 and audio.shape[1] == lenient.decoder.frame_samples  # the good frame alone
