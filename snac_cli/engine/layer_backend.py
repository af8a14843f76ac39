"""How the decoder's stream layers run: the CPU fast path on time-major tensors, or the modules themselves."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snac_cli.model.attention import LocalMHA
from snac_cli.model.fast import FastPath
from snac_cli.model.layers import Snake1d


class Backend:
    """How a layer runs: the CPU fast path on time-major (B, T, C) tensors, or the modules on (B, C, T)."""

    def __init__(self, fast: FastPath | None):
        self.fast = fast
        self.time = 1 if fast else 2  # the time axis

    def length(self, x: torch.Tensor) -> int:
        return x.shape[self.time]

    def cut(self, x: torch.Tensor, start: int, end: int) -> torch.Tensor:
        return x.narrow(self.time, start, end - start)

    def kept(self, x: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """The steps a layer keeps for its next push, copied: a view would hold the whole step's activation in
        memory (measured: the 32 kHz decoder peaked at 5.0 GB on a long file, every layer's activation alive)."""
        return self.cut(x, start, end).clone()

    def channels(self, x: torch.Tensor) -> int:
        return x.shape[3 - self.time]

    def empty(self, x: torch.Tensor, channels: int) -> torch.Tensor:
        """No steps, `channels` wide, like x."""
        shape = (x.shape[0], 0, channels) if self.fast else (x.shape[0], channels, 0)
        return x.new_zeros(shape)

    def valid_conv(self, conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
        """The convolution without padding: outputs only where the kernel lies wholly inside x."""
        if self.fast is None:
            return F.conv1d(x, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)
        return self.fast.conv(conv, x.contiguous(), pad=0)

    def padded(self, x: torch.Tensor, left: int, right: int) -> torch.Tensor:
        """x with zero steps before and after it (the sequence's true edges)."""
        if not left and not right:
            return x
        return F.pad(x, (0, 0, left, right) if self.fast else (left, right))

    def join(self, a: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
        return b if a is None or self.length(a) == 0 else torch.cat([a, b], dim=self.time)

    def apply(self, layer: nn.Module, x: torch.Tensor, owned: bool = False) -> torch.Tensor:
        """The layer on x; `owned`: nothing else reads x afterwards, so the fast path may overwrite it."""
        if self.fast is None:
            return layer(x)
        owned = owned and x.is_contiguous()
        x = x.contiguous()
        if isinstance(layer, nn.ConvTranspose1d):
            return self.fast.conv_transpose(layer, x)
        if isinstance(layer, nn.Conv1d):
            return self.fast.conv(layer, x)
        if isinstance(layer, Snake1d):
            return self.fast.snake(layer, x, owned=owned)
        if isinstance(layer, nn.Tanh):
            return x.tanh_() if owned else x.tanh()
        if isinstance(layer, LocalMHA):
            return self.fast.attention(layer, x)
        return self.fast.run(layer, x)
