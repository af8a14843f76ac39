"""What the benchmarks share: their command line and their Markdown tables."""

from __future__ import annotations

import argparse


def parser(doc: str | None, *, seconds: float | None = None, repeats: int | None = None) -> argparse.ArgumentParser:
    """A benchmark's arguments, `doc` as its help; with `seconds` and `repeats`, the model comparison's own."""
    parsed = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if seconds is not None:
        parsed.add_argument("--models", nargs="+", default=["24khz", "32khz"], choices=["24khz", "32khz", "44khz"])
        parsed.add_argument("--seconds", type=float, default=seconds, help="audio length")
    if repeats is not None:
        parsed.add_argument("--repeats", type=int, default=repeats)
    return parsed


def table(*columns: str) -> None:
    """A Markdown table's header; rows follow as `| a | b |` lines."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
