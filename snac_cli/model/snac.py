"""SNAC: a multi-scale neural audio codec (encoder, residual VQ with per-codebook strides, decoder)."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import SNACConfig
from .decoder import Decoder
from .encoder import Encoder
from .fast import prepared
from .layers import fold_weight_norm
from .pretrained import load_checkpoint, load_weights
from .quantizer import ResidualVectorQuantize
from .receptive_field import reach


class SNAC(nn.Module):
    """The codec. Construct from a `SNACConfig` (or its fields as keywords) or with `from_pretrained`."""

    def __init__(self, config: SNACConfig | None = None, **config_fields: Any):
        super().__init__()
        if config is None:
            config = SNACConfig.from_dict(config_fields)
        elif config_fields:
            raise TypeError("pass either a SNACConfig or config fields, not both")
        assert config.latent_dim is not None
        self.config = config
        self.sampling_rate = config.sampling_rate
        self.hop_length = config.hop_length
        self.vq_strides = list(config.vq_strides)
        self.n_codebooks = len(config.vq_strides)
        self.codebook_size = config.codebook_size
        self.codebook_dim = config.codebook_dim
        self.attn_window_size = config.attn_window_size
        self.latent_dim = config.latent_dim
        self.encoder = Encoder(config.encoder_dim, config.encoder_rates, config.depthwise, config.attn_window_size)
        self.quantizer = ResidualVectorQuantize(
            config.latent_dim, config.codebook_size, config.codebook_dim, config.vq_strides
        )
        self.decoder = Decoder(
            config.latent_dim,
            config.decoder_dim,
            config.decoder_rates,
            config.noise,
            config.depthwise,
            config.attn_window_size,
        )

    def preprocess(self, audio: torch.Tensor) -> torch.Tensor:
        """Right-pad audio (..., T) with zeros to a multiple of the model's padding unit."""
        unit = self.config.pad_unit
        return F.pad(audio, (0, -audio.shape[-1] % unit))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode and decode audio (B, 1, T): (reconstruction trimmed to T, codes)."""
        length = audio.shape[-1]
        z_q, codes = self.quantizer(self.run_encoder(self.preprocess(audio)))
        return self.run_decoder(z_q)[..., :length], codes

    @torch.inference_mode()
    def encode(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """Audio (B, 1, T) -> one code tensor (B, T_i) per codebook, coarsest first."""
        _, codes = self.quantizer(self.run_encoder(self.preprocess(audio)))
        return codes

    @torch.inference_mode()
    def decode(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """Codes -> audio (B, 1, frames * hop), including any padding that `preprocess` added."""
        return self.run_decoder(self.quantizer.from_codes(codes))

    def run_encoder(self, audio: torch.Tensor, lengths: list[int] | None = None) -> torch.Tensor:
        """Audio (B, 1, T) -> latent (B, latent_dim, T / hop), on the time-major fast path (model/fast.py) when
        no gradient is wanted on the CPU, or always for a batch of `lengths` (items padded to one length, each
        masked past its own end, which only the fast path does)."""
        if lengths is not None or self.fast(audio):
            return prepared(self.encoder)(self.encoder.block, audio, lengths)
        return self.encoder(audio)

    def run_decoder(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent (B, latent_dim, n) -> audio (B, 1, n * hop), on the fast path as `run_encoder`."""
        return prepared(self.decoder)(self.decoder.model, latent) if self.fast(latent) else self.decoder(latent)

    def fast(self, x: torch.Tensor) -> bool:
        """The fast path serves CPU inference; anything that wants gradients, and GPUs (cuDNN), take the modules."""
        return x.device.type == "cpu" and not torch.is_grad_enabled()

    def encoder_reach(self) -> int:
        """Audio samples on either side that the latent step at a sample can see (chunked encoding's context)."""
        return reach(list(self.encoder.modules()))

    def decoder_reach(self) -> int:
        """Latent steps on either side that the audio at a step can see (chunked decoding's context)."""
        return reach(list(self.decoder.modules()))

    def fold_weight_norm(self) -> SNAC:
        """Compute every weight-normed weight once, for inference; training needs an unfolded model."""
        fold_weight_norm(self)
        return self

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str], **hub_kwargs: Any) -> SNAC:
        """Load an official or local checkpoint, ready for inference (eval mode, weight norm folded).

        `name_or_path` is a short name (24khz, 32khz, 44khz), a Hub repo id, or a local folder holding
        config.json and pytorch_model.bin or model.safetensors; `hub_kwargs` go to `hf_hub_download`.
        """
        config, state_dict = load_checkpoint(name_or_path, **hub_kwargs)
        with no_random_init():  # every parameter is then loaded, strictly
            model = cls(config)
        load_weights(model, state_dict, source=str(name_or_path))
        model.eval().fold_weight_norm()
        release_checkpoint(model, state_dict)
        return model


def release_checkpoint(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Copy out of the checkpoint what folding left in it (biases, Snake's alphas, codebooks), so that the
    memory-mapped file, whose pages read while folding count as the process's memory, is let go: a 44.1 kHz
    encode peaked at 1.44 GB with the file mapped, 343 MB of it the loaded model."""
    mapped = {tensor.untyped_storage().data_ptr() for tensor in state_dict.values()}
    with torch.no_grad():
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            if tensor.untyped_storage().data_ptr() in mapped:
                tensor.data = tensor.data.clone()


@contextlib.contextmanager
def no_random_init() -> Iterator[None]:
    """Build modules without drawing their random initial weights, which a checkpoint then replaces: the
    draws took 0.09 s of a 0.3 s load of the 24 kHz model, on every run of `snac`."""
    names = ("kaiming_uniform_", "uniform_", "normal_")
    saved = {name: getattr(nn.init, name) for name in names}
    try:
        for name in names:
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)
