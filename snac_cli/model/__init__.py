"""SNAC: the network (encoder, residual vector quantizer, decoder), its checkpoints, its receptive field and
its fast inference path: a PyTorch implementation that loads the official checkpoints unchanged.

Stands alone: imports nothing of snac_cli outside this folder. Its configs and checkpoint files are found and
read without torch (`snac cut`, `concat`, `import` need no runtime); `SNAC` loads torch on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import PRETRAINED, SNACConfig
from .pretrained import CheckpointError, ModelNotFoundError

if TYPE_CHECKING:
    from .snac import SNAC

__all__ = ["PRETRAINED", "SNAC", "CheckpointError", "ModelNotFoundError", "SNACConfig"]


def __getattr__(name: str) -> Any:
    if name == "SNAC":
        from .snac import SNAC

        return SNAC
    raise AttributeError(f"module 'snac_cli.model' has no attribute {name!r}")
