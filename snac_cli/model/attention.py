"""Local windowed multi-head self-attention with rotary position embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoFormer) over positions 0..n-1 of each window."""

    def __init__(self, dim_head: int):
        super().__init__()
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim_head, 2).float() / dim_head))
        self.register_buffer("inv_freq", inv_freq)  # saved in the checkpoints as rel_pos.inv_freq

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate x (..., n, dim_head) by its position along n."""
        inv_freq: torch.Tensor = self.inv_freq  # type: ignore[assignment]  # a buffer
        positions = torch.arange(x.shape[-2], device=x.device).type_as(inv_freq)
        angles = torch.outer(positions, inv_freq)  # (n, dim_head / 2)
        angles = torch.cat((angles, angles), dim=-1)  # (n, dim_head)
        first, second = x.chunk(2, dim=-1)
        return x * angles.cos() + torch.cat((-second, first), dim=-1) * angles.sin()


class LocalMHA(nn.Module):
    """Pre-norm self-attention inside non-overlapping windows of `window_size` steps, with a residual."""

    def __init__(self, dim: int, window_size: int, dim_head: int = 64):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.heads = dim // dim_head
        self.window_size = window_size
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.rel_pos = RotaryEmbedding(dim_head)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, T) with T a multiple of the window size."""
        h = self.norm(x.transpose(1, 2))  # (B, T, C)
        # Windows as batch items, (B W, H, n, D): the 4-D attention that every exporter (ONNX) takes.
        q, k, v = (
            rearrange(t, "b (w n) (h d) -> (b w) h n d", n=self.window_size, h=self.heads)
            for t in self.to_qkv(h).chunk(3, dim=-1)
        )
        out = F.scaled_dot_product_attention(self.rel_pos(q), self.rel_pos(k), v)  # (B W, H, n, D)
        out = rearrange(out, "(b w) h n d -> b (w n) (h d)", b=x.shape[0])
        return self.to_out(out).transpose(1, 2) + x
