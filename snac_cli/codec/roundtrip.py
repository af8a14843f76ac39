"""`snac roundtrip`: encode and decode in one go, timed, with the reconstruction's quality."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from snac_cli.audio.metrics import mel_distance, si_sdr
from snac_cli.audio.reader import AudioReader
from snac_cli.audio.writer import check_output_format, write_stream
from snac_cli.codec.coders import load_coder
from snac_cli.codec.decoding import decode
from snac_cli.codec.encoding import encode_file
from snac_cli.files import atomic_output
from snac_cli.format.container import SnacReader
from snac_cli.progress import Progress, silent
from snac_cli.settings import DEFAULT_MODEL, DecodeSettings, EncodeSettings, ModelSettings


def roundtrip(
    input: str,
    output: str,
    settings: EncodeSettings = EncodeSettings(),
    *,
    model: ModelSettings = ModelSettings(),
    seed: int = 0,
    snac_path: str | None = None,
    progress: Progress = silent,
) -> dict[str, Any]:
    """Encode `input`, decode it to `output` (and keep the codes at `snac_path`); return the report: speed,
    bitrate and the reconstruction's quality."""
    with AudioReader(input) as audio:
        check_output_format(output, None, audio.sample_rate, audio.channels)  # before the model loads
        original = audio.read()
    buffer = io.BytesIO()
    coder = load_coder(model)  # loaded before the clock starts (encode_file finds it loaded)
    facts = coder.facts
    start = time.perf_counter()
    header = encode_file(input, buffer, settings, model=model, progress=progress)
    encode_seconds = time.perf_counter() - start
    seconds = original.length / original.sample_rate
    buffer.seek(0)
    with progress("decoding", seconds, "s") as advance:
        start = time.perf_counter()
        decoded = decode(
            coder, SnacReader(buffer), DecodeSettings(seed=seed),
            advance=lambda samples: advance(samples / facts.sample_rate),
        )  # fmt: skip
        reconstruction = np.concatenate(list(decoded.blocks), axis=1)
        decode_seconds = time.perf_counter() - start
    write_stream(output, [reconstruction], decoded.sample_rate, decoded.channels)
    if snac_path:
        with atomic_output(Path(snac_path)) as stream:
            stream.write(buffer.getvalue())
    codes_per_second = sum(facts.sample_rate / coder.hop_length / s for s in facts.vq_strides) * header.channels
    return {
        "input": input,
        "output": output,
        "snac": snac_path,
        "model": model.name or DEFAULT_MODEL,
        "device": coder.device,
        "precision": model.precision.value,
        "duration_seconds": seconds,
        "sample_rate": original.sample_rate,
        "channels": original.channels,
        "coded_channels": header.channels,
        "tokens_per_second": codes_per_second,
        "bitrate_kbps": codes_per_second * math.log2(facts.codebook_size) / 1000,
        "snac_bytes": len(buffer.getvalue()),
        "encode_seconds": encode_seconds,
        "decode_seconds": decode_seconds,
        "encode_x_realtime": seconds / encode_seconds,
        "decode_x_realtime": seconds / decode_seconds,
        "si_sdr_db": si_sdr(original.samples, reconstruction),
        "mel_distance": mel_distance(original.samples, reconstruction, original.sample_rate),
        "gain_db": 20 * math.log10(header.gain),
    }
