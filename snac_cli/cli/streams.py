"""The CLI's files and streams: `-` for stdin and stdout, outputs checked before any work, and errors that
name the file they are about."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from snac_cli.errors import ContainerError, InputError, OutputError, UsageError

if TYPE_CHECKING:
    from snac_cli.format.container import SnacFile


def check_output(path: str, force: bool, *inputs: str) -> None:
    """Refuse to clobber an existing output (or an input) before doing any work."""
    if path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{path}: is a directory")
    if any(i != "-" and Path(i).exists() and target.exists() and target.samefile(i) for i in inputs):
        raise OutputError(f"{path}: output would overwrite the input")
    if os.path.lexists(target) and not force:  # a symlink is an output that exists, even one to nowhere
        raise OutputError(f"{path}: exists (use --force to overwrite)")
    if not target.parent.is_dir():
        raise OutputError(f"{path}: no such directory {target.parent}")


def binary_input(path: str) -> contextlib.AbstractContextManager[BinaryIO]:
    """An input file (or stdin) opened for reading; every way it cannot be is an input error."""
    if path == "-":
        return contextlib.nullcontext(binary_stdin())
    if not Path(path).exists():
        raise InputError(f"{path}: no such file")
    if Path(path).is_dir():
        raise InputError(f"{path}: is a directory")
    try:
        return open(path, "rb")
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror or e})") from None


def audio_input(path: str) -> str | BinaryIO:
    """An audio input as the reader takes it: the path (libsndfile opens it by name), or stdin for `-`."""
    return binary_stdin() if path == "-" else path


def closed(stream: IO[str] | None) -> bool:
    """Whether a standard stream is missing or its descriptor closed (`snac ... >&-`: Python then makes it
    None). A stream with no descriptor at all (a test's capture) is open."""
    if stream is None:
        return True
    try:
        os.fstat(stream.fileno())
    except io.UnsupportedOperation:
        return False
    except (OSError, ValueError):
        return True
    return False


def binary_stdin() -> BinaryIO:
    """stdin for reading (`-`), refused when it is closed or a terminal."""
    if closed(sys.stdin):
        raise InputError("stdin: is closed; give an input file, or feed stdin")
    if sys.stdin.isatty():  # as gzip refuses it: snac would wait, silent, for data nobody types
        raise UsageError("refusing to read data from a terminal; pipe or redirect it, or name an input file")
    return sys.stdin.buffer


def stdout() -> BinaryIO:
    """stdout for writing (`-`), refused when it is closed."""
    if closed(sys.stdout):
        raise OutputError("stdout: is closed; name an output file, or redirect stdout")
    return sys.stdout.buffer


def binary_stdout() -> BinaryIO:
    """stdout for binary data, refused on a terminal (as gzip does): the bytes would only garble it."""
    out = stdout()
    if sys.stdout.isatty():
        raise UsageError("refusing to write binary data to a terminal; redirect it, or name an output file")
    return out


def binary_output(path: str) -> str | BinaryIO:
    """An output as the writers take it: the path, or stdout for `-`."""
    return binary_stdout() if path == "-" else path


@contextlib.contextmanager
def named(name: str) -> Iterator[None]:
    """Errors about a .snac file's contents name the file (the format's own messages cannot)."""
    try:
        yield
    except ContainerError as e:
        raise ContainerError(f"{shown(name)}: {e}") from None


def shown(path: str) -> str:
    """A file as errors name it: `-` is stdin."""
    return "stdin" if path == "-" else path


def read_snac_input(name: str) -> SnacFile:
    """A whole `.snac` file from a path or stdin, its errors naming it."""
    from snac_cli.format.container import read_snac

    with binary_input(name) as stream, named(name):
        return read_snac(stream)


def check_audio_format(audio_format: str | None, input: str, output: str | None, files_from: str | None) -> str:
    """The format `decode --format` names (wav by default), refused where the output cannot carry it: stdout
    carries WAV or raw PCM only, and a file's format is its extension's."""
    from snac_cli.audio.writer import FORMATS

    fmt = (audio_format or "wav").lower().lstrip(".")
    if output == "-" and fmt not in ("wav", "raw"):
        raise UsageError(f"--format {audio_format}: stdout carries wav or raw only; write a file to get {fmt}")
    one_file = output not in (None, "-") and files_from is None and not Path(input).is_dir() and fmt != "raw"
    extension = Path(output or "").suffix.lower().lstrip(".")
    if audio_format is not None and one_file and extension in FORMATS and FORMATS[extension] != FORMATS.get(fmt):
        raise UsageError(f"--format {audio_format} for {output}: a file's format is its extension's")
    return fmt
