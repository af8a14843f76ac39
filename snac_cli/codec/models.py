"""Models for the codec: loaded once per process, and the facts of a `.snac` file that only its model knows."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager

from snac_cli import __version__
from snac_cli.engine.devices import check_precision, resolve_device
from snac_cli.errors import ContainerError, ModelError
from snac_cli.format.container import SnacHeader
from snac_cli.model import SNAC, CheckpointError, SNACConfig
from snac_cli.model.pretrained import find_checkpoint, read_config
from snac_cli.naming import model_id
from snac_cli.settings import DEFAULT_MODEL, ModelSettings


@contextmanager
def model_errors() -> Iterator[None]:
    """The model's own errors (a checkpoint not found or not readable) as the model errors users see."""
    try:
        yield
    except CheckpointError as e:
        raise ModelError(str(e)) from None


@functools.lru_cache(maxsize=4)
def load_model(settings: ModelSettings = ModelSettings()) -> SNAC:
    """The model that `settings` name, on its device and precision, loaded once per process and settings (a
    folder run's units and a service's requests share it). `bf16` and `fp16` are faster on GPUs but lossy:
    their codes differ from fp32's."""
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    dtype = check_precision(settings.precision, device)
    with model_errors():
        return SNAC.from_pretrained(settings.name or DEFAULT_MODEL).to(device=device, dtype=dtype)


def config_of(name: str) -> SNACConfig:
    """A model's config alone: what `cut`, `concat` and `import` need, without loading its weights."""
    with model_errors():
        return read_config(find_checkpoint(name)[0])


def check_model(model: SNAC, header: SnacHeader) -> None:
    """A file decodes only with the model that made it (another model's: a model error); a header naming the
    model's config but contradicting it is forged or corrupted."""
    if model.config.fingerprint() != header.fingerprint:
        raise ModelError(
            f"the file was made by model {header.model} (config {header.fingerprint}), "
            f"which differs from the one given (config {model.config.fingerprint()})"
        )
    if model.vq_strides != list(header.vq_strides):
        raise ContainerError(
            f"corrupted header: strides {header.vq_strides} where config {header.fingerprint} has "
            f"{tuple(model.vq_strides)}"
        )


def frame_samples(header: SnacHeader) -> int:
    """Samples per coarsest frame at the model's rate: lcm(strides) latent steps of the model's hop (from the
    config of the model the header names, which must be the one that made the file)."""
    config = config_of(header.model)
    if config.fingerprint() != header.fingerprint:
        raise ModelError(f"model {header.model} is not the one that made the file (config {header.fingerprint})")
    return config.hop_length * math.lcm(*header.vq_strides)


def header_for(name: str, channels: int) -> tuple[SnacHeader, int]:
    """The header a file made by model `name` would have (at the model's rate), and its samples per frame."""
    config = config_of(name)
    header = SnacHeader(
        model=model_id(name),
        fingerprint=config.fingerprint(),
        sample_rate=config.sampling_rate,
        original_sample_rate=config.sampling_rate,
        original_channels=channels,
        channels=channels,
        codebook_size=config.codebook_size,
        vq_strides=config.vq_strides,
        tool_version=__version__,
    )
    return header, config.hop_length * math.lcm(*config.vq_strides)
