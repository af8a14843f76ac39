"""The encoder: audio (B, 1, T) -> latent (B, latent_dim, T / hop)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import LocalMHA
from .layers import Snake1d, residual_stack, wn_conv1d


class EncoderBlock(nn.Module):
    """Three residual units at `input_dim` channels, then a strided conv that downsamples by `stride`."""

    def __init__(self, output_dim: int, stride: int, groups: int = 1):
        super().__init__()
        input_dim = output_dim // 2
        self.block = nn.Sequential(
            *residual_stack(input_dim, groups),
            Snake1d(input_dim),
            wn_conv1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride, padding=math.ceil(stride / 2)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Encoder(nn.Module):
    """Conv, downsampling blocks that double the channels, optional local attention, final conv."""

    def __init__(self, d_model: int, strides: tuple[int, ...], depthwise: bool, attn_window_size: int | None):
        super().__init__()
        layers: list[nn.Module] = [wn_conv1d(1, d_model, kernel_size=7, padding=3)]
        for stride in strides:
            d_model *= 2
            layers.append(EncoderBlock(d_model, stride, groups=d_model // 2 if depthwise else 1))
        if attn_window_size is not None:
            layers.append(LocalMHA(d_model, window_size=attn_window_size))
        layers.append(wn_conv1d(d_model, d_model, kernel_size=7, padding=3, groups=d_model if depthwise else 1))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)
