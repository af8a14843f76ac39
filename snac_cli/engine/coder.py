"""The PyTorch model as the codec runs it (codec/coders.py's `Coder`): encoding in inference windows or in
batches of clips, and the exact streaming decoder, on the model's device and precision."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from snac_cli.engine.batching import batch_limit, encode_batch
from snac_cli.engine.stream_decoder import StreamDecoder
from snac_cli.engine.streaming import decode_stream, encode_stream
from snac_cli.format.checks import ModelFacts
from snac_cli.model import SNAC
from snac_cli.progress import Advance


class TorchCoder:
    """A loaded `SNAC` and its facts (those a `.snac` file it made must agree with)."""

    def __init__(self, model: SNAC, facts: ModelFacts):
        self.model, self.facts, self.hop_length = model, facts, model.hop_length
        self.device = str(next(model.parameters()).device)

    def encode_stream(
        self, blocks: Iterable[np.ndarray], *, window_seconds: float | None = None, advance: Advance | None = None
    ) -> Iterator[list[np.ndarray]]:
        return encode_stream(self.model, blocks, window_seconds=window_seconds, advance=advance)

    def batch_limit(self) -> int:
        return batch_limit(self.model)

    def encode_batch(self, clips: list[np.ndarray]) -> list[list[np.ndarray]]:
        return encode_batch(self.model, clips)

    def decode_stream(self, chunks: Iterable[list[np.ndarray]], **options: Any) -> Iterator[np.ndarray]:
        return decode_stream(self.model, chunks, **options)

    def stream_decoder(self, **options: Any) -> StreamDecoder:
        return StreamDecoder(self.model, **options)
