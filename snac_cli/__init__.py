"""snac-cli: a command-line neural audio codec built on SNAC.

    from snac_cli import SNAC, tune_allocator
    tune_allocator()  # once, first thing: the CLI's memory setting, up to 2x faster CPU inference
    model = SNAC.from_pretrained("24khz")
    codes = model.encode(audio)  # (B, 1, T) -> one (B, T_i) tensor per scale

Files and streams: `snac_cli.codec`; folders: `snac_cli.batch`; the layers: docs/architecture.md. Heavy
modules (torch) load on first use of the names that need them, so that `snac --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from snac_cli.engine.allocator import tune_allocator

__version__ = "0.1.0"

if TYPE_CHECKING:
    from snac_cli.model import SNAC, CheckpointError, ModelNotFoundError, SNACConfig

_LAZY = {"SNAC", "SNACConfig", "CheckpointError", "ModelNotFoundError"}

__all__ = ["SNAC", "CheckpointError", "ModelNotFoundError", "SNACConfig", "__version__", "tune_allocator"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from snac_cli import model

        return getattr(model, name)
    raise AttributeError(f"module 'snac_cli' has no attribute {name!r}")
