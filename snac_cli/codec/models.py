"""Models for the codec: loaded once per process, and the facts of a `.snac` file that only its model knows."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from snac_cli import __version__
from snac_cli.errors import ModelError, UsageError, one_line
from snac_cli.format.checks import ModelFacts, check_length, check_made_by
from snac_cli.format.container import SnacFile, SnacHeader
from snac_cli.model import CheckpointError, SNACConfig
from snac_cli.model.pretrained import find_checkpoint, read_config
from snac_cli.naming import model_id
from snac_cli.runtime.onnx_model import is_onnx_folder
from snac_cli.runtime.onnx_model import read_config as read_onnx_config
from snac_cli.settings import DEFAULT_MODEL, ModelSettings

if TYPE_CHECKING:
    from snac_cli.codec.coders import Coder
    from snac_cli.model import SNAC


@contextmanager
def model_errors() -> Iterator[None]:
    """The model's own errors (a checkpoint not found or not readable) as the model errors users see."""
    try:
        yield
    except CheckpointError as e:
        raise ModelError(str(e)) from None
    except RecursionError:  # JSON (config.json) or a pickle nested past the parser's depth: no checkpoint
        raise ModelError("bad checkpoint: nested too deeply to read (a forged config.json or weights file)") from None


@functools.lru_cache(maxsize=4)
def load_model(settings: ModelSettings = ModelSettings()) -> SNAC:
    """The model that `settings` name, on its device and precision, loaded once per process and settings (a
    folder run's units and a service's requests share it). `bf16` and `fp16` are faster on GPUs but lossy:
    their codes differ from fp32's."""
    try:
        import torch
    except ImportError:
        raise UsageError("PyTorch models need torch: pip install 'snac-cli[torch]' (or give ONNX models that "
                         "`snac onnx` wrote: --model ONNX_DIR)") from None  # fmt: skip
    from snac_cli.engine.devices import check_precision, resolve_device
    from snac_cli.model import SNAC

    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    dtype = check_precision(settings.precision, device)
    with model_errors():
        return SNAC.from_pretrained(settings.name or DEFAULT_MODEL).to(device=device, dtype=dtype)


def config_of(name: str) -> SNACConfig:
    """A model's config alone: what `cut`, `concat` and `import` need, without loading its weights (or torch)."""
    if is_onnx_folder(name):
        from pathlib import Path

        try:
            return SNACConfig.from_dict(read_onnx_config(Path(name))["model"]["config"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{name}: its config.json holds no SNAC config: {one_line(e)}") from None
    with model_errors():
        return read_config(find_checkpoint(name)[0])


def model_facts(config: SNACConfig, name: str) -> ModelFacts:
    """What a file made by this model must agree with (format/header.py checks it)."""
    return ModelFacts(
        model=name, fingerprint=config.fingerprint(), sample_rate=config.sampling_rate,
        codebook_size=config.codebook_size, vq_strides=tuple(config.vq_strides),
        frame_samples=config.hop_length * math.lcm(*config.vq_strides), pad_unit=config.pad_unit,
    )  # fmt: skip


def check_model(coder: Coder, header: SnacHeader) -> ModelFacts:
    """A file decodes only with the model that made it, and its header must say what that model is."""
    check_made_by(header, coder.facts)
    return coder.facts


def frame_samples(snac: SnacFile) -> int:
    """Samples per coarsest frame at the model's rate, from the config of the model the file names (which
    must be the one that made it, and agree with its header and length: a file is checked through before
    it is edited)."""
    facts = model_facts(config_of(snac.model), f"model {snac.model} as found here")
    check_made_by(snac, facts)
    check_length(snac, snac.original_length, snac.frames, facts)
    return facts.frame_samples


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
