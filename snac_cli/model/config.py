"""The model's hyper-parameters, mirroring the official checkpoints' ``config.json``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

# What a config may say. A config is a file like any input: `"decoder_dim": 1e9` or `"codebook_size": 2**40`
# would ask for terabytes, a rate of "16000" (a string) or -1 would fail far from its cause. The official
# models use dims up to 1536, strides up to 8, 4,096 codes.
MAX_LAYERS = 16
MAX_STRIDE = 1 << 10
MAX_DIM = 1 << 15
MAX_CODEBOOK_SIZE = 1 << 24  # what a .snac header holds
MAX_SAMPLING_RATE = 1 << 20  # 1,048,576 Hz, what a .snac header holds


def whole(name: str, value: object, low: int, high: int) -> int:
    """A config value that must be an integer in low..high (a boolean or a float is not)."""
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, not {str(value)[:40]}")
    return value


@dataclass(frozen=True)
class SNACConfig:
    """Hyper-parameters of a SNAC model; field names are the keys of ``config.json``."""

    sampling_rate: int = 44100
    encoder_dim: int = 64  # channels after the first conv; doubled by every encoder block
    encoder_rates: tuple[int, ...] = (3, 3, 7, 7)  # downsampling strides; their product is the hop
    latent_dim: int | None = None  # None: encoder_dim * 2 ** len(encoder_rates)
    decoder_dim: int = 1536  # channels before the first decoder block; halved by every block
    decoder_rates: tuple[int, ...] = (7, 7, 3, 3)
    attn_window_size: int | None = 32  # None: no local attention layers
    codebook_size: int = 4096
    codebook_dim: int = 8  # factorized codes: the latent is projected down before lookup
    vq_strides: tuple[int, ...] = (8, 4, 2, 1)  # temporal stride of each codebook, coarsest first
    noise: bool = True  # decoder noise blocks
    depthwise: bool = True  # depthwise (grouped) convolutions in the residual units

    def __post_init__(self) -> None:
        for name in ("encoder_rates", "decoder_rates", "vq_strides"):
            values = getattr(self, name)
            if not isinstance(values, (list, tuple)) or not 1 <= len(values) <= MAX_LAYERS:
                raise ValueError(f"{name} must be a list of 1 to {MAX_LAYERS} integers, not {str(values)[:40]}")
            object.__setattr__(self, name, tuple(whole(f"{name} item", v, 1, MAX_STRIDE) for v in values))
        whole("sampling_rate", self.sampling_rate, 1, MAX_SAMPLING_RATE)
        for name in ("encoder_dim", "decoder_dim", "codebook_dim"):
            whole(name, getattr(self, name), 1, MAX_DIM)
        whole("codebook_size", self.codebook_size, 2, MAX_CODEBOOK_SIZE)
        for name in ("latent_dim", "attn_window_size"):
            if getattr(self, name) is not None:
                whole(name, getattr(self, name), 1, MAX_DIM)
        for name in ("noise", "depthwise"):
            if type(getattr(self, name)) is not bool:
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if self.latent_dim is None:
            object.__setattr__(self, "latent_dim", self.encoder_dim * 2 ** len(self.encoder_rates))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SNACConfig:
        """Build a config from ``config.json`` contents; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The config as ``config.json`` would hold it (lists, not tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @property
    def hop_length(self) -> int:
        """Audio samples per latent frame."""
        return math.prod(self.encoder_rates)

    @property
    def pad_unit(self) -> int:
        """Input lengths must be a multiple of this: whole coarsest codes and whole attention windows."""
        return self.hop_length * math.lcm(self.vq_strides[0], self.attn_window_size or 1)

    def fingerprint(self) -> str:
        """A short, stable hash of the config, to tell models apart."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]


# The official checkpoints (hubertsiuzdak/snac_*), by short name.
PRETRAINED = {
    "24khz": "hubertsiuzdak/snac_24khz",
    "32khz": "hubertsiuzdak/snac_32khz",
    "44khz": "hubertsiuzdak/snac_44khz",
}
