"""The decoder's blocks as streams: layers one after another (`Chain`), a residual unit (`Residual`), and
`build`, which makes the stream of any decoder layer and everything below it (stream_layers.py holds the
layers themselves)."""

from __future__ import annotations

import copy
from typing import cast

import torch
from torch import nn

from snac_cli.engine.layer_backend import Backend
from snac_cli.engine.stream_layers import Conv, ConvTranspose, Node, Noise, Pointwise, Window
from snac_cli.model.attention import LocalMHA
from snac_cli.model.decoder import DecoderBlock
from snac_cli.model.layers import NoiseBlock, ResidualUnit, Snake1d


class Chain(Node):
    """Layers one after the other."""

    def __init__(self, backend: Backend, nodes: list[Node]):
        super().__init__(backend)
        self.nodes = nodes

    def copy(self) -> Chain:
        twin = copy.copy(self)
        twin.nodes = [node.copy() for node in self.nodes]
        return twin

    def settled(self) -> bool:
        return all(node.settled() for node in self.nodes)

    def stacked(self, others: list[Node]) -> Node:
        batch = super().stacked(others)
        assert isinstance(batch, Chain)
        batch.nodes = [n.stacked([cast(Chain, o).nodes[i] for o in others]) for i, n in enumerate(self.nodes)]
        return batch

    def follow(self, batch: Node, first: Node, rows: slice) -> None:
        assert isinstance(batch, Chain) and isinstance(first, Chain)
        for mine, batched, firsts in zip(self.nodes, batch.nodes, first.nodes, strict=True):
            mine.follow(batched, firsts, rows)
        super().follow(batch, first, rows)

    def ready(self, received: int, final: bool) -> int:
        for node in self.nodes:
            received = node.ready(received, final)
        return received

    def push(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        self.received += self.backend.length(x)
        for node in self.nodes:
            x = node.push(x, final)
        self.emitted += self.backend.length(x)
        return x


class Residual(Node):
    """x + branch(x): the input waits until the branch has caught up with it."""

    def __init__(self, backend: Backend, branch: Chain):
        super().__init__(backend)
        self.branch = branch
        self.skip: torch.Tensor | None = None

    KEPT = ("skip",)

    def copy(self) -> Residual:
        twin = copy.copy(self)
        twin.branch = self.branch.copy()
        return twin

    def settled(self) -> bool:
        return self.branch.settled()

    def stacked(self, others: list[Node]) -> Node:
        batch = super().stacked(others)
        assert isinstance(batch, Residual)
        branch = self.branch.stacked([cast(Residual, o).branch for o in others])
        assert isinstance(branch, Chain)
        batch.branch = branch
        return batch

    def follow(self, batch: Node, first: Node, rows: slice) -> None:
        assert isinstance(batch, Residual) and isinstance(first, Residual)
        self.branch.follow(batch.branch, first.branch, rows)
        super().follow(batch, first, rows)

    def ready(self, received: int, final: bool) -> int:
        return self.branch.ready(received, final)

    def push(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        b = self.backend
        self.skip = b.join(self.skip, x)
        y = self.branch.push(x, final)
        n = b.length(y)
        out = y.add_(b.cut(self.skip, 0, n))  # the branch's output is its own
        self.skip = b.kept(self.skip, n, b.length(self.skip))
        return out


def build(layer: nn.Module, backend: Backend, seed: int, batch: int, noises: list[int]) -> Node:
    """The stream node of a decoder layer (and of everything below it), for `batch` rows."""
    if isinstance(layer, nn.Sequential):
        nodes = [build(child, backend, seed, batch, noises) for child in layer]
        for node in nodes[1:]:  # each takes the fresh output of the one before
            if isinstance(node, Pointwise):
                node.owned = True
        return Chain(backend, nodes)
    if isinstance(layer, DecoderBlock):
        return build(layer.block, backend, seed, batch, noises)
    if isinstance(layer, ResidualUnit):
        branch = build(layer.block, backend, seed, batch, noises)
        assert isinstance(branch, Chain)
        return Residual(backend, branch)
    if isinstance(layer, NoiseBlock):
        noises.append(len(noises))
        return Noise(backend, layer, noises[-1], seed, batch)
    if isinstance(layer, nn.ConvTranspose1d):
        return ConvTranspose(backend, layer)
    if isinstance(layer, nn.Conv1d):
        return Conv(backend, layer) if layer.kernel_size[0] > 1 else Pointwise(backend, layer)
    if isinstance(layer, LocalMHA):
        return Window(backend, layer)
    if isinstance(layer, (Snake1d, nn.Tanh)):
        return Pointwise(backend, layer)
    raise TypeError(f"no streaming form for {type(layer).__name__}")
