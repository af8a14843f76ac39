"""`snac info`: what a `.snac` file holds, ffprobe-style (numpy only, never torch)."""

from __future__ import annotations

import math
from typing import Any, BinaryIO

from snac_cli.format.container import VERSION, SnacReader


class Counting:
    """A read-only stream wrapper that counts the bytes read."""

    def __init__(self, stream: BinaryIO):
        self.stream, self.count = stream, 0

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.count += len(data)
        return data


def describe(stream: BinaryIO, name: str) -> dict[str, Any]:
    """Read a `.snac` stream through, verifying every checksum, and summarize it."""
    counting = Counting(stream)
    reader = SnacReader(counting)  # type: ignore[arg-type]
    for _ in reader.chunks():
        pass
    h = reader.header
    assert reader.original_length is not None
    duration = reader.original_length / h.original_sample_rate
    frames = [reader.frames * per_frame for per_frame in h.codes_per_frame]
    codes_per_second = sum(frames) * h.channels / duration if duration else 0.0
    return {
        "file": name,
        "size_bytes": counting.count,
        "format_version": VERSION,
        "tool_version": h.tool_version,
        "model": h.model,
        "config_fingerprint": h.fingerprint,
        "sample_rate": h.sample_rate,
        "original_sample_rate": h.original_sample_rate,
        "channels": h.channels,
        "original_channels": h.original_channels,
        "duration_seconds": duration,
        "original_samples": reader.original_length,
        "codebook_size": h.codebook_size,
        "bits_per_code": h.bits,
        "vq_strides": list(h.vq_strides),
        "frames_per_scale": frames,
        "codes_per_second": codes_per_second,
        "codes_kbps": codes_per_second * math.log2(h.codebook_size) / 1000,
        "file_kbps": counting.count * 8 / duration / 1000 if duration else 0.0,
        "gain_db": 20 * math.log10(h.gain),
        "checksums": "ok",
        "metadata": h.metadata,
    }


def shown(text: str) -> str:
    """Text from a file as one printable line: newlines, terminal escapes and other unprintable characters are
    written as escapes (`\\n`, `\\x1b`), so that a file cannot fake lines or drive the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode() for c in text)


def render(s: dict[str, Any]) -> str:
    """The summary as aligned `key: value` lines, every string from the file escaped."""
    channels = f"{s['channels']}" + (
        f" (mixed down from {s['original_channels']})" if s["channels"] != s["original_channels"] else ""
    )
    lines = [
        ("File", f"{shown(s['file'])} ({s['size_bytes']:,} bytes)"),
        ("Format", f".snac version {s['format_version']}, written by snac {shown(s['tool_version'])}"),
        ("Model", f"{shown(s['model'])} (config {s['config_fingerprint']})"),
        ("Sample rate", f"{s['sample_rate']} Hz model, {s['original_sample_rate']} Hz original"),
        ("Channels", channels),
        ("Duration", f"{s['duration_seconds']:.3f} s ({s['original_samples']:,} samples)"),
        (
            "Codebooks",
            f"{len(s['vq_strides'])} x {s['codebook_size']} codes ({s['bits_per_code']} bits), "
            f"strides {', '.join(map(str, s['vq_strides']))}",
        ),  # fmt: skip
        ("Frames", " / ".join(f"{n:,}" for n in s["frames_per_scale"]) + " per scale"),
        ("Codes", f"{s['codes_per_second']:.1f} per second"),
        ("Bitrate", f"{s['codes_kbps']:.3f} kbps codes, {s['file_kbps']:.3f} kbps file"),
        ("Gain", f"{s['gain_db']:+.2f} dB (undone on decode)"),
        ("Checksums", s["checksums"]),
    ]
    lines += [(f"meta:{shown(k)}", shown(v)) for k, v in s["metadata"].items()]
    width = max(len(k) for k, _ in lines) + 1
    return "\n".join(f"{k + ':':<{width}} {v}" for k, v in lines)
