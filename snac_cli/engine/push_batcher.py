"""Pushes of independent streams, made from different threads, gathered into shared forward passes: a push
waits at most `max_wait_ms` for others with the same step key (engine/stream_decoder.py: `step_key`), up
to `max_batch` streams' rows, and the first of them runs them together (`push_together`). Each stream gets
the audio its own push would give.

A push waits only while another stream could still join it: one that pushed within the last RECENT seconds
and whose next push, if of the same size, has the same key. A lone stream never waits, nor do the others
for a stream gone silent or at another phase. Measured (docs/benchmarks.md): a batch pays even on 2 CPU
cores for one-frame pushes (their cost is reading the weights), and more on a GPU; `max_batch` 1 makes
every push run at once, alone."""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch-free itself: `snac serve` of ONNX models makes one and never pushes through it
    import torch

    from snac_cli.engine.stream_decoder import StreamDecoder

RECENT = 1.0  # seconds: a stream that pushed this recently is worth waiting for (a TTS stream pushes every ~0.1 s)


@dataclass
class Waiting:
    """One push waiting for its batch to run."""

    decoder: StreamDecoder
    codes: list[torch.Tensor]
    audio: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class Batch:
    """Pushes of one step key, gathering until full or until its first push has waited long enough."""

    pushes: list[Waiting] = field(default_factory=list)
    rows: int = 0


class PushBatcher:
    """Shares forward passes between the streams that push through it, one thread per stream; at most
    `running` batches run at once (None: no limit), and a batch waiting for its turn keeps gathering."""

    def __init__(self, max_batch: int, max_wait_ms: float, running: int | None = None):
        self.max_batch, self.max_wait, self.running = max_batch, max_wait_ms / 1000, running
        self.lock = threading.Condition()
        self.open: dict[tuple[object, ...], Batch] = {}  # batches still taking pushes, by step key
        self.busy = 0  # batches running
        self.sizes: Counter[int] = Counter()  # batches run, by streams in them (for /metrics)
        # Each stream's next key, were its next push the size of its last, and when it last pushed (dropped
        # with the stream): the streams that may join a batch soon.
        self.expected: weakref.WeakKeyDictionary[StreamDecoder, tuple[object, float]] = weakref.WeakKeyDictionary()

    def others(self, batch: Batch, key: tuple[object, ...]) -> int:
        """Streams not in the batch that pushed within RECENT seconds and would push `key` next."""
        now, inside = time.monotonic(), {id(p.decoder) for p in batch.pushes}
        return sum(k == key and now - t < RECENT and id(d) not in inside for d, (k, t) in self.expected.items())

    def full(self) -> bool:
        return self.running is not None and self.busy >= self.running

    def push(self, decoder: StreamDecoder, codes: list[torch.Tensor], key: tuple[object, ...]) -> np.ndarray:
        """The decoder's push of checked codes, run with any others of its key that come within the wait."""
        me = Waiting(decoder, codes)
        with self.lock:
            batch = self.join(me, key)
            if batch is None:  # another push leads the batch: wait for it to run
                while not me.done:
                    self.lock.wait()
            else:
                self.gather(batch, key)
        if batch is not None:
            self.run(batch)
        if me.error is not None:
            raise me.error
        assert me.audio is not None
        return me.audio

    def join(self, me: Waiting, key: tuple[object, ...]) -> Batch | None:
        """Join the open batch of `key`, or open one (returned: this push leads it)."""
        batch = self.open.get(key)
        leader = batch is None or batch.rows + me.decoder.batch > self.max_batch
        if batch is None or leader:
            batch = self.open[key] = Batch()
        batch.pushes.append(me)
        batch.rows += me.decoder.batch
        if batch.rows >= self.max_batch:
            self.open.pop(key, None)  # full: the next push of this key starts a batch of its own
        self.lock.notify_all()  # its leader looks again: full, or no other stream left to wait for
        return batch if leader else None

    def gather(self, batch: Batch, key: tuple[object, ...]) -> None:
        """Keep the batch open while a stream that could join may still come (up to the wait) or while no
        runner is free; then close it and take a runner."""
        deadline = time.monotonic() + self.max_wait

        def worth_waiting() -> bool:
            return self.full() or (self.others(batch, key) > 0 and time.monotonic() < deadline)

        while self.open.get(key) is batch and worth_waiting():
            self.lock.wait(0.05 if self.full() else max(0.0, min(deadline - time.monotonic(), 0.05)))
        if self.open.get(key) is batch:
            del self.open[key]
        while self.full():  # closed full while another batch ran
            self.lock.wait(0.05)
        self.busy += 1
        self.sizes[len(batch.pushes)] += 1

    def run(self, batch: Batch) -> None:
        """Run the batch (outside the lock: other keys gather meanwhile) and hand each push its audio."""
        from snac_cli.engine.stream_decoder import push_together

        try:
            results: list[np.ndarray] | None = push_together([p.decoder for p in batch.pushes],
                                                             [p.codes for p in batch.pushes])  # fmt: skip
            error = None
        except BaseException as e:  # each stream of the batch hears it
            results, error = None, e
        with self.lock:
            self.busy -= 1
            now = time.monotonic()
            for i, waiting in enumerate(batch.pushes):
                waiting.audio, waiting.error, waiting.done = (results[i] if results else None), error, True
                if error is None:  # a failed stream is not waited for
                    self.expected[waiting.decoder] = (waiting.decoder.step_key(waiting.codes), now)
            self.lock.notify_all()
