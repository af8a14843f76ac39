"""SNAC: the network (encoder, residual vector quantizer, decoder), its checkpoints, its receptive field and
its fast inference path: a PyTorch implementation that loads the official checkpoints unchanged.

Stands alone: imports nothing of snac_cli outside this folder.
"""

from .config import PRETRAINED, SNACConfig
from .pretrained import CheckpointError, ModelNotFoundError
from .snac import SNAC

__all__ = ["PRETRAINED", "SNAC", "CheckpointError", "ModelNotFoundError", "SNACConfig"]
