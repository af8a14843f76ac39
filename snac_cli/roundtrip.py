"""`snac roundtrip`: encode and decode in one go, timed, with the reconstruction's quality."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .audio import AudioReader, check_output_format, write_stream
from .codec import ProgressBar, decode, encode, load_model, model_id, no_progress_bar
from .container import SnacReader
from .files import atomic_output
from .metrics import mel_distance, si_sdr


def run_roundtrip(
    input: str,
    output: str,
    model_name: str,
    device: str = "auto",
    normalize: str = "loudness",
    channels: str = "mix",
    seed: int = 0,
    snac_path: str | None = None,
    progress_bar: ProgressBar | None = None,
    precision: str = "fp32",
) -> dict[str, Any]:
    """Encode `input`, decode it to `output` (and keep the codes at `snac_path`); return the report.

    `progress_bar(description, seconds, rate)`, if given, opens a display and yields its callback.
    """
    if progress_bar is None:
        progress_bar = no_progress_bar
    with AudioReader(input) as audio:
        check_output_format(output, None, audio.sample_rate, audio.channels)  # before the model loads
        model = load_model(model_name, device, precision)
        original = audio.read()
        buffer = io.BytesIO()
        seconds = original.frames / original.sample_rate
        with progress_bar("encoding", seconds, model.sampling_rate) as progress:
            start = time.perf_counter()
            header = encode(model, model_id(model_name), audio, buffer, channels, normalize, progress=progress)
            encode_seconds = time.perf_counter() - start
    buffer.seek(0)
    with progress_bar("decoding", seconds, model.sampling_rate) as progress:
        start = time.perf_counter()
        decoded = decode(model, SnacReader(buffer), seed=seed, progress=progress)
        reconstruction = np.concatenate(list(decoded.blocks), axis=1)
        decode_seconds = time.perf_counter() - start
    write_stream(output, [reconstruction], decoded.sample_rate, decoded.channels)
    if snac_path:
        with atomic_output(Path(snac_path)) as stream:
            stream.write(buffer.getvalue())
    codes_per_second = sum(model.sampling_rate / model.hop_length / s for s in model.vq_strides) * header.channels
    return {
        "input": input,
        "output": output,
        "snac": snac_path,
        "model": model_name,
        "device": str(next(model.parameters()).device),
        "precision": precision,
        "duration_seconds": seconds,
        "sample_rate": original.sample_rate,
        "channels": original.channels,
        "coded_channels": header.channels,
        "tokens_per_second": codes_per_second,
        "bitrate_kbps": codes_per_second * math.log2(model.codebook_size) / 1000,
        "snac_bytes": len(buffer.getvalue()),
        "encode_seconds": encode_seconds,
        "decode_seconds": decode_seconds,
        "encode_x_realtime": seconds / encode_seconds,
        "decode_x_realtime": seconds / decode_seconds,
        "si_sdr_db": si_sdr(original.samples, reconstruction),
        "mel_distance": mel_distance(original.samples, reconstruction, original.sample_rate),
        "gain_db": 20 * math.log10(header.gain),
    }


def render_report(r: dict[str, Any]) -> None:
    """The report as a small table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None, padding=(0, 2))
    rows = [
        ("input", f"{r['input']} ({r['duration_seconds']:.2f} s, {r['sample_rate']} Hz, {r['channels']} ch)"),
        ("output", r["output"] + (f"  (codes: {r['snac']})" if r["snac"] else "")),
        ("model", f"{r['model']} on {r['device']}"),
        ("bitrate", f"{r['bitrate_kbps']:.2f} kbps, {r['tokens_per_second']:.1f} tokens/s, {r['snac_bytes']:,} bytes"),
        ("encode", f"{r['encode_seconds']:.2f} s ({r['encode_x_realtime']:.1f}x real time)"),
        ("decode", f"{r['decode_seconds']:.2f} s ({r['decode_x_realtime']:.1f}x real time)"),
        ("SI-SDR", f"{r['si_sdr_db']:.2f} dB"),
        ("mel distance", f"{r['mel_distance']:.3f} (0 = identical)"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)
