"""Residual vector quantization with a temporal stride per codebook (coarse to fine)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import wn_conv1d


class VectorQuantize(nn.Module):
    """One codebook: average-pool by `stride`, project to `codebook_dim`, nearest code by cosine distance."""

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.in_proj = wn_conv1d(input_dim, codebook_dim, kernel_size=1)
        self.out_proj = wn_conv1d(codebook_dim, input_dim, kernel_size=1)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z: (B, D, T) -> (quantized z (B, D, T), codes (B, T / stride))."""
        if self.stride > 1:
            z = F.avg_pool1d(z, self.stride, self.stride)
        z_e = self.in_proj(z)  # (B, codebook_dim, T / stride)
        codes = self.nearest_codes(z_e)
        z_q = self.lookup(codes)
        z_q = z_e + (z_q - z_e).detach()  # straight-through estimator; also rounds as the reference does
        return self.out_proj(z_q).repeat_interleave(self.stride, dim=-1), codes

    def nearest_codes(self, z_e: torch.Tensor) -> torch.Tensor:
        """Index of the nearest L2-normalized codebook vector for each frame of z_e (B, d, T) -> (B, T)."""
        B, d, T = z_e.shape
        e = F.normalize(z_e.transpose(1, 2).reshape(B * T, d))  # (B*T, d)
        c = F.normalize(self.codebook.weight)  # (N, d)
        # Full squared distance, not just e @ c.T: the same rounding as the reference, so the same codes.
        dist = e.pow(2).sum(1, keepdim=True) - 2 * e @ c.t() + c.pow(2).sum(1, keepdim=True).t()
        return dist.argmin(dim=1).view(B, T)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codebook vectors for codes (B, T) -> (B, codebook_dim, T)."""
        return F.embedding(codes, self.codebook.weight).transpose(1, 2)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, T) -> their contribution to the latent, (B, D, T * stride)."""
        return self.out_proj(self.lookup(codes)).repeat_interleave(self.stride, dim=-1)


class ResidualVectorQuantize(nn.Module):
    """Each codebook quantizes what the coarser ones left over; the latent is the sum of their outputs."""

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int, vq_strides: tuple[int, ...]):
        super().__init__()
        self.quantizers = nn.ModuleList(
            VectorQuantize(input_dim, codebook_size, codebook_dim, stride) for stride in vq_strides
        )

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """z: (B, D, T) -> (quantized z, one code tensor (B, T / stride_i) per codebook)."""
        z_q: torch.Tensor | float = 0.0
        residual = z
        codes = []
        for quantizer in self.quantizers:
            z_q_i, codes_i = quantizer(residual)
            z_q = z_q + z_q_i
            residual = residual - z_q_i
            codes.append(codes_i)
        assert isinstance(z_q, torch.Tensor)
        return z_q, codes

    def from_codes(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """The quantized latent (B, D, T) that the codes stand for."""
        z_q: torch.Tensor | float = 0.0
        for quantizer, codes_i in zip(self.quantizers, codes, strict=True):
            z_q = z_q + quantizer.decode(codes_i)  # type: ignore[operator]  # a module's method
        assert isinstance(z_q, torch.Tensor)
        return z_q
