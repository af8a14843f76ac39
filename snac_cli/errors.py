"""The errors snac reports to users, each with the exit code the command line gives it."""

from __future__ import annotations


class SnacError(Exception):
    """Something the user can act on; the message is one line, fit for stderr."""

    exit_code = 1


class UsageError(SnacError, ValueError):
    """A request this machine or this snac cannot honour as asked (an unknown device, say)."""

    exit_code = 2


class InputError(SnacError, ValueError):
    """An input that cannot be read or used."""

    exit_code = 3


class AudioError(InputError):
    """Audio that cannot be read, used or written."""


class ContainerError(InputError):
    """A file that is not a valid `.snac` file: foreign, truncated or corrupted."""


class ModelError(SnacError):
    """A model that cannot be found or loaded, or that does not fit the file."""

    exit_code = 4


def one_line(error: BaseException) -> str:
    """An error's message on one line (pyarrow's and libsndfile's span several); its class when it has none."""
    return " ".join(str(error).split()) or type(error).__name__


def described(error: BaseException) -> str:
    """An error said in one line, the class named when it is not one of ours nor the system's (a bug reads as
    `KeyError: 'x'`, not as `'x'`)."""
    message = one_line(error)
    return message if isinstance(error, (SnacError, OSError)) else f"{type(error).__name__}: {message}"


class OutputError(SnacError):
    """An output that cannot or may not be written."""

    exit_code = 5
