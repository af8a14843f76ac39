"""What the codec runs: a model made ready to encode and decode, by PyTorch (engine/coder.py's `TorchCoder`)
or by onnxruntime from a folder `snac onnx` wrote (runtime/onnx_model.py's `OnnxModel`), chosen by the model's
name and loaded once per process. Only the chosen runtime is imported: a torch-free install runs ONNX models."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from snac_cli.errors import UsageError
from snac_cli.format.checks import ModelFacts
from snac_cli.progress import Advance
from snac_cli.runtime.onnx_model import is_onnx_folder
from snac_cli.settings import DEFAULT_MODEL, ModelSettings, Precision


class StreamDecoding(Protocol):
    """The exact streaming decoder: whole frames pushed in, the audio now final out."""

    frame_samples: int
    lookahead_frames: int
    lookahead_ms: float

    def push(self, codes: Sequence[np.ndarray]) -> np.ndarray: ...

    def finish(self) -> np.ndarray: ...

    def reset(self) -> None: ...


class Coder(Protocol):
    """A model ready to run: its facts, encoding in inference windows or in batches of clips, decoding."""

    facts: ModelFacts
    hop_length: int
    device: str

    def encode_stream(
        self, blocks: Iterable[np.ndarray], *, window_seconds: float | None = None, advance: Advance | None = None
    ) -> Iterator[list[np.ndarray]]: ...

    def batch_limit(self) -> int:
        """The most samples (model rate, all clips together) per batch of clips; 0: one clip at a time."""
        ...

    def encode_batch(self, clips: list[np.ndarray]) -> list[list[np.ndarray]]: ...

    def decode_stream(self, chunks: Iterable[list[np.ndarray]], **options: Any) -> Iterator[np.ndarray]: ...

    def stream_decoder(self, **options: Any) -> StreamDecoding: ...


@functools.lru_cache(maxsize=4)
def load_coder(settings: ModelSettings = ModelSettings()) -> Coder:
    """The coder of the model `settings` name: ONNX models when the name is a folder `snac onnx` wrote (on the
    CPU, in fp32), else the PyTorch model (codec/models.py `load_model`)."""
    name = settings.name or DEFAULT_MODEL
    if is_onnx_folder(name):
        from snac_cli.runtime.onnx_model import OnnxModel

        if settings.device not in ("auto", "cpu") or settings.precision != Precision.fp32:
            raise UsageError(f"{name}: ONNX models run on the CPU in fp32 here: leave out --device and --precision")
        return OnnxModel(name, threads=settings.threads)
    from snac_cli.codec.models import load_model, model_facts

    model = load_model(settings)  # first: without torch, it says which extra to install
    from snac_cli.engine.coder import TorchCoder

    return TorchCoder(model, model_facts(model.config, "the one given"))
