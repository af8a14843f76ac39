"""The report of `snac roundtrip`, as a table."""

from __future__ import annotations

from typing import Any


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
