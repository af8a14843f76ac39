"""The decoder: latent (B, latent_dim, frames) -> audio (B, 1, frames * hop) in [-1, 1]."""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import LocalMHA
from .layers import NoiseBlock, Snake1d, residual_stack, wn_conv1d, wn_conv_transpose1d


class DecoderBlock(nn.Module):
    """A transposed conv that upsamples by `stride`, optional noise, then three residual units."""

    def __init__(self, input_dim: int, output_dim: int, stride: int, noise: bool, groups: int = 1):
        super().__init__()
        layers: list[nn.Module] = [
            Snake1d(input_dim),
            wn_conv_transpose1d(
                input_dim,
                output_dim,
                kernel_size=2 * stride,
                stride=stride,
                padding=math.ceil(stride / 2),
                output_padding=stride % 2,  # makes the output exactly stride x the input length
            ),
        ]
        if noise:
            layers.append(NoiseBlock(output_dim))
        layers += residual_stack(output_dim, groups)
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Decoder(nn.Module):
    """Input conv(s), optional local attention, upsampling blocks that halve the channels, output conv."""

    def __init__(
        self,
        input_channel: int,
        channels: int,
        rates: tuple[int, ...],
        noise: bool,
        depthwise: bool,
        attn_window_size: int | None,
    ):
        super().__init__()
        if depthwise:
            layers: list[nn.Module] = [
                wn_conv1d(input_channel, input_channel, kernel_size=7, padding=3, groups=input_channel),
                wn_conv1d(input_channel, channels, kernel_size=1),
            ]
        else:
            layers = [wn_conv1d(input_channel, channels, kernel_size=7, padding=3)]
        if attn_window_size is not None:
            layers.append(LocalMHA(channels, window_size=attn_window_size))
        for i, stride in enumerate(rates):
            input_dim, output_dim = channels // 2**i, channels // 2 ** (i + 1)
            layers.append(DecoderBlock(input_dim, output_dim, stride, noise, groups=output_dim if depthwise else 1))
        layers += [Snake1d(output_dim), wn_conv1d(output_dim, 1, kernel_size=7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
