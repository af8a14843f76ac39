"""How far the network sees: the context a chunk needs on each side to join exactly (as DAC's get_delay, the
model answers for its own architecture)."""

from __future__ import annotations

import math

from torch import nn

from .attention import LocalMHA


def reach(layers: list[nn.Module]) -> int:
    """How many input steps one output of `layers` (in forward order) can see on either side.

    Walks back from the output: each convolution widens the span by its kernel's reach past the padding,
    striding scales it; local attention mixes a whole window, whose far edge must be right too.
    """
    span = 0.0
    for layer in reversed(layers):
        if isinstance(layer, LocalMHA):
            span += layer.window_size
        elif isinstance(layer, nn.ConvTranspose1d):  # stride s up: an output sees about (span + k) / s inputs
            span = (span + layer.kernel_size[0]) / layer.stride[0] + 1
        elif isinstance(layer, nn.Conv1d):
            k, d, p = layer.kernel_size[0], layer.dilation[0], int(layer.padding[0])
            span = span * layer.stride[0] + max(p, (k - 1) * d - p)
    return math.ceil(span)
