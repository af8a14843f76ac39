"""A faster inference path through the same modules, with activations kept time-major, (B, T, C).

In that layout oneDNN's kernels run the convolutions (channels-last) and the matrix products (1x1 convs and
the upsampling, as linear maps on weights reordered once), and Snake runs in place, tile by tile while the
data is in cache. Results differ from the module-by-module path only by float
rounding (>= 99.9 % of codes equal). Weights are prepared once per model.
"""

from __future__ import annotations

import threading
import weakref

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .attention import LocalMHA
from .decoder import DecoderBlock
from .encoder import EncoderBlock
from .layers import NoiseBlock, ResidualUnit, Snake1d

# Elements per tile of an elementwise pipeline (4 MB): measured faster than L2-sized tiles, whose passes are
# too short to keep both threads busy.
TILE = 1 << 20
# Up to this stride and input width a transposed conv runs faster as a kernel-2 conv to stride x C_out channels
# (its polyphase form) than as oneDNN's transposed conv (24 kHz decoder, strides 4 and 2: 73 -> 59 and 45 -> 38
# ms per chunk); over long inputs also faster than as pairs of steps (below): 128 -> 64 channels, stride 2,
# 36000 steps: 14.6 ms against 32.9.
POLYPHASE, NARROW = 4, 256
# Up to this many steps (a streamed push's layers) oneDNN's depthwise conv beats the taps kernel tuned for
# long inputs (0.15 -> 0.08 ms at 64 channels x 2048 steps); over 20480 steps, dilated, it is 3x slower.
SHORT = 4096
# Matrix products run as oneDNN's linear map on weights reordered once into its own layout, where torch has it:
# it runs at the memory's speed where BLAS (MKL on this AMD EPYC) does not. Measured on 2 cores: the 24 kHz
# first upsampling as one product over a streamed push's 6 steps 3.9 -> 1.3 ms (33.5 MB of weights: every
# decoder weight is read once per push), over 140 steps 21.0 -> 13.2 ms; 1x1 convs as fast as oneDNN's conv.
ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def packed(matrix: torch.Tensor) -> torch.Tensor:
    """A weight matrix (C_out, C_in) in the layout `linear` takes."""
    return torch.ops.mkldnn._reorder_linear_weight(matrix.contiguous(), None) if ONEDNN else matrix.contiguous()


