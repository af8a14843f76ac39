"""The decoder's exact streaming step as one graph of fixed-shape state: codes of n latent steps, the stream's
position and end, the noise of this step and the state in -> the audio of n x hop samples and the state out.

Each layer keeps, between steps, the same number of its last inputs whatever the step (a convolution of
reach r its last 2r, a transposed convolution its last one, a residual unit the inputs its branch has not
caught up with, attention what completes its next window), so every step's state has one shape, zeros at
the start. Each layer's outputs lag its inputs by a fixed delay, and outputs at positions before 0 or
from the stream's end on are set to zero: the next layer then sees exactly the zero padding that decoding
the whole sequence gives it on both sides. The step's audio therefore begins `delay` samples before the
position pushed (the first `delay` samples of a stream are before its start), and the end comes out when
steps past it (any codes) are pushed with `end` set: engine/stream_decoder.py's decoder, with state as tensors.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from snac_cli.model import SNAC
from snac_cli.model.attention import LocalMHA
from snac_cli.model.decoder import DecoderBlock
from snac_cli.model.layers import NoiseBlock, ResidualUnit, Snake1d, fold_weight_norm


@dataclass
class Layout:
    """What a runtime must know to drive the step: each state tensor's (channels, steps) in the flat state's
    order, each noise input's (steps per latent step, delay), the audio's delay in samples."""

    states: list[tuple[int, int]] = field(default_factory=list)
    noises: list[tuple[int, int]] = field(default_factory=list)
    delay: int = 0

    @property
    def state_size(self) -> int:
        """Floats per stream in the flat state (batch, state_size)."""
        return sum(c * n for c, n in self.states)


class Step:
    """One call's inputs and what the layers hand back: the stream's latent position (a 0-d int64
    tensor), its end, the state tensors in, the noise inputs, and the state tensors out."""

    def __init__(self, position: torch.Tensor, end: torch.Tensor, state: torch.Tensor, noise: list[torch.Tensor],
                 layout: Layout):  # fmt: skip
        self.position, self.end, self.noise = position, end, noise
        self.kept: dict[int, torch.Tensor] = {}
        self.states: list[torch.Tensor | None] = []
        offset = 0
        for channels, steps in layout.states:  # the flat state (B, S), cut into (B, channels, steps) each
            size = channels * steps
            self.states.append(state[:, offset : offset + size].reshape(-1, channels, steps) if size else None)
            offset += size

    def masked(self, x: torch.Tensor, rate: int, delay: int) -> torch.Tensor:
        """x (B, C, n), whose first step is at position position x rate - delay, zero outside 0 .. end x rate."""
        positions = self.position * rate - delay + torch.arange(x.shape[-1], device=x.device)
        inside = (positions >= 0) & (positions < self.end * rate)
        return torch.where(inside, x, torch.zeros((), dtype=x.dtype))

    def flat_state(self, batch: int) -> torch.Tensor:
        return torch.cat([self.kept[i].reshape(batch, -1) for i in sorted(self.kept)], dim=1)


class Node(nn.Module):
    """A layer as a step: `rate` and `delay` are those of its output (steps per latent step; how many of
    its output steps it lags the latent position); `slot` its state tensor's index, if it keeps one."""

    def __init__(self, layout: Layout, rate: int, delay: int, state: tuple[int, int] | None = None):
        super().__init__()
        self.rate, self.delay, self.slot = rate, delay, None
        if state is not None and state[1] > 0:
            self.slot = len(layout.states)
            layout.states.append(state)

    def joined(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        """The kept inputs, then x; the last ones kept for the next step."""
        if self.slot is None:
            return x
        kept = step.states[self.slot]
        assert kept is not None
        z = torch.cat([kept, x], dim=-1)
        step.kept[self.slot] = z[..., x.shape[-1] :]
        return z


class Pointwise(Node):
    def __init__(self, layer: nn.Module, layout: Layout, rate: int, delay: int):
        super().__init__(layout, rate, delay)
        self.layer = layer
        self.biased = isinstance(layer, nn.Conv1d) and layer.bias is not None  # 0 in, not 0 out: masked

    def forward(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        y = self.layer(x)
        return step.masked(y, self.rate, self.delay) if self.biased else y


class Conv(Node):
    """A 'same' convolution of reach r: its last 2r inputs kept, its output r steps behind."""

    def __init__(self, conv: nn.Conv1d, layout: Layout, rate: int, delay: int):
        reach = int(conv.padding[0])
        super().__init__(layout, rate, delay + reach, (conv.in_channels, 2 * reach))
        self.conv = conv

    def forward(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        c = self.conv
        y = F.conv1d(self.joined(x, step), c.weight, c.bias, 1, 0, c.dilation, c.groups)
        return step.masked(y, self.rate, self.delay)


class ConvTranspose(Node):
    """A transposed convolution of kernel 2s, stride s, padding P: its last input kept; its output at
    position t sums inputs floor((t + P) / s) - 1 and floor((t + P) / s), so it lags P output steps."""

    def __init__(self, conv: nn.ConvTranspose1d, layout: Layout, rate: int, delay: int):
        stride, pad = conv.stride[0], int(conv.padding[0])
        super().__init__(layout, rate * stride, delay * stride + pad, (conv.in_channels, 1))
        self.conv, self.stride = conv, stride

    def forward(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        s, n = self.stride, x.shape[-1]
        y = F.conv_transpose1d(self.joined(x, step), self.conv.weight, self.conv.bias, s)  # (B, C, (n + 2) s)
        return step.masked(y[..., s : s + n * s], self.rate, self.delay)  # outputs whose inputs are both here


class Noise(Node):
    """x + noise x conv1x1(x), the noise an input (0 in, 0 out: no mask)."""

    def __init__(self, block: NoiseBlock, layout: Layout, rate: int, delay: int):
        super().__init__(layout, rate, delay)
        self.block, self.index = block, len(layout.noises)
        layout.noises.append((rate, delay))

    def forward(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        h = self.block.linear(x)
        return x + step.noise[self.index][..., : h.shape[-1]] * h


class Window(Node):
    """Local attention over whole windows: inputs kept until they complete the window after them (the
    latent position is a multiple of the window, so windows fall where whole-sequence decoding puts them)."""

    def __init__(self, attention: LocalMHA, layout: Layout, rate: int, delay: int):
        kept = -delay % attention.window_size  # the step's first input sits this far into its window
        super().__init__(layout, rate, delay + kept, (attention.to_out.out_features, kept))
        self.attention = attention

    def forward(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        y = self.attention(self.joined(x, step)[..., : x.shape[-1]])
        return step.masked(y, self.rate, self.delay)


class Residual(Node):
    """x + branch(x): x kept until the branch's output catches up with it."""

    def __init__(self, unit: ResidualUnit, layout: Layout, rate: int, delay: int):
        slot = len(layout.states)
        layout.states.append((0, 0))  # the skip's place (before its branch's), its length known once it is built
        branch = chain(list(unit.block), layout, rate, delay)
        lag = branch.delay - delay
        conv = unit.block[1]
        assert isinstance(conv, nn.Conv1d)
        layout.states[slot] = (conv.in_channels, lag)
        super().__init__(Layout(), rate, branch.delay)
        self.branch, self.slot = branch, slot if lag else None

    def forward(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        n = x.shape[-1]
        return self.joined(x, step)[..., :n] + self.branch(x, step)


class Chain(Node):
    def __init__(self, nodes: list[Node], rate: int, delay: int):
        super().__init__(Layout(), rate, delay)
        self.nodes = nn.ModuleList(nodes)

    def forward(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        for node in self.nodes:
            x = node(x, step)
        return x


def chain(layers: list[nn.Module], layout: Layout, rate: int, delay: int) -> Chain:
    """The steps of decoder layers one after another, from `rate` and `delay` on."""
    nodes: list[Node] = []
    for layer in layers:
        if isinstance(layer, DecoderBlock):
            nodes.append(chain(list(layer.block), layout, rate, delay))
        elif isinstance(layer, ResidualUnit):
            nodes.append(Residual(layer, layout, rate, delay))
        elif isinstance(layer, NoiseBlock):
            nodes.append(Noise(layer, layout, rate, delay))
        elif isinstance(layer, nn.ConvTranspose1d):
            nodes.append(ConvTranspose(layer, layout, rate, delay))
        elif isinstance(layer, nn.Conv1d) and layer.kernel_size[0] > 1:
            nodes.append(Conv(layer, layout, rate, delay))
        elif isinstance(layer, LocalMHA):
            nodes.append(Window(layer, layout, rate, delay))
        elif isinstance(layer, (Snake1d, nn.Tanh, nn.Conv1d)):
            nodes.append(Pointwise(layer, layout, rate, delay))
        else:
            raise TypeError(f"no streaming step for {type(layer).__name__}")
        rate, delay = nodes[-1].rate, nodes[-1].delay
    return Chain(nodes, rate, delay)


class StepGraph(nn.Module):
    """codes (B, n_i) per scale (n latent steps, a multiple of the latent unit), position and end (0-d int64:
    latent steps pushed before this step; the stream's padded length once known, else any larger number),
    noise (B, 1, n x rate_k) per noise layer at positions position x rate_k - delay_k on, state (B, S) ->
    audio (B, 1, n x hop) from sample position x hop - delay on, state (B, S)."""

    def __init__(self, model: SNAC):
        super().__init__()
        decoder = copy.deepcopy(model.decoder).float().eval()
        fold_weight_norm(decoder)
        self.quantizer, self.scales = model.quantizer, len(model.vq_strides)
        self.layout = Layout()
        self.body = chain(list(decoder.model), self.layout, 1, 0)
        assert self.body.rate == model.hop_length, "the decoder upsamples by the hop"
        self.layout.delay = self.body.delay

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes, (position, end, *rest) = list(inputs[: self.scales]), inputs[self.scales :]
        noise, state = list(rest[:-1]), rest[-1]
        step = Step(position, end, state, noise, self.layout)
        latent = step.masked(self.quantizer.from_codes(codes), 1, 0)  # (B, D, n): nothing from the end on
        audio = self.body(latent, step)
        return audio, step.flat_state(state.shape[0])


def flush_steps(layout: Layout, hop: int, unit: int) -> int:
    """Latent steps (whole units) to push past a stream's end for its last sample to come out."""
    return math.ceil(layout.delay / hop / unit) * unit
