"""snac-cli: a command-line neural audio codec built on SNAC.

Heavy modules (torch) load on first use of the names that need them, so that `snac --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from snac_cli.model import SNAC, CheckpointError, ModelNotFoundError, SNACConfig

_LAZY = {"SNAC", "SNACConfig", "CheckpointError", "ModelNotFoundError"}

__all__ = ["SNAC", "CheckpointError", "ModelNotFoundError", "SNACConfig", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from snac_cli import model

        return getattr(model, name)
    raise AttributeError(f"module 'snac_cli' has no attribute {name!r}")
