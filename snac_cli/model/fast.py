"""A faster inference path through the same modules, with activations kept time-major, (B, T, C).

In that layout oneDNN's channels-last kernels run the convolutions (1x1 ones 15-20 % faster than as matrix
products, transposed ones a third faster than in PyTorch's (B, C, T) layout), and Snake runs in place, tile
by tile while the data is in cache. Results differ from the module-by-module path only by float
rounding (>= 99.9 % of codes equal). Weights are prepared once per model.
"""

from __future__ import annotations

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
# Transposed convs of kernel 2 x stride, by input width: from WIDE channels (the decoders' first upsampling,
# over few latent frames) two matrix products over frames, faster than oneDNN (42 -> 33 ms per 24 kHz
# chunk); between NARROW and WIDE, Winograd's F(2, 2) on those frames (32 kHz decoder, 768 and 384 channels:
# 162 -> 136 and 137 -> 105 ms measured alone, 2.4 % of the whole decode).
WIDE = 1024
# Up to this stride and input width a transposed conv runs faster as a kernel-2 conv to stride x C_out channels
# (its polyphase form) than as oneDNN's transposed conv (24 kHz decoder, strides 4 and 2: 73 -> 59 and 45 -> 38
# ms per chunk; at 32 kHz, over 384 channels, the whole decode was no faster).
POLYPHASE, NARROW = 4, 256


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
        self.lengths: list[int] | None = None  # valid steps of each batch item at the current layer
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
                return ("oneDNN", w.unsqueeze(2).contiguous(memory_format=torch.channels_last))  # type: ignore[return-value]
            if stride <= POLYPHASE and conv.in_channels <= NARROW:
                # Output frame t (stride steps) = kernel's first half on input t + second half on input t - 1:
                # a conv of kernel 2 from C_in to stride x C_out channels.
                halves = w.reshape(conv.in_channels, conv.out_channels, 2, stride).permute(3, 1, 0, 2).flip(-1)
                phases = halves.reshape(stride * conv.out_channels, conv.in_channels, 1, 2)
                return ("polyphase", phases.contiguous(memory_format=torch.channels_last))  # type: ignore[return-value]
            halves = w.permute(0, 2, 1).reshape(conv.in_channels, 2, stride * conv.out_channels)
            first, second = halves[:, 0].contiguous(), halves[:, 1].contiguous()
            if conv.in_channels >= WIDE:
                return ("frames", first, second)  # type: ignore[return-value]
            return ("winograd", first, second, first + second)  # type: ignore[return-value]
        k, stride = conv.kernel_size[0], conv.stride[0]
        if conv.groups == conv.in_channels == conv.out_channels and stride == 1:
            return ("taps", w[:, 0, :].t().contiguous())  # type: ignore[return-value]  # (k, C)
        if conv.groups == 1 and k == 2 * stride and stride >= 8 and conv.dilation[0] == 1:
            rows = w.permute(2, 1, 0).reshape(k * conv.in_channels, conv.out_channels)  # row = tap * C_in + c
            half = stride * conv.in_channels
            return ("frames", rows[:half].contiguous(), rows[half:].contiguous())  # type: ignore[return-value]
        return ("oneDNN", w.unsqueeze(2).contiguous(memory_format=torch.channels_last))  # type: ignore[return-value]

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
        if kind == "taps":
            return self.depthwise(conv, weights[0], x, pad)
        if kind == "frames":
            return self.strided(conv, weights[0], weights[1], x)
        out = F.conv2d(
            x.transpose(1, 2).unsqueeze(2),  # (B, C, 1, T), channels-last in memory
            weights[0],
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
        if kind == "frames":
            return self.upsampled(conv, weights[0], weights[1], x)
        if kind == "polyphase":
            return self.polyphase(conv, weights[0], x)
        if kind == "winograd":
            return self.winograd(conv, weights[0], weights[1], weights[2], x)
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

    def upsampled(
        self, conv: nn.ConvTranspose1d, first: torch.Tensor, second: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        """A transposed conv with kernel 2s and stride s as two matrix products: each input step writes s
        output steps with the first half of the kernel and the next s with the second."""
        s = conv.stride[0]
        B, T, _ = x.shape
        frames = torch.empty(B, T + 1, s * conv.out_channels, dtype=x.dtype, device=x.device)
        for item in range(B):  # per item: `out=` needs a contiguous block, which frames[:, :T] is not for B > 1
            torch.mm(x[item], first, out=frames[item, :T])
        frames[:, T].zero_()
        frames[:, 1:].add_(torch.matmul(x, second))
        return self.trimmed(conv, frames.view(B, (T + 1) * s, conv.out_channels), T)

    def winograd(
        self, conv: nn.ConvTranspose1d, first: torch.Tensor, second: torch.Tensor, both: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        """The frames of `upsampled` two at a time with three matrix products instead of four: Winograd's
        minimal filtering F(2, 2). Frame t is second @ x[t - 1] + first @ x[t]; with d0, d1, d2 = x[2u - 1],
        x[2u], x[2u + 1]: m2 = (first + second) @ d1, frame 2u = m2 + second @ (d0 - d1), frame 2u + 1 =
        m2 + first @ (d2 - d1). A quarter fewer multiply-adds; rounding differs (~1e-6 relative)."""
        s = conv.stride[0]
        B, T, C = x.shape
        pairs = (T + 2) // 2  # frames 0 .. T, two at a time
        padded = x.new_zeros(B, 2 * pairs + 1, C)  # padded[i] = x[i - 1]; zeros outside
        padded[:, 1 : T + 1] = x
        d1 = padded[:, 1::2][:, :pairs]
        before, after = padded[:, 0:-1:2] - d1, padded[:, 2::2] - d1
        frames = x.new_empty(B, pairs, 2, first.shape[1])
        for item in range(B):  # straight into the output's even and odd frames: no temporaries of its size
            even, odd = frames[item, :, 0], frames[item, :, 1]
            torch.mm(d1[item], both, out=odd)
            even.copy_(odd).addmm_(before[item], second)
            odd.addmm_(after[item], first)
        return self.trimmed(conv, frames.view(B, 2 * pairs * s, conv.out_channels), T)

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
