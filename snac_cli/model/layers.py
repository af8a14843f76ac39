"""Building blocks shared by the encoder and decoder: weight-normed convolutions, Snake, residual units."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from .noise_seeds import NOISE_BLOCK, mixed, noise_blocks


def wn_conv1d(*args, **kwargs) -> nn.Conv1d:
    """A Conv1d with weight normalization (w = g * v / ||v||), as the checkpoints store it."""
    return weight_norm(nn.Conv1d(*args, **kwargs))


def wn_conv_transpose1d(*args, **kwargs) -> nn.ConvTranspose1d:
    """A ConvTranspose1d with weight normalization."""
    return weight_norm(nn.ConvTranspose1d(*args, **kwargs))


def fold_weight_norm(module: nn.Module) -> None:
    """Replace every weight-norm parametrization below `module` by the plain weight it computes."""
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            # leave_parametrized keeps torch's own g * v / ||v||, so the folded weight is bit-identical.
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)


class Snake1d(nn.Module):
    """Snake activation, x + sin^2(alpha * x) / alpha, with a learned alpha per channel."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The 1e-9 guards alpha = 0; the operation order matches the reference bit for bit.
        inv_alpha = (self.alpha + 1e-9).reciprocal()
        if torch.is_grad_enabled():
            return x + inv_alpha * torch.sin(self.alpha * x).pow(2)
        s = torch.mul(self.alpha, x).sin_()
        return s.mul_(s).mul_(inv_alpha).add_(x)


class ResidualUnit(nn.Module):
    """Snake -> dilated (optionally depthwise) conv -> Snake -> 1x1 conv, plus the input."""

    def __init__(self, dim: int, dilation: int = 1, kernel: int = 7, groups: int = 1):
        super().__init__()
        pad = (kernel - 1) * dilation // 2
        self.block = nn.Sequential(
            Snake1d(dim),
            wn_conv1d(dim, dim, kernel_size=kernel, dilation=dilation, padding=pad, groups=groups),
            Snake1d(dim),
            wn_conv1d(dim, dim, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def residual_stack(dim: int, groups: int) -> list[nn.Module]:
    """The three residual units, dilations 1, 3 and 9, that every encoder and decoder block holds."""
    return [ResidualUnit(dim, dilation=d, groups=groups) for d in (1, 3, 9)]


def positional_noise(layer: int, length: int, rows: Sequence[tuple[int, int, int]]) -> torch.Tensor:
    """The noise (len(rows), length) of noise layer `layer`, a row per (seed, item, start): item `item`'s
    noise at positions start .. start + length - 1.

    Each block of NOISE_BLOCK positions of each layer and batch item is drawn from a generator of its own,
    seeded from (seed, layer, item, block): any split of a sequence, in any pieces, on any device, and any
    company in a batch, draws the same noise. (`SNAC.decode` draws from the global generator instead, as
    the reference does.)"""
    out = []
    for seed, item, start in rows:
        blocks, offset = noise_blocks(start, length)
        out.append(torch.cat([noise_block(seed, layer, item, block) for block in blocks])[offset : offset + length])
    return torch.stack(out)


@functools.lru_cache(maxsize=64)
def noise_block(seed: int, layer: int, item: int, block: int) -> torch.Tensor:
    """One block of positional noise (kept a while: a stream pushed frame by frame reads each block often)."""
    return torch.randn(NOISE_BLOCK, generator=torch.Generator().manual_seed(mixed(seed, layer, item, block)))


class NoiseBlock(nn.Module):
    """Adds Gaussian noise, one draw per time step shared by all channels, scaled by a 1x1 conv of x."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = wn_conv1d(dim, dim, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, T = x.shape
        return x + self.noise(B, T, x) * self.linear(x)

    def noise(self, batch: int, steps: int, like: torch.Tensor) -> torch.Tensor:
        """Noise (B, 1, T): one randn of this shape per block, in decoder order, as the reference draws it."""
        return torch.randn((batch, 1, steps), device=like.device, dtype=like.dtype)
