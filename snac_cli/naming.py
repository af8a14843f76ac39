"""How a `.snac` file names the model that made it (torch-free: a folder run compares names, to skip what
is up to date, before it loads anything)."""

from __future__ import annotations

from pathlib import Path


def model_id(name: str) -> str:
    """Short names and repo ids as given, local folders as absolute paths."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name
