"""The canonical side of benchmarks/dataset.py: the widely copied Orpheus TTS data preparation, one clip at a time.

    python benchmarks/orpheus_prep.py DATA.parquet MODEL_FOLDER OUT.parquet

For each row of a table in the Hugging Face `datasets` Audio layout (`audio` = {bytes, path}): decode the
bytes with soundfile, mix to mono, resample to 24 kHz, `model.encode` a [1, 1, T] tensor with the reference
SNAC 1.2.1 under `torch.inference_mode()`, then build the 7 tokens of each frame in Python with `.item()`
calls and an offset of 128266 + position x 4096, as the Orpheus script does; a row that fails gets nulls (the
script's `try: ... except: print("Skipping row")`). Writes `id`, `codes_0..2` and `tokens` to OUT at the end.

Two departures from the script, so that the input is the very one `snac encode` codes: the Orpheus script
resamples with torchaudio's `Resample`; here it is `soxr.resample(..., quality="HQ")`, the filter `snac`
resamples with (soxr's VHQ would give other samples, so other codes), and the bytes are decoded with
soundfile rather than by `datasets` (which decodes with soundfile or torchcodec, depending on its version).
The script runs as its own process, so that its start-up, model load and table reading are timed too.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import snac
import soundfile as sf
import soxr
import torch

RATE = 24000
BASE = 128266
QUALITY = "HQ"  # soxr's filter in snac_cli.audio.resample: the same input samples as `snac encode`


def tokenise_audio(model: torch.nn.Module, audio: np.ndarray, rate: int) -> tuple[list[list[int]], list[int]]:
    """Codes (per scale, as lists) and the 7 Orpheus tokens per frame of one clip."""
    if audio.ndim == 2:
        audio = audio.mean(axis=1, dtype=np.float32)  # mix to mono
    if rate != RATE:
        audio = soxr.resample(audio, rate, RATE, quality=QUALITY)
    waveform = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None, None]
    with torch.inference_mode():
        codes = model.encode(waveform)
    all_codes = []
    for i in range(codes[0].shape[1]):
        all_codes.append(codes[0][0][i].item() + BASE)
        all_codes.append(codes[1][0][2 * i].item() + BASE + 4096)
        all_codes.append(codes[2][0][4 * i].item() + BASE + (2 * 4096))
        all_codes.append(codes[2][0][(4 * i) + 1].item() + BASE + (3 * 4096))
        all_codes.append(codes[1][0][(2 * i) + 1].item() + BASE + (4 * 4096))
        all_codes.append(codes[2][0][(4 * i) + 2].item() + BASE + (5 * 4096))
        all_codes.append(codes[2][0][(4 * i) + 3].item() + BASE + (6 * 4096))
    return [c[0].tolist() for c in codes], all_codes


def main(data: str, folder: str, out: str) -> None:
    model = snac.SNAC.from_pretrained(folder).eval()
    ids, scales, tokens = [], [[], [], []], []
    for batch in pq.ParquetFile(data).iter_batches(columns=["id", "audio"]):
        for row in batch.to_pylist():
            ids.append(row["id"])
            try:
                audio, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="float32")
                codes, row_tokens = tokenise_audio(model, audio, rate)
            except Exception as e:  # the script's own handling: skip the row, keep going
                print(f"Skipping row due to error: {e}", file=sys.stderr)
                codes, row_tokens = [None, None, None], None
            for scale, c in zip(scales, codes, strict=True):
                scale.append(c)
            tokens.append(row_tokens)
    table = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            **{f"codes_{k}": pa.array(c, pa.list_(pa.int32())) for k, c in enumerate(scales)},
            "tokens": pa.array(tokens, pa.list_(pa.int64())),
        }
    )
    pq.write_table(table, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
