"""Writing outputs safely: a failure never leaves a partial file nor destroys an existing one."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from snac_cli.errors import OutputError

PART = ".part"


@contextmanager
def atomic_output(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that replaces `target` only when the block completes; on any error it vanishes."""
    path = Path(target)
    directory = path.parent
    try:  # the owner's pid in the name: a sweep leaves the partial files of live runs alone
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=PART, dir=directory)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, output_mode(path))  # mkstemp makes 0600 files
        os.replace(temporary, path)
    except OSError as e:
        Path(temporary).unlink(missing_ok=True)
        if e.filename not in (None, temporary):  # an input's error, raised in the block
            raise
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None  # named as the user named it
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def partial_of(name: str) -> str | None:
    """The output that a file named `name` was a partial write of (`.NAME.PID-random.part`), else None."""
    if not (name.startswith(".") and name.endswith(PART)):
        return None
    stem, dot, _ = name[1 : -len(PART)].rpartition(".")
    return stem if dot and stem else None


def owner_alive(name: str) -> bool:
    """Whether the process that is writing the partial file `name` still runs (on this machine)."""
    owner, dash, _ = name[1 : -len(PART)].rpartition(".")[2].partition("-")
    if not (dash and owner.isdigit()):
        return False  # no owner in the name
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return int(owner) < (1 << 22)  # another user's live process; an absurd pid is no process
    return True


def sweep_partials(paths: list[Path]) -> int:
    """Delete what killed runs left half-written for these outputs (an interrupt cleans up; SIGKILL cannot);
    returns how many files went. Each folder is listed once; live runs' partial files stay."""
    names: dict[Path, set[str]] = {}
    for path in paths:
        names.setdefault(path.parent, set()).add(path.name)
    removed = 0
    for folder, wanted in names.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if (
                partial_of(entry.name) in wanted
                and entry.is_file(follow_symlinks=False)
                and not owner_alive(entry.name)
            ):
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed


def output_mode(path: Path) -> int:
    """The permission bits an output gets: those of the file it replaces (`--force` keeps a file's mode),
    else the usual ones (0666 less the umask)."""
    try:
        return stat.S_IMODE(path.stat().st_mode) & 0o777
    except OSError:  # none there (or a symlink to nowhere)
        return 0o666 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
