"""The codec as a library, the one implementation under the CLI, the folder runs and Ray: files and
streams in, files and streams out. It may import the engine, audio, format and model layers, never the CLI.

    from snac_cli.codec import encode_file, decode_file  # --model ONNX_DIR: ONNX models, no torch
    from snac_cli.settings import EncodeSettings, ModelSettings
    encode_file("speech.wav", "speech.snac", EncodeSettings(normalize="none"), model=ModelSettings("24khz"))
    with open("speech.snac", "rb") as codes:
        decode_file(codes, "speech.24khz.wav")
"""

from typing import TYPE_CHECKING, Any

from snac_cli.codec.coders import Coder, load_coder
from snac_cli.codec.decoding import Decoded, decode, decode_file
from snac_cli.codec.encoding import encode, encode_clips, encode_file
from snac_cli.codec.models import frame_samples, header_for, load_model
from snac_cli.codec.roundtrip import roundtrip
from snac_cli.naming import model_id

if TYPE_CHECKING:
    from snac_cli.engine.push_batcher import PushBatcher  # decodes and streams sharing forward passes

__all__ = [
    "Coder", "Decoded", "decode", "decode_file", "encode", "encode_clips", "encode_file", "frame_samples",
    "header_for", "load_coder", "load_model", "model_id", "PushBatcher", "roundtrip",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name == "PushBatcher":  # PyTorch's: loaded on first use, so that the codec imports without torch
        from snac_cli.engine.push_batcher import PushBatcher

        return PushBatcher
    raise AttributeError(f"module 'snac_cli.codec' has no attribute {name!r}")
