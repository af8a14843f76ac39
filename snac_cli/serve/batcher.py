"""Encoding requests gathered into shared forward passes: those that arrive within `--max-wait-ms` of each
other, with the same settings, up to `--max-batch`, go to `encode_clips` together, which gives each the codes
it would get alone. A batch pays where a forward pass has room to spare (a GPU); the default batch is 1, and
then nothing waits."""

from __future__ import annotations

import asyncio
import io
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from snac_cli.codec.encoding import encode_clips
from snac_cli.format.container import write_snac
from snac_cli.serve.outcomes import watched
from snac_cli.settings import EncodeSettings, ModelSettings


@dataclass
class Waiting:
    """Requests of one settings and model, waiting for their batch."""

    settings: EncodeSettings
    model: ModelSettings
    bodies: list[BinaryIO] = field(default_factory=list)
    gone: list[threading.Event] = field(default_factory=list)  # each set once its client left or its time ran out
    futures: list[asyncio.Future[tuple[bytes, float]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class EncodeBatcher:
    """Gathers encode requests and runs each batch through `run` (the service's workers)."""

    def __init__(self, max_batch: int, max_wait_ms: float, run: Callable[..., Awaitable[object]]):
        self.max_batch, self.max_wait, self.run = max_batch, max_wait_ms / 1000, run
        self.waiting: dict[tuple[object, ...], Waiting] = {}
        self.sizes: Counter[int] = Counter()  # batches run, by size (for /metrics)

    async def encode(
        self, body: BinaryIO, settings: EncodeSettings, model: ModelSettings, gone: threading.Event
    ) -> tuple[bytes, float]:
        """The request's `.snac` file and its seconds, once its batch has run (which stops at its next forward
        pass once every request in it is `gone`)."""
        key = (settings.channels, settings.normalize, model.name, model.device)
        group = self.waiting.setdefault(key, Waiting(settings=settings, model=model))
        future: asyncio.Future[tuple[bytes, float]] = asyncio.get_running_loop().create_future()
        group.bodies.append(body)
        group.gone.append(gone)
        group.futures.append(future)
        if len(group.bodies) >= self.max_batch:
            self.flush(key)
        elif group.timer is None:
            group.timer = asyncio.get_running_loop().call_later(self.max_wait, self.flush, key)
        return await future

    def flush(self, key: tuple[object, ...]) -> None:
        group = self.waiting.pop(key, None)
        if group is None:
            return
        if group.timer is not None:
            group.timer.cancel()
        asyncio.ensure_future(self.finish(group))

    async def finish(self, group: Waiting) -> None:
        self.sizes[len(group.bodies)] += 1
        try:
            results = await self.run(encoded, group.bodies, group.settings, group.model, Every(group.gone))
        except Exception as e:  # the whole batch failed (a worker error): each request hears it
            results = [e] * len(group.futures)
        for future, result in zip(group.futures, results, strict=True):  # type: ignore[call-overload]
            if future.done():  # its client left
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


Result = tuple[bytes, float] | Exception  # a request's `.snac` file and seconds, or its own error


class Every:
    """Set once each of its events is: a batch's clients all gone."""

    def __init__(self, events: list[threading.Event]):
        self.events = events

    def is_set(self) -> bool:
        return all(e.is_set() for e in self.events)


def encoded(bodies: list[BinaryIO], settings: EncodeSettings, model: ModelSettings, gone: Every) -> list[Result]:
    """Encode clips together: each one's `.snac` file and seconds, or its own error."""
    names = ["the request's audio"] * len(bodies)
    out: list[Result] = []
    clips = encode_clips(bodies, settings, model=model, names=names, progress=watched(gone))  # type: ignore[arg-type]
    for result in clips:
        if isinstance(result, Exception):
            out.append(result)
            continue
        file = io.BytesIO()
        write_snac(file, result)
        out.append((file.getvalue(), result.original_length / result.original_sample_rate))
    return out
