"""Tokenize a folder of audio with Ray Data and snac's SnacEncoder; write codes and token rows to Parquet.

    uv run --extra ray python examples/ray_tokenize.py CORPUS_DIR OUT_DIR [--model 24khz] [--address auto]

Without --address this starts a local Ray; with one it joins a cluster (the corpus must then be on storage
every node sees). For the same thing as a command: snac encode CORPUS_DIR OUT_DIR --ray[=ADDRESS].
"""

from __future__ import annotations

import argparse

import numpy as np
import ray

from snac_cli.batch.ray_data import SnacEncoder
from snac_cli.format.container import read_snac
from snac_cli.format.tokens import to_tokens


def add_tokens(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Orpheus-style tokens of each row's first channel: depth-first per frame, position offsets."""
    tokens = []
    for row in range(len(batch["path"])):
        if batch["error"][row]:
            tokens.append(np.zeros(0, dtype=np.int64))
            continue
        snac = read_snac(bytes(batch["snac"][row]))
        first_channel = [codes[0] for codes in snac.codes]
        tokens.append(to_tokens(first_channel, snac.vq_strides, snac.codebook_size, "position", base=128266))
    batch["tokens"] = np.array(tokens + [None], dtype=object)[:-1]
    return batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("out")
    parser.add_argument("--model", default="24khz")
    parser.add_argument("--address", default=None)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    ray.init(address=args.address)
    ds = ray.data.read_binary_files(args.corpus, include_paths=True, file_extensions=["wav", "flac", "ogg", "mp3"])
    ds = ds.map_batches(
        SnacEncoder, fn_constructor_kwargs={"model": args.model}, batch_size=16, concurrency=args.workers
    )
    ds = ds.map_batches(add_tokens, batch_size=16)
    ds.drop_columns(["snac"]).write_parquet(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