def channels_last(w: torch.Tensor) -> torch.Tensor:
    """A conv's weight (C_out, C_in / groups, k) as the (C_out, C_in / groups, 1, k) channels-last one that
    oneDNN's 2-D convolutions over (B, C, 1, T) take."""
    return w.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (..., C_in) @ weight.T + bias, the weight from `packed`."""
    if ONEDNN:
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight, bias, "none", [], "")
    return F.linear(x, weight, bias)


_PREPARED: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, FastPath]] = weakref.WeakKeyDictionary()


def prepared(part: nn.Module) -> FastPath:
    """The encoder's or decoder's fast path, prepared once per module, device, dtype and weight version (an
    optimizer step between two calls prepares it anew)."""
    weights = list(part.parameters())
    key = (weights[0].device, weights[0].dtype, tuple(w._version for w in weights))
    cached = _PREPARED.get(part)
    if cached is None or cached[0] != key:
        cached = _PREPARED[part] = (key, FastPath(part))
    return cached[1]


class FastPath:
    """Runs the folded (inference) encoder or decoder of a SNAC model on (B, T, C) activations."""

    def __init__(self, model: nn.Module):
        # Each thread's own: one FastPath serves every thread that runs the model (a server's workers), and a
        # batch's lengths must never mask another thread's pass (found by the load test: an IndexError).
        self.local = threading.local()
        self.weights: dict[nn.Module, tuple] = {}
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                self.weights[module] = self.prepare(module)
            elif isinstance(module, Snake1d):
                alpha = module.alpha.detach().reshape(-1)
                self.weights[module] = (alpha, (alpha + 1e-9).reciprocal())

    @staticmethod
    def prepare(conv: nn.Conv1d | nn.ConvTranspose1d) -> tuple[torch.Tensor, ...]:
        """Each convolution's weight in the form its kernel below wants."""
        w = conv.weight.detach()
        if isinstance(conv, nn.ConvTranspose1d):
            stride = conv.stride[0]
            if conv.groups != 1 or conv.kernel_size[0] != 2 * stride:
                return ("oneDNN", channels_last(w))  # type: ignore[return-value]
            if stride <= POLYPHASE and conv.in_channels <= NARROW:
                # Output frame t (stride steps) = kernel's first half on input t + second half on input t - 1:
                # a conv of kernel 2 from C_in to stride x C_out channels.
                halves = w.reshape(conv.in_channels, conv.out_channels, 2, stride).permute(3, 1, 0, 2).flip(-1)
                phases = halves.reshape(stride * conv.out_channels, conv.in_channels, 1, 2)
                return ("polyphase", phases.contiguous(memory_format=torch.channels_last))  # type: ignore[return-value]
            # (stride x C_out, 2 C_in): output frame t (stride steps) = this @ [x[t]; x[t - 1]].
            halves = w.permute(2, 1, 0).reshape(2, stride * conv.out_channels, conv.in_channels)
            return ("pairs", packed(torch.cat([halves[0], halves[1]], dim=1)))  # type: ignore[return-value]
        k, stride = conv.kernel_size[0], conv.stride[0]
        if conv.groups == conv.in_channels == conv.out_channels and stride == 1:
            short = channels_last(w)  # oneDNN's, up to SHORT steps
            return ("taps", w[:, 0, :].t().contiguous(), short)  # type: ignore[return-value]  # (k, C)
        if conv.groups == 1 and k == 2 * stride and stride >= 8 and conv.dilation[0] == 1:
            rows = w.permute(2, 1, 0).reshape(k * conv.in_channels, conv.out_channels)  # row = tap * C_in + c
            half = stride * conv.in_channels
            return ("frames", rows[:half].contiguous(), rows[half:].contiguous())  # type: ignore[return-value]
        if k == 1 and conv.groups == 1 and stride == 1:  # over SHORT steps as oneDNN's conv (less memory)
            conv2d = channels_last(w)
            return ("linear", packed(w[:, :, 0]), conv2d)  # type: ignore[return-value]
        return ("oneDNN", channels_last(w))  # type: ignore[return-value]

    def __call__(self, layers: nn.Sequential, x: torch.Tensor, lengths: list[int] | None = None) -> torch.Tensor:
        """Run a Sequential of SNAC layers on x (B, C, T); returns (B, C', T') as a (B, T', C') view.

        `lengths`, for a batch of items of different lengths padded to one, gives each item's length: every
        convolution then sees zeros past an item's end, as it would with the item alone. The lengths must be
        whole padding units (so attention windows and strides never straddle an item's end).
        """
        self.lengths = list(lengths) if lengths is not None else None
        try:
            return self.run(layers, x.transpose(1, 2).contiguous()).transpose(1, 2)
        finally:
            self.lengths = None

    @property
    def lengths(self) -> list[int] | None:
        """The valid steps of each batch item at the current layer, in this thread's pass."""
        return getattr(self.local, "lengths", None)

    @lengths.setter
    def lengths(self, value: list[int] | None) -> None:
        self.local.lengths = value

    def masked(self, conv: nn.Conv1d | nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
        """Zero each batch item past its length (in place: nothing past it is ever read as valid) and carry the
        lengths through the convolution's stride."""
        if self.lengths is None:
            return x
        if conv.kernel_size[0] > 1:
            for item, n in enumerate(self.lengths):
                x[item, n:].zero_()
        s = conv.stride[0]
        self.lengths = [n * s if isinstance(conv, nn.ConvTranspose1d) else n // s for n in self.lengths]
        return x

    def run(self, module: nn.Module, x: torch.Tensor, owned: bool = False) -> torch.Tensor:
        """Run one layer; `owned`: nothing else reads x afterwards, so it may be overwritten (saves memory)."""
        if isinstance(module, nn.Sequential):
            for i, layer in enumerate(module):
                x = self.run(layer, x, owned or i > 0)  # each layer's output is the next one's alone
            return x
        if isinstance(module, (EncoderBlock, DecoderBlock)):
            return self.run(module.block, x, owned)
        if isinstance(module, ResidualUnit):
            return self.run(module.block, x).add_(x)  # x is read again by the residual sum
        if isinstance(module, Snake1d):
            return self.snake(module, x, owned)
        if isinstance(module, nn.ConvTranspose1d):
            return self.conv_transpose(module, self.masked(module, x))
        if isinstance(module, nn.Conv1d):
            return self.conv(module, self.masked(module, x))
        if isinstance(module, NoiseBlock):
            B, T, _ = x.shape
            h = self.conv(module.linear, x)
            return torch.addcmul(x, module.noise(B, T, x).view(B, T, 1), h, out=h)
        if isinstance(module, LocalMHA):
            return self.attention(module, x)
        if isinstance(module, nn.Tanh):
            return x.tanh_() if owned else x.tanh()
        raise TypeError(f"no fast path for {type(module).__name__}")

    def snake(self, module: Snake1d, x: torch.Tensor, owned: bool) -> torch.Tensor:
        """Snake tile by tile, into x itself when it is owned, through a tile-sized scratch buffer."""
        alpha, inv_alpha = self.weights[module]
        out = x if owned else torch.empty_like(x)
        rows = max(1, TILE // (x.shape[0] * x.shape[-1]))
        scratch = torch.empty_like(x[:, :rows])
        for start in range(0, x.shape[1], rows):
            xs, o = x[:, start : start + rows], out[:, start : start + rows]
            s = scratch[:, : xs.shape[1]]
            torch.mul(xs, alpha, out=s).sin_().square_()
            torch.addcmul(xs, s, inv_alpha, out=o)
        return out

    def conv(self, conv: nn.Conv1d, x: torch.Tensor, pad: int | None = None) -> torch.Tensor:
        """The convolution on time-major x; `pad` replaces its zero padding (0: outputs only where the kernel
        lies wholly inside x, as streaming wants)."""
        pad = int(conv.padding[0]) if pad is None else pad
        kind, *weights = self.weights[conv]
        short = x.shape[1] <= SHORT
        if kind == "taps" and not short:
            return self.depthwise(conv, weights[0], x, pad)
        if kind == "frames":
            return self.strided(conv, weights[0], weights[1], x)
        if kind == "linear" and short:
            return linear(x, weights[0], conv.bias)
        out = F.conv2d(
            x.transpose(1, 2).unsqueeze(2),  # (B, C, 1, T), channels-last in memory
            weights[0] if kind == "oneDNN" else weights[-1],
            conv.bias,
            stride=(1, conv.stride[0]),
            padding=(0, pad),
            dilation=(1, conv.dilation[0]),
            groups=conv.groups,
        )
        return out.squeeze(2).transpose(1, 2)

    def depthwise(self, conv: nn.Conv1d, taps: torch.Tensor, x: torch.Tensor, pad: int) -> torch.Tensor:
        """A depthwise conv as one multiply-add per tap over shifted inputs, a cache-sized tile at a time."""
        d = conv.dilation[0]
        T = x.shape[1]
        out = x.new_empty(x.shape[0], T + 2 * pad - (taps.shape[0] - 1) * d, x.shape[2])
        rows = max(1, TILE // (x.shape[0] * x.shape[-1]))
        for start in range(0, out.shape[1], rows):
            o = out[:, start : start + rows]
            n = o.shape[1]
            for j in range(taps.shape[0]):
                first = start + j * d - pad  # input step under o[:, 0]; outside 0..T-1 is zero padding
                a, b = max(0, -first), min(n, T - first)  # the outputs this tap reaches inside the input
                if j == 0:  # same sums in the same order as over a zero-padded copy, without the copy
                    o[:, : max(a, 0)].zero_()
                    o[:, max(a, b) :].zero_()
                    if a < b:
                        torch.mul(x[:, first + a : first + b], taps[0], out=o[:, a:b])
                elif a < b:
                    o[:, a:b].addcmul_(x[:, first + a : first + b], taps[j])
            if conv.bias is not None:
                o.add_(conv.bias)
        return out

    def strided(self, conv: nn.Conv1d, first: torch.Tensor, second: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """A conv with kernel 2s and stride s as two matrix products over frames of s steps."""
        s, pad = conv.stride[0], int(conv.padding[0])
        frames = F.pad(x, (0, 0, pad, s - pad)).view(x.shape[0], -1, s * x.shape[-1])  # (B, T / s + 1, s * C)
        out = torch.matmul(frames[:, :-1], first).add_(torch.matmul(frames[:, 1:], second))
        return out.add_(conv.bias) if conv.bias is not None else out

    def conv_transpose(self, conv: nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
        kind, *weights = self.weights[conv]
        if kind == "pairs":
            return self.pairs(conv, weights[0], x)
        if kind == "polyphase":
            return self.polyphase(conv, weights[0], x)
        out = F.conv_transpose2d(
            x.transpose(1, 2).unsqueeze(2),
            weights[0],
            conv.bias,
            stride=(1, conv.stride[0]),
            padding=(0, int(conv.padding[0])),
            output_padding=(0, conv.output_padding[0]),
            groups=conv.groups,
        )
        return out.squeeze(2).transpose(1, 2)

    def pairs(self, conv: nn.ConvTranspose1d, weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """A transposed conv with kernel 2s and stride s as one matrix product: output frame t (s steps) is the
        kernel's first half on input t plus its second half on input t - 1."""
        B, T, C = x.shape
        pairs = x.new_zeros(B, T + 1, 2 * C)  # step t: [x[t]; x[t - 1]], zeros outside
        pairs[:, :T, :C] = x
        pairs[:, 1:, C:] = x
        frames = linear(pairs, weight, None)  # (B, T + 1, s C_out)
        return self.trimmed(conv, frames.view(B, (T + 1) * conv.stride[0], conv.out_channels), T)

    def polyphase(self, conv: nn.ConvTranspose1d, phases: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """A transposed conv with kernel 2s and stride s as one conv of kernel 2 to s x C_out channels, whose
        output frames laid end to end are the upsampled signal."""
        s = conv.stride[0]
        B, T, _ = x.shape
        frames = F.conv2d(x.transpose(1, 2).unsqueeze(2), phases, padding=(0, 1))  # (B, s C_out, 1, T + 1)
        return self.trimmed(conv, frames.permute(0, 2, 3, 1).reshape(B, (T + 1) * s, conv.out_channels), T)

    @staticmethod
    def trimmed(conv: nn.ConvTranspose1d, steps: torch.Tensor, T: int) -> torch.Tensor:
        """Upsampled steps (B, n, C_out) from T inputs, cut to the transposed conv's output and biased."""
        s, pad = conv.stride[0], int(conv.padding[0])
        length = (T - 1) * s - 2 * pad + 2 * s + conv.output_padding[0]
        out = steps[:, pad : pad + length]
        return out.add_(conv.bias) if conv.bias is not None else out

    def attention(self, mha: LocalMHA, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (
            rearrange(t, "b (w n) (h d) -> b h w n d", n=mha.window_size, h=mha.heads)
            for t in mha.to_qkv(mha.norm(x)).chunk(3, dim=-1)
        )
        out = F.scaled_dot_product_attention(mha.rel_pos(q), mha.rel_pos(k), v)
        return mha.to_out(rearrange(out, "b h w n d -> b (w n) (h d)")).add_(x)
