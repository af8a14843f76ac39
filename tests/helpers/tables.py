"""Tables for tests: audio clips as a file's bytes, and a Parquet table in the Hugging Face Audio layout."""

from __future__ import annotations

import io
from pathlib import Path

import soundfile as sf

from tests.helpers.signals import speech_like

RATES = (16000, 22050, 24000)


def clip_bytes(rate: int, seconds: float, seed: int, fmt: str = "WAV") -> bytes:
    """A speech-like clip, as the bytes of an audio file."""
    buffer = io.BytesIO()
    sf.write(buffer, speech_like(rate, int(rate * seconds), seed=seed), rate, format=fmt)
    return buffer.getvalue()


def write_dataset(folder: Path, rows: int = 6) -> Path:
    """A Parquet table as `datasets` exports one: audio {bytes, path} (row 2 path-only, its file beside the
    table), text, speaker, id; row 4's bytes are not audio. Row groups of 4 rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "clips").mkdir(exist_ok=True)
    values = []
    for i in range(rows):
        rate = RATES[i % len(RATES)]
        data = clip_bytes(rate, 0.3 + 0.1 * (i % 6), seed=i, fmt="FLAC" if i % 2 else "WAV")
        audio = {"bytes": data, "path": f"clip{i}.wav"}
        if i == 2:  # path-only: read from the file, relative to the table's folder
            (folder / "clips" / "two.wav").write_bytes(data)
            audio = {"bytes": None, "path": "clips/two.wav"}
        if i == 4:
            audio = {"bytes": b"not audio at all", "path": "bad.wav"}
        values.append({"audio": audio, "text": f"line {i}", "speaker": f"s{i % 2}", "id": 100 + i})
    schema = pa.schema([("audio", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
                        ("text", pa.string()), ("speaker", pa.string()), ("id", pa.int64())])  # fmt: skip
    path = folder / "train.parquet"
    with open(path, "wb") as file:  # opened here: pyarrow takes only UTF-8 names
        pq.write_table(pa.Table.from_pylist(values, schema=schema), file, row_group_size=4)
    return path
