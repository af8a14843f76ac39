"""`SNAC.encode` / `decode` of snac-cli against the reference SNAC 1.2.1, as a Python API user runs them.

    uv run python -m benchmarks.api --models 24khz 32khz --seconds 10 --repeats 7

Both models load from one checkpoint (random weights in the official layout: speed does not depend on the
weights) into one plain process: no allocator setting, torch's default threads. They run in turn (reference,
ours, reference, ours, ...) after a warm-up, so that both meet the same machine state; the table gives
medians and the ratio reference / ours. Decoding decodes the reference's codes under the same seed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.common import parser, table
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint
from tests.helpers.signals import speech_like


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def compare(name: str, folder: Path, seconds: float, repeats: int) -> list[str]:
    """Table rows for one model: encode and decode, reference and ours."""
    import snac

    from snac_cli import SNAC

    reference, ours = snac.SNAC.from_pretrained(str(folder)).eval(), SNAC.from_pretrained(folder)
    rate = ours.sampling_rate
    audio = torch.from_numpy(speech_like(rate, int(seconds * rate)))[None, None]
    with torch.inference_mode():
        expected = reference.encode(audio)
    codes = ours.encode(audio)
    equal = all(torch.equal(a, b) for a, b in zip(codes, expected, strict=True))

    def decode_with(model: torch.nn.Module) -> torch.Tensor:
        torch.manual_seed(0)
        with torch.inference_mode():
            return model.decode(expected)

    difference = (decode_with(ours) - decode_with(reference)).abs().max().item()
    runs = {
        "encode": (lambda: reference.encode(audio), lambda: ours.encode(audio)),
        "decode": (lambda: decode_with(reference), lambda: decode_with(ours)),
    }
    rows = []
    for op, (theirs, mine) in runs.items():
        times: dict[str, list[float]] = {"reference": [], "ours": []}
        for _ in range(repeats):
            with torch.inference_mode():
                times["reference"].append(timed(theirs))
                times["ours"].append(timed(mine))
        ref, own = statistics.median(times["reference"]), statistics.median(times["ours"])
        same = f"codes identical: {equal}" if op == "encode" else f"max audio difference {difference:.1e}"
        rows.append(f"| {name} | {op} | {ref:.3f} | {own:.3f} | {ref / own:.2f}x | {same} |")
    return rows


def main() -> None:
    args = parser(__doc__, seconds=10.0, repeats=7).parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.seconds:g} s of speech-like audio, "
          f"median of {args.repeats} alternating runs, no allocator setting")  # fmt: skip
    print()
    table("model", "op", "reference s", "ours s", "speedup", "result")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for row in compare(name, make_checkpoint(Path(tmp) / name, OFFICIAL[name]), args.seconds, args.repeats):
                print(row, flush=True)


if __name__ == "__main__":
    main()
