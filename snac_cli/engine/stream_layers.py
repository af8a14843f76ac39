"""The decoder's layers as streams over the time axis, each with the state it needs to emit an output as
soon as its inputs are all there (stream_blocks.py puts them together)."""

from __future__ import annotations

import copy
from typing import ClassVar

import torch
from torch import nn

from snac_cli.engine.layer_backend import Backend
from snac_cli.model.attention import LocalMHA
from snac_cli.model.layers import NoiseBlock, positional_noise


class Node:
    """One layer, or a group of them, as a stream: `push` the next inputs, get the outputs now final.

    Streams of one layer whose states have the same shape (see `settled`) can step together: `stacked`
    makes them one batch, `follow` gives each its part of the batch's state after a push."""

    KEPT: ClassVar[tuple[str, ...]] = ()  # the tensors it keeps between pushes, (batch, ...)
    COUNTERS: ClassVar[tuple[str, ...]] = ("received", "emitted")  # positions, all moved alike by a push

    def __init__(self, backend: Backend):
        self.backend = backend
        self.received = self.emitted = 0

    def settled(self) -> bool:
        """Whether the stream is past its start: from here on, its state's shape repeats with the position
        (modulo the attention window), so streams at different positions can step together."""
        return True

    def stacked(self, others: list[Node]) -> Node:
        """This stream and others of the same layer, in states of the same shape, as one batch: their rows
        after this one's. Its positions are this stream's (each row's noise keeps its own)."""
        batch = copy.copy(self)
        for name in self.KEPT:
            mine = getattr(self, name)
            setattr(batch, name, None if mine is None else torch.cat([mine, *(getattr(o, name) for o in others)]))
        return batch

    def follow(self, batch: Node, first: Node, rows: slice) -> None:
        """Take this stream's part of `batch` after a push: its rows of the kept tensors, its positions moved
        as the batch's moved from `first`'s (the stream whose positions the batch took; it follows last)."""
        for name in self.KEPT:
            kept = getattr(batch, name)
            setattr(self, name, None if kept is None else kept[rows])
        for name in self.COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(batch, name) - getattr(first, name))

    def ready(self, received: int, final: bool) -> int:
        """How many outputs are final once `received` inputs have arrived (all of them when `final`)."""
        return received

    def push(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        raise NotImplementedError

    def copy(self) -> Node:
        """The stream as it is now, to push on without changing this one. Kept tensors are shared: no push
        changes one in place (each is a fresh copy, replaced at the next push)."""
        return copy.copy(self)


class Pointwise(Node):
    """Snake, tanh, a 1x1 convolution: each output step is its input step's."""

    def __init__(self, backend: Backend, layer: nn.Module):
        super().__init__(backend)
        self.layer = layer
        self.owned = False  # whether its input is its own to overwrite (no residual holds it)

    def push(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        self.received += self.backend.length(x)
        self.emitted = self.received
        if self.backend.length(x):
            return self.backend.apply(self.layer, x, self.owned)
        channels = self.layer.out_channels if isinstance(self.layer, nn.Conv1d) else self.backend.channels(x)
        return self.backend.empty(x, channels)


class Noise(Node):
    """A NoiseBlock: x + noise * conv1x1(x), its noise drawn for the absolute positions (model/layers.py)."""

    def __init__(self, backend: Backend, block: NoiseBlock, index: int, seed: int, batch: int):
        super().__init__(backend)
        self.block, self.index = block, index
        # Each row's noise: (seed, item, its position less the stream's), so that in a batch of streams each
        # row draws what its own stream would.
        self.rows = [(seed, item, 0) for item in range(batch)]

    def stacked(self, others: list[Node]) -> Node:
        batch = super().stacked(others)
        assert isinstance(batch, Noise)
        batch.rows = [row for node in (self, *others) for row in shifted(node, self.received)]
        return batch

    def push(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        n = self.backend.length(x)
        if n == 0:
            return x
        batch = x.shape[0]
        rows = [(seed, item, self.received + shift) for seed, item, shift in self.rows]
        noise = positional_noise(self.index, n, rows).to(x.device, x.dtype)
        self.received += n
        self.emitted = self.received
        h = self.backend.apply(self.block.linear, x)
        shape = (batch, n, 1) if self.backend.fast else (batch, 1, n)
        return torch.addcmul(x, noise.view(shape), h, out=h)


def shifted(node: Node, received: int) -> list[tuple[int, int, int]]:
    """A noise node's rows, their shifts counted from a stream that has received `received` positions."""
    assert isinstance(node, Noise)
    return [(seed, item, shift + node.received - received) for seed, item, shift in node.rows]


class Conv(Node):
    """A stride-1 convolution with 'same' padding p: output t needs inputs t - p .. t + p."""

    def __init__(self, backend: Backend, conv: nn.Conv1d):
        super().__init__(backend)
        k, d, p = conv.kernel_size[0], conv.dilation[0], int(conv.padding[0])
        assert conv.stride[0] == 1 and 2 * p == (k - 1) * d, "a 'same' convolution"
        self.conv, self.reach = conv, p
        self.buffer: torch.Tensor | None = None
        self.start = 0  # absolute position of buffer[0]

    KEPT, COUNTERS = ("buffer",), ("received", "emitted", "start")

    def settled(self) -> bool:
        return self.emitted >= self.reach  # no zeros before the start in its next window

    def ready(self, received: int, final: bool) -> int:
        return received if final else max(0, received - self.reach)

    def push(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        b = self.backend
        self.buffer = b.join(self.buffer, x)
        self.received += b.length(x)
        target = self.ready(self.received, final)
        if target <= self.emitted:
            return b.empty(x, self.conv.out_channels)
        # Exactly the outputs emitted .. target: their inputs, with zeros before the start and after the end.
        lo, hi = self.emitted - self.reach, target + self.reach
        window = b.cut(self.buffer, max(0, lo) - self.start, min(self.received, hi) - self.start)
        out = b.valid_conv(self.conv, b.padded(window, max(0, -lo), max(0, hi - self.received)))
        keep = max(0, target - self.reach)
        self.buffer = b.kept(self.buffer, keep - self.start, self.received - self.start)
        self.start, self.emitted = keep, target
        return out


class ConvTranspose(Node):
    """A transposed convolution of kernel 2s, stride s, padding P (the decoder's upsampling): output t sums
    inputs floor((t + P) / s) - 1 and floor((t + P) / s)."""

    def __init__(self, backend: Backend, conv: nn.ConvTranspose1d):
        super().__init__(backend)
        self.stride, self.pad = conv.stride[0], int(conv.padding[0])
        assert conv.kernel_size[0] == 2 * self.stride, "kernel twice the stride"
        self.conv = conv
        self.buffer: torch.Tensor | None = None
        self.start = 0

    KEPT, COUNTERS = ("buffer",), ("received", "emitted", "start")

    def settled(self) -> bool:
        return self.emitted + self.pad >= self.stride  # its first input needed is past the start

    def ready(self, received: int, final: bool) -> int:
        return received * self.stride if final else max(0, received * self.stride - self.pad)

    def first_input(self, emitted: int) -> int:
        return max(0, (emitted + self.pad) // self.stride - 1)

    def push(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        b, s = self.backend, self.stride
        self.buffer = b.join(self.buffer, x)
        self.received += b.length(x)
        target = self.ready(self.received, final)
        if target <= self.emitted:
            return b.empty(x, self.conv.out_channels)
        lo = self.first_input(self.emitted)
        y = b.apply(self.conv, b.cut(self.buffer, lo - self.start, self.received - self.start))
        out = b.cut(y, self.emitted - lo * s, target - lo * s)  # y[k] is output lo * s + k
        keep = self.first_input(target)
        self.buffer = b.kept(self.buffer, keep - self.start, self.received - self.start)
        self.start, self.emitted = keep, target
        return out


class Window(Node):
    """Local attention: an output is final once its whole window has arrived."""

    def __init__(self, backend: Backend, attention: LocalMHA):
        super().__init__(backend)
        self.attention, self.size = attention, attention.window_size
        self.buffer: torch.Tensor | None = None

    KEPT = ("buffer",)

    def ready(self, received: int, final: bool) -> int:
        return received if final else received // self.size * self.size

    def push(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        b = self.backend
        self.buffer = b.join(self.buffer, x)
        self.received += b.length(x)
        target = self.ready(self.received, final)
        assert target % self.size == 0, "the decoder pads the codes to whole windows before the end"
        n = target - self.emitted
        out = b.apply(self.attention, b.cut(self.buffer, 0, n)) if n else b.cut(self.buffer, 0, 0)
        self.buffer = b.kept(self.buffer, n, b.length(self.buffer))
        self.emitted = target
        return out
