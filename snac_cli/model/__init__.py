"""The SNAC model: a PyTorch implementation that loads the official checkpoints unchanged."""

from .config import PRETRAINED, SNACConfig
from .pretrained import CheckpointError, ModelNotFoundError
from .snac import SNAC

__all__ = ["PRETRAINED", "SNAC", "CheckpointError", "ModelNotFoundError", "SNACConfig"]
