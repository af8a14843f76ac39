"""Inference in windows equals whole-file inference, in bounded memory, for any length and block size."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from snac_cli import SNAC
from snac_cli.engine.batching import encode_batch
from snac_cli.engine.streaming import decode_stream, encode_stream
from tests.helpers.signals import music_like, speech_like


@pytest.fixture(scope="module")
def tiny_model(tiny) -> SNAC:
    return SNAC.from_pretrained(tiny)


def whole_codes(model: SNAC, x: np.ndarray) -> list[np.ndarray]:
    return [c.numpy() for c in model.encode(torch.from_numpy(x)[:, None])]


def chunked_codes(model: SNAC, x: np.ndarray, window_seconds: float, block: int) -> list[np.ndarray]:
    blocks = [x[:, i : i + block] for i in range(0, x.shape[1], block)]
    parts = list(encode_stream(model, blocks, window_seconds=window_seconds))
    return [np.concatenate(p, axis=1) for p in zip(*parts, strict=True)]


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert [x.shape for x in a] == [y.shape for y in b]
    return sum((x == y).sum() for x, y in zip(a, b, strict=True)) / sum(x.size for x in a)


def two_channels(rate: int, n: int) -> np.ndarray:
    return np.stack([speech_like(rate, n), music_like(rate, n)])


def test_odd_lengths_encode_as_whole_files_do(tiny_model):
    unit = tiny_model.config.pad_unit
    chunk = 4 * unit
    window_seconds = chunk / tiny_model.sampling_rate
    for n in [1, 100, unit, chunk - 1, chunk, chunk + 1, 5 * chunk + 7]:
        x = two_channels(tiny_model.sampling_rate, n)
        codes = chunked_codes(tiny_model, x, window_seconds, block=333)
        assert agreement(codes, whole_codes(tiny_model, x)) == 1.0, f"length {n}"


@pytest.mark.parametrize("block", [1, 97, 4096, 10**6])
def test_any_block_size_gives_the_same_codes(tiny_model, block):
    x = two_channels(tiny_model.sampling_rate, 9000)
    expected = chunked_codes(tiny_model, x, 0.2, block=10**6)
    assert agreement(chunked_codes(tiny_model, x, 0.2, block=block), expected) == 1.0


def test_long_real_sounding_audio_encodes_as_a_whole_with_official_sizes(checkpoint):
    model = SNAC.from_pretrained(checkpoint("32khz"))  # attention, 4 scales
    x = two_channels(model.sampling_rate, 8 * model.sampling_rate + 123)
    assert agreement(chunked_codes(model, x, 2.0, block=5000), whole_codes(model, x)) >= 0.999


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10((reference**2).sum() / max(((reference - estimate) ** 2).sum(), 1e-30)))


def code_chunks(codes: list[np.ndarray], per_frame: list[int], frames: int):
    """Codes cut into container-like chunks of `frames` frames."""
    total = codes[0].shape[1] // per_frame[0]
    for f in range(0, total, frames):
        yield [c[:, f * k : (f + frames) * k] for c, k in zip(codes, per_frame, strict=True)]


def test_decoding_pieces_of_any_size_gives_the_audio_of_the_whole(tiny_model):
    """decode_stream runs the streaming decoder: container chunks of any size, and any window, give the
    same audio (noise included), so `--chunk-seconds` cannot change a decode."""
    x = two_channels(tiny_model.sampling_rate, 20000)
    codes = whole_codes(tiny_model, x)
    per_frame = [math.lcm(*tiny_model.vq_strides) // s for s in tiny_model.vq_strides]
    whole = np.concatenate(list(decode_stream(tiny_model, [codes], seed=3)), axis=1)
    for frames, window in ((1, None), (5, 0.1), (7, 1.0)):
        pieces = np.concatenate(list(decode_stream(tiny_model, code_chunks(codes, per_frame, frames), seed=3,
                                                   window_seconds=window)), axis=1)  # fmt: skip
        assert pieces.shape == whole.shape and np.abs(pieces - whole).max() <= 1e-5


def test_decoding_is_deterministic_and_seeded(tiny_model):
    x = two_channels(tiny_model.sampling_rate, 3000)
    codes = whole_codes(tiny_model, x)
    first = np.concatenate(list(decode_stream(tiny_model, [codes], seed=7)), axis=1)
    again = np.concatenate(list(decode_stream(tiny_model, [codes], seed=7)), axis=1)
    other = np.concatenate(list(decode_stream(tiny_model, [codes], seed=8)), axis=1)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    same = [np.repeat(c[:1], 2, axis=0) for c in codes]  # one channel's codes twice
    twice = np.concatenate(list(decode_stream(tiny_model, [same], seed=7)), axis=1)
    assert not np.array_equal(twice[0], twice[1])  # each channel draws its own noise, as the reference's batch


@pytest.mark.parametrize("name", ["tiny", "tiny-lm"])
def test_a_batch_of_clips_gives_each_clip_its_own_codes(checkpoint, name):
    model = SNAC.from_pretrained(checkpoint(name))
    rate, unit = model.sampling_rate, model.config.pad_unit
    clips = [speech_like(rate, n, seed=n)[None] for n in (1, unit - 1, unit, unit + 1, rate // 3, rate + 17)]
    clips.append(two_channels(rate, rate // 2))  # a stereo clip is two items of the batch
    batched = encode_batch(model, clips)
    for clip, codes in zip(clips, batched, strict=True):
        alone = [np.concatenate(p, axis=1) for p in zip(*encode_stream(model, [clip]), strict=True)]
        assert [c.shape for c in codes] == [c.shape for c in alone]
        assert all(np.array_equal(a, b) for a, b in zip(codes, alone, strict=True))


def test_without_masking_a_batch_would_change_codes(tiny_model, monkeypatch):
    """The check above can fail: padding a short clip with a longer one's length alters its last codes."""
    from snac_cli.model.fast import FastPath

    monkeypatch.setattr(FastPath, "masked", lambda self, conv, x: x)
    rate = tiny_model.sampling_rate
    short, long = speech_like(rate, rate // 4, seed=1)[None], speech_like(rate, rate, seed=2)[None]
    alone = [np.concatenate(p, axis=1) for p in zip(*encode_stream(tiny_model, [short]), strict=True)]
    batched = encode_batch(tiny_model, [short, long])[0]
    assert not all(np.array_equal(a, b) for a, b in zip(batched, alone, strict=True))
