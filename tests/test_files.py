"""Safe outputs: a write is whole or absent, its errors name the file the user named, and partial files
record their owner so that only dead runs' leftovers are swept."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from snac_cli.errors import OutputError
from snac_cli.files import atomic_output, owner_alive, partial_of, sweep_partials


def test_an_output_that_cannot_be_created_is_named_as_the_user_named_it(tmp_path, monkeypatch):
    def denied(*args, prefix="", dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "xyz.part"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # as root, a read-only folder would not stop us
    with pytest.raises(OutputError) as error:
        with atomic_output(tmp_path / "a.snac"):
            pass
    assert str(error.value) == f"{tmp_path / 'a.snac'}: cannot write (Permission denied)"


def test_a_failed_write_names_the_target_and_leaves_nothing(tmp_path):
    with pytest.raises(OutputError, match=r"a\.snac: cannot write \(No space left on device\)"):
        with atomic_output(tmp_path / "a.snac") as out:
            out.write(b"half")
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_an_inputs_error_inside_the_block_stays_the_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_output(tmp_path / "a.snac"):
            open(tmp_path / "missing.wav", "rb")
    assert list(tmp_path.iterdir()) == []


def test_partial_files_carry_their_owners_pid(tmp_path):
    with atomic_output(tmp_path / "a.snac"):
        (name,) = [p.name for p in tmp_path.iterdir()]
        assert partial_of(name) == "a.snac" and f".{os.getpid()}-" in name and owner_alive(name)


def test_only_partial_files_of_processes_that_are_gone_are_swept(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    names = {
        f".a.snac.{os.getpid()}-k3x.part": True,  # this process: alive, kept
        f".a.snac.{gone.stdout.strip()}-k3x.part": False,  # exited: swept
        ".a.snac.k3x_9a2q.part": False,  # no owner recorded (an older snac): swept
        f".b.snac.{2**40}-k3x.part": False,  # no such process
    }
    for name in names:
        (tmp_path / name).write_bytes(b"half")
    sweep_partials([tmp_path / "a.snac", tmp_path / "b.snac"])
    assert {name: (tmp_path / name).exists() for name in names} == names
