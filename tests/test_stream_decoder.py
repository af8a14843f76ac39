"""The streaming decoder: codes pushed in any pieces give the audio of decoding the whole sequence, with
positional noise, for every model shape; and without noise, the audio of the model's own decoder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snac_cli import SNAC
from snac_cli.engine.stream_decoder import StreamDecoder
from snac_cli.model.layers import NOISE_BLOCK, NoiseBlock, positional_noise

SHAPES = ["tiny", "tiny-plain", "tiny-lm", "24khz", "32khz", "44khz"]


def random_codes(model: SNAC, frames: int, batch: int = 1, seed: int = 0) -> list[np.ndarray]:
    per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
    rng = np.random.default_rng(seed)
    return [rng.integers(0, model.codebook_size, (batch, frames * k)) for k in per_frame]


def decoded(model: SNAC, codes: list[np.ndarray], split: list[int], seed: int = 0, **options) -> np.ndarray:
    """Push the codes in pieces of `split` frames, then finish."""
    per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
    decoder = StreamDecoder(model, seed=seed, batch=codes[0].shape[0], **options)
    out, first = [], 0
    for n in split:
        out.append(decoder.push([c[:, first * k : (first + n) * k] for c, k in zip(codes, per_frame, strict=True)]))
        first += n
    out.append(decoder.finish())
    return np.concatenate(out, axis=1)


def splits(total: int):
    """Random splits of `total` frames into pieces (single frames among them)."""
    return st.lists(st.integers(1, max(1, total)), min_size=1, max_size=total).map(lambda sizes: cut_to(sizes, total))


def cut_to(sizes: list[int], total: int) -> list[int]:
    out, left = [], total
    for size in sizes:
        if left == 0:
            break
        out.append(min(size, left))
        left -= out[-1]
    return out + ([left] if left else [])


@pytest.mark.parametrize("name", SHAPES)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_split_decodes_to_the_whole(loaded, name, data):
    model = loaded(name)
    frames = data.draw(st.integers(1, 14 if name in ("32khz", "44khz") else 24), label="frames")
    codes = random_codes(model, frames, seed=frames)
    whole = decoded(model, codes, [frames])
    assert whole.shape == (1, frames * math.lcm(*model.vq_strides) * model.hop_length)
    split = data.draw(splits(frames), label="split")
    assert np.abs(decoded(model, codes, split) - whole).max() <= 1e-5
    assert np.abs(decoded(model, codes, [1] * frames) - whole).max() <= 1e-5


@pytest.mark.parametrize("name", ["tiny", "tiny-lm", "24khz", "32khz"])
def test_without_noise_it_is_the_models_own_decoder(loaded, name, monkeypatch):
    """The deterministic part against `model.decoder` on the whole latent (the end padded, as a file's)."""
    import snac_cli.engine.stream_layers as stream_layers

    model = loaded(name)
    monkeypatch.setattr(stream_layers, "positional_noise", lambda layer, n, rows: torch.zeros(len(rows), n))
    monkeypatch.setattr(NoiseBlock, "noise", lambda self, b, t, like: torch.zeros(b, 1, t, dtype=like.dtype))
    frames, frame_steps = 9, math.lcm(*model.vq_strides)
    codes = random_codes(model, frames, batch=2)
    unit = model.config.pad_unit // model.hop_length
    pad = (-frames * frame_steps % unit) // frame_steps
    per_frame = [frame_steps // s for s in model.vq_strides]
    padded = [np.concatenate([c] + [c[:, -k:]] * pad, axis=1) for c, k in zip(codes, per_frame, strict=True)]
    with torch.inference_mode():
        latent = model.quantizer.from_codes([torch.from_numpy(c) for c in padded])
        expected = model.decoder(latent)[:, 0, : frames * frame_steps * model.hop_length].numpy()
    assert np.abs(decoded(model, codes, [2, 1, 6]) - expected).max() <= 1e-5


def test_the_lookahead_is_the_models_and_each_sample_comes_once_final(loaded):
    """A push returns exactly the samples that no later code can change, and the lookahead bounds the rest."""
    model = loaded("24khz")
    decoder = StreamDecoder(model)
    assert decoder.lookahead_frames >= 1 and decoder.lookahead_ms == pytest.approx(
        1000 * decoder.lookahead_samples() / model.sampling_rate
    )
    codes = random_codes(model, 12)
    per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
    total = 0
    for i in range(12):
        total += decoder.push([c[:, i * k : (i + 1) * k] for c, k in zip(codes, per_frame, strict=True)]).shape[1]
        assert (i + 1) * decoder.frame_samples - total <= decoder.lookahead_frames * decoder.frame_samples
    assert total + decoder.finish().shape[1] == 12 * decoder.frame_samples


@pytest.mark.parametrize(("name", "batch"), [("tiny", 1), ("tiny", 2), ("24khz", 1), ("32khz", 2)])
def test_a_smaller_lookahead_returns_audio_sooner_and_only_that_audio_is_approximate(loaded, name, batch):
    """With lookahead N, each push returns audio up to N frames before the newest. The samples that were
    final when returned are exact, the rest are a guess, and the stream's state stays exact: what comes
    after a guess is exact again, and finish() ends it exactly."""
    model = loaded(name)
    exact = StreamDecoder(model, batch=batch)
    frames = 3 * exact.exact_lookahead_frames + 4
    codes = random_codes(model, frames, batch=batch)
    per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
    whole = decoded(model, codes, [frames])
    for n in sorted({0, exact.exact_lookahead_frames // 2, exact.exact_lookahead_frames - 1}):
        early = StreamDecoder(model, batch=batch, lookahead=n)
        assert early.lookahead_frames == n and early.exact_lookahead_frames == exact.exact_lookahead_frames
        given = final = 0
        out = []
        for i in range(frames):
            piece = [c[:, i * k : (i + 1) * k] for c, k in zip(codes, per_frame, strict=True)]
            final += exact.push(piece).shape[1]
            audio = early.push(piece)
            out.append(audio)
            # N frames behind the newest, or further on where more is final (whole attention windows)
            assert given + audio.shape[1] == max((i + 1 - n) * early.frame_samples, final)
            known = max(0, final - given)  # the part of this push's audio that was already final
            assert np.abs(audio[:, :known] - whole[:, given : given + known]).max(initial=0) <= 1e-5
            given += audio.shape[1]
        exact.finish()
        exact.reset()
        out.append(early.finish())
        audio = np.concatenate(out, axis=1)
        assert audio.shape == whole.shape and np.isfinite(audio).all()
        tail = (frames - n) * early.frame_samples  # returned by finish: final
        assert np.abs(audio[:, tail:] - whole[:, tail:]).max(initial=0) <= 1e-5
        guessed = np.abs(audio - whole).max(axis=0) > 1e-5
        assert guessed.any(), "audio returned before it was final is a guess"


def test_a_lookahead_at_least_the_models_is_exact(loaded):
    model = loaded("tiny")
    exact = StreamDecoder(model)
    codes = random_codes(model, 9)
    for n in (exact.exact_lookahead_frames, exact.exact_lookahead_frames + 5):
        assert StreamDecoder(model, lookahead=n).lookahead_frames == exact.lookahead_frames
        assert np.array_equal(decoded(model, codes, [1] * 9, lookahead=n), decoded(model, codes, [1] * 9))
    with pytest.raises(ValueError, match="0 or more frames"):
        StreamDecoder(model, lookahead=-1)


def test_a_stream_resets_and_refuses_broken_frames(loaded):
    model = loaded("tiny")
    codes = random_codes(model, 4)
    decoder = StreamDecoder(model)
    first = np.concatenate([decoder.push(codes), decoder.finish()], axis=1)
    decoder.reset()
    assert np.array_equal(np.concatenate([decoder.push(codes), decoder.finish()], axis=1), first)
    with pytest.raises(ValueError, match="same whole frames"):
        decoder.push([codes[0], codes[1][:, :-1], codes[2]])


def noise(seed: int, layer: int, start: int, length: int, batch: int = 1) -> torch.Tensor:
    return positional_noise(layer, length, [(seed, item, start) for item in range(batch)])


def test_positional_noise_does_not_depend_on_the_split_or_the_batch():
    whole = noise(5, 2, 100, 3 * NOISE_BLOCK, batch=2)
    parts = torch.cat(
        [noise(5, 2, 100 + a, b - a, batch=2) for a, b in ((0, 7), (7, 5000), (5000, 3 * NOISE_BLOCK))], 1
    )
    assert torch.equal(whole, parts) and not torch.equal(whole[0], whole[1])
    assert not torch.equal(noise(5, 1, 0, 64), noise(5, 2, 0, 64))
    assert not torch.equal(noise(5, 1, 0, 64), noise(6, 1, 0, 64))
    # A row is its (seed, item, start)'s whatever rows share its batch.
    mixed = positional_noise(2, 64, [(6, 0, 300), (5, 1, 100)])
    assert torch.equal(mixed[0], noise(6, 2, 300, 64)[0]) and torch.equal(mixed[1], noise(5, 2, 100, 64, batch=2)[1])
