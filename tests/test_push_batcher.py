"""Streams stepping together: pushes of independent streams, at any positions, with their own seeds and
channel counts, share forward passes and each gets the audio it gets alone (engine/push_batcher.py and
`push_together`), for every decoder shape."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict

import numpy as np
import pytest

from snac_cli import SNAC
from snac_cli.engine.push_batcher import RECENT, PushBatcher
from snac_cli.engine.stream_decoder import StreamDecoder, push_together
from tests.test_stream_decoder import decoded, random_codes

SHAPES = ["tiny", "tiny-lm", "24khz", "32khz"]
# (seed, channels, frames before this stream starts): streams start at different times, as requests do.
STREAMS = [(0, 1, 0), (1, 1, 0), (2, 2, 1), (3, 1, 2), (4, 1, 5), (5, 1, 9), (6, 1, 13)]


def frame_of(model: SNAC, codes: list[np.ndarray], i: int, n: int = 1) -> list[np.ndarray]:
    per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
    return [c[:, i * k : (i + n) * k] for c, k in zip(codes, per_frame, strict=True)]


@pytest.mark.parametrize("name", SHAPES)
def test_streams_at_any_positions_step_together_to_what_each_decodes_alone(loaded, name):
    model, frames = loaded(name), 20
    codes = [random_codes(model, frames, batch=channels, seed=seed) for seed, channels, _ in STREAMS]
    decoders = [StreamDecoder(model, seed=seed, batch=channels) for seed, channels, _ in STREAMS]
    out: list[list[np.ndarray]] = [[] for _ in STREAMS]
    shared = []  # the batches run: how many streams, and whether they stood at different positions
    for tick in range(frames + STREAMS[-1][2]):
        groups = defaultdict(list)  # this tick's pushes, by step key
        for i, (_, _, begin) in enumerate(STREAMS):
            if begin <= tick < begin + frames:
                pushed = decoders[i].checked(frame_of(model, codes[i], tick - begin))
                groups[decoders[i].step_key(pushed)].append((i, pushed))
        for group in groups.values():
            audio = push_together([decoders[i] for i, _ in group], [pushed for _, pushed in group])
            for (i, _), block in zip(group, audio, strict=True):
                out[i].append(block)
            shared.append((len(group), len({decoders[i].steps for i, _ in group})))
    for i, (seed, _, _) in enumerate(STREAMS):
        together = np.concatenate([*out[i], decoders[i].finish()], axis=1)
        alone = decoded(model, codes[i], [frames], seed=seed)
        assert together.shape == alone.shape
        assert np.abs(together - alone).max() <= 1e-5, f"stream {i}"
    assert any(size > 1 and positions > 1 for size, positions in shared), "streams at different positions met"
    assert any(size > 2 for size, _ in shared)


@pytest.mark.parametrize(("max_batch", "running"), [(1, None), (3, None), (8, None), (8, 1)])
def test_threads_pushing_through_a_batcher_get_what_they_get_alone(loaded, max_batch, running, monkeypatch):
    """... and with `running` 1, no two batches run at once."""
    import snac_cli.engine.stream_decoder as stream_decoder

    model, frames = loaded("tiny-lm"), 16
    batcher = PushBatcher(max_batch, max_wait_ms=20, running=running)
    at_once, most = [0], [0]
    original = stream_decoder.push_together

    def counted(decoders, codes):
        at_once[0] += 1
        most[0] = max(most[0], at_once[0])
        try:
            return original(decoders, codes)
        finally:
            at_once[0] -= 1

    monkeypatch.setattr(stream_decoder, "push_together", counted)
    codes = [random_codes(model, frames, batch=channels, seed=seed) for seed, channels, _ in STREAMS]
    results: dict[int, np.ndarray] = {}

    def stream(i: int) -> None:
        seed, channels, _ = STREAMS[i]
        decoder = StreamDecoder(model, seed=seed, batch=channels, batcher=batcher)
        pieces = [decoder.push(frame_of(model, codes[i], f)) for f in range(frames)]
        results[i] = np.concatenate([*pieces, decoder.finish()], axis=1)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(len(STREAMS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for i, (seed, _, _) in enumerate(STREAMS):
        assert np.abs(results[i] - decoded(model, codes[i], [frames], seed=seed)).max() <= 1e-5, f"stream {i}"
    assert max(batcher.sizes) <= max_batch and sum(n * k for n, k in batcher.sizes.items()) == len(STREAMS) * frames
    assert (max(batcher.sizes) > 1) == (max_batch > 1)
    assert most[0] == 1 if running == 1 else most[0] >= 1


def test_a_push_waits_only_for_a_stream_that_could_join_it(loaded):
    """A lone stream never waits; nor does a stream for a partner gone silent past RECENT (max wait 5 s)."""
    model = loaded("tiny")
    batcher = PushBatcher(8, max_wait_ms=5000)
    codes = random_codes(model, 12)
    alone = StreamDecoder(model, batcher=batcher)
    for f in range(3):
        start = time.monotonic()
        alone.push(frame_of(model, codes, f))
        assert time.monotonic() - start < 1.0
    a, b = StreamDecoder(model, batcher=batcher), StreamDecoder(model, batcher=batcher)
    for f in range(6):  # in step: each push meets the other's
        threads = [threading.Thread(target=d.push, args=(frame_of(model, codes, f),)) for d in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert batcher.sizes[2] >= 5
    start = time.monotonic()
    a.push(frame_of(model, codes, 6))  # b has gone silent: a waits for it RECENT at most, not 5 s
    assert RECENT <= 1.0 and time.monotonic() - start < 2.5  # RECENT and a margin, far under the 5 s wait


def test_a_failing_batch_fails_each_of_its_pushes_and_the_batcher_goes_on(loaded):
    model = loaded("tiny")
    batcher = PushBatcher(4, max_wait_ms=200)
    good = StreamDecoder(model, batcher=batcher)
    bad = StreamDecoder(model, batcher=batcher)
    codes = random_codes(model, 2)
    bad.root = None  # type: ignore[assignment]  # a state no push can run on
    errors: list[BaseException] = []

    def push(decoder: StreamDecoder) -> None:
        try:
            decoder.push(frame_of(model, codes, 0))
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=push, args=(d,)) for d in (good, bad)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(errors) in (1, 2) and not any(t.is_alive() for t in threads)
    fresh = StreamDecoder(model, batcher=batcher)
    assert fresh.push(frame_of(model, codes, 0, 2)).shape[0] == 1
