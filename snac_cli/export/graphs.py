"""The SNAC model as the graphs an ONNX file holds: the encoder (audio -> codes per scale) and the decoder
(codes per scale, and the noise of each noise layer as inputs -> audio), run through the modules alone
(the fast path's oneDNN kernels have no ONNX form), with dynamic batch and length."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from snac_cli.model import SNAC
from snac_cli.model.decoder import DecoderBlock
from snac_cli.model.layers import NoiseBlock


class EncoderGraph(nn.Module):
    """audio (B, 1, T), T a multiple of the padding unit -> codes (B, T / hop / stride_i) int64, coarsest first."""

    def __init__(self, model: SNAC):
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, ...]:
        _, codes = self.model.quantizer(self.model.encoder(audio))
        return tuple(codes)


class DecoderGraph(nn.Module):
    """codes (B, n_i) per scale, then noise (B, 1, T_k) per noise layer -> audio (B, 1, n * hop). The noise is
    an input, so that a runtime draws it as `snac decode --seed` does (runtime/noise.py)."""

    def __init__(self, model: SNAC):
        super().__init__()
        self.model = model
        self.scales = len(model.vq_strides)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        codes, noise = list(inputs[: self.scales]), list(inputs[self.scales :])
        x = self.model.quantizer.from_codes(codes)
        x = run(self.model.decoder.model, x, iter(noise))
        return x


def run(layer: nn.Module, x: torch.Tensor, noise: Iterator[torch.Tensor]) -> torch.Tensor:
    """A decoder layer over x, each NoiseBlock taking the next given noise instead of drawing its own."""
    if isinstance(layer, nn.Sequential):
        for child in layer:
            x = run(child, x, noise)
        return x
    if isinstance(layer, DecoderBlock):
        return run(layer.block, x, noise)
    if isinstance(layer, NoiseBlock):
        h = layer.linear(x)  # the given noise is cut to x's length: an exporter cannot prove the two equal
        return x + next(noise)[..., : h.shape[-1]] * h
    return layer(x)


def noise_rates(model: SNAC) -> list[int]:
    """Steps per latent step at each noise layer, in decoder order: its noise is (B, 1, n x this)."""
    if not model.config.noise:
        return []
    rates = model.config.decoder_rates
    return [math.prod(rates[: i + 1]) for i in range(len(rates))]


def latent_unit(model: SNAC) -> int:
    """The decoder's latent lengths are whole multiples of this (whole coarsest codes, whole attention
    windows), as every file's are: its audio was padded to the padding unit."""
    return model.config.pad_unit // model.hop_length
