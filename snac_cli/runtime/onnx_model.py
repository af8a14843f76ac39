"""A folder of ONNX models that `snac onnx` wrote, run by onnxruntime: checked whole when it is opened (its
config.json, each graph's file, each graph's inputs and outputs against what config.json says), then
encoding audio to codes and decoding codes to audio, with numpy alone."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from snac_cli.errors import ModelError, UsageError, one_line
from snac_cli.format.checks import ModelFacts
from snac_cli.runtime.noise import positional_noise
from snac_cli.runtime.step_decoder import StepDecoder
from snac_cli.windows import Advance, decoded_in_pushes, encoded_in_windows, whole_units

CONFIG = "config.json"
FORMAT = "snac-onnx"
VERSION = 2  # 2: the streaming step


def is_onnx_folder(name: str) -> bool:
    """Whether a model name is a folder of ONNX models (its config.json says so)."""
    config = Path(name) / CONFIG
    try:
        return config.is_file() and FORMAT in config.read_text()[:200]
    except OSError:
        return False


class OnnxModel:
    """The graphs of one SNAC model (encoder, decoder, streaming step), with the facts that drive them: what
    the codec runs for `--model ONNX_DIR` (codec/coders.py's `Coder`, as engine/coder.py's `TorchCoder`)."""

    def __init__(self, folder: str | Path, *, threads: int | None = None, optimization: str = "all"):
        """`threads`: onnxruntime's intra-op threads [default: its own choice, the cores]; `optimization`:
        its graph optimizations, "all", "extended", "basic" or "none"."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise UsageError("ONNX models need onnxruntime: pip install 'snac-cli[onnx]'") from None
        self.folder = Path(folder)
        self.config = read_config(self.folder)
        facts = self.config["facts"]
        self.sampling_rate, self.hop_length, self.pad_unit = (
            int(facts[k]) for k in ("sampling_rate", "hop_length", "pad_unit")
        )
        self.vq_strides = [int(s) for s in facts["vq_strides"]]
        self.latent_unit, self.codebook_size = int(facts["latent_unit"]), int(facts["codebook_size"])
        self.noise_rates = [int(r) for r in facts["noise_rates"]]
        self.windows = {k: int(v) for k, v in facts["windows"].items()}
        step = self.config["graphs"]["step"]
        self.step_delay, self.flush_steps = int(step["delay"]), int(step["flush_steps"])
        self.state_size = sum(int(s["channels"]) * int(s["steps"]) for s in step["state"])
        self.step_noises = [(int(n["rate"]), int(n["delay"])) for n in step["noise"]]  # as the step's inputs
        self.facts = ModelFacts(
            model="the one given", fingerprint=str(self.config["model"]["fingerprint"]), sample_rate=self.sampling_rate,
            codebook_size=self.codebook_size, vq_strides=tuple(self.vq_strides),
            frame_samples=self.hop_length * math.lcm(*self.vq_strides), pad_unit=self.pad_unit,
        )  # fmt: skip
        self.device = "cpu"
        options = ort.SessionOptions()
        options.log_severity_level = 4  # its failures are raised, and said once, in snac's words
        levels = {"all": "ORT_ENABLE_ALL", "extended": "ORT_ENABLE_EXTENDED", "basic": "ORT_ENABLE_BASIC",
                  "none": "ORT_DISABLE_ALL"}  # fmt: skip
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, levels[optimization])
        if threads:
            options.intra_op_num_threads = threads
        self.ort, self.options = ort, options
        self.sessions: dict[str, Any] = {}
        for graph in self.config["graphs"].values():  # each file there now; each opened when first used
            graph_file(self.folder, graph)

    def graph(self, name: str) -> Any:
        """The session of graph `name` ("encoder", "decoder", "step"), opened and checked on first use (the
        three take 0.27 s to open at 24 kHz, where an encode needs one): before any output, as the codec
        asks for it before it writes."""
        if name not in self.sessions:
            self.sessions[name] = session(self.ort, self.folder, self.config["graphs"][name], self.options)
        return self.sessions[name]

    def encode(self, audio: np.ndarray) -> list[np.ndarray]:
        """Audio (B, 1, T) float32 at the model's rate -> codes per scale (B, n_i) int64, coarsest first (the
        audio right-padded with zeros to a whole padding unit, as the PyTorch model pads it)."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 3 or audio.shape[1] != 1:
            raise ValueError(f"audio must be (batch, 1, samples), not {audio.shape}")
        padded = np.pad(audio, ((0, 0), (0, 0), (0, -audio.shape[-1] % self.pad_unit)))
        if padded.shape[-1] == 0:  # no audio, no codes (a graph takes no empty input)
            return [np.zeros((audio.shape[0], 0), dtype=np.int64) for _ in self.vq_strides]
        return list(self.graph("encoder").run(None, {"audio": padded}))

    def decode(self, codes: list[np.ndarray], seed: int = 0, start: int = 0) -> np.ndarray:
        """Codes per scale (B, n_i) -> audio (B, 1, n * hop) float32, the noise drawn from `seed` as
        `snac decode --seed` draws it for row b of a stream (its channel b) from latent step `start` on."""
        codes = [np.asarray(c, dtype=np.int64) for c in codes]
        self.check_codes(codes)
        if codes[-1].shape[1] == 0:
            return np.zeros((codes[-1].shape[0], 1, 0), dtype=np.float32)
        feed: dict[str, Any] = {f"codes_{i}": c for i, c in enumerate(codes)}
        feed.update((f"noise_{k}", n) for k, n in enumerate(self.noise(codes, seed, start)))
        return self.graph("decoder").run(None, feed)[0]

    def step(
        self, codes: list[np.ndarray], position: int, end: int, noise: list[np.ndarray], state: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One call of the streaming step (config.json documents it): (audio (B, 1, n x hop), the new state)."""
        feed: dict[str, Any] = {f"codes_{i}": c for i, c in enumerate(codes)}
        feed.update((f"noise_{k}", n) for k, n in enumerate(noise))
        feed.update(position=np.array(position, dtype=np.int64), end=np.array(end, dtype=np.int64), state=state)
        audio, state = self.graph("step").run(None, feed)
        return audio, state

    def check_codes(self, codes: list[np.ndarray]) -> None:
        """Codes the decoder can take: one (B, n_i) array per scale, of one latent length n, a whole number
        of latent units, each code in the codebook (a graph's lookup would wrap a negative one silently)."""
        if len(codes) != len(self.vq_strides) or any(c.ndim != 2 for c in codes):
            raise ValueError(f"codes must be {len(self.vq_strides)} arrays (batch, n_i), one per scale")
        steps = {c.shape[1] * s for c, s in zip(codes, self.vq_strides, strict=True)}
        if len(steps) != 1 or len({c.shape[0] for c in codes}) != 1 or steps.pop() % self.latent_unit:
            raise ValueError(f"codes must cover one latent length, a multiple of {self.latent_unit}, at every scale")
        self.check_in_codebook(codes)

    def check_in_codebook(self, codes: list[np.ndarray]) -> None:
        """Every code a codebook entry: the graphs' lookup would wrap a negative one silently."""
        if any(c.size and (c.min() < 0 or c.max() >= self.codebook_size) for c in codes):
            raise ValueError(f"codes must be in 0..{self.codebook_size - 1}")

    def noise(self, codes: list[np.ndarray], seed: int = 0, start: int = 0) -> list[np.ndarray]:
        """The decoder's noise inputs for these codes: (B, 1, n x rate) per noise layer."""
        batch, latent = codes[-1].shape[0], codes[-1].shape[1] * self.vq_strides[-1]
        rows = [[(seed, item, start * rate) for item in range(batch)] for rate in self.noise_rates]
        return [positional_noise(k, latent * rate, rows[k])[:, None, :] for k, rate in enumerate(self.noise_rates)]

    def encode_stream(
        self, blocks: Iterable[np.ndarray], *, window_seconds: float | None = None, advance: Advance | None = None
    ) -> Iterator[list[np.ndarray]]:
        """Audio arriving as blocks (channels, n) at the model's rate -> codes per scale (channels, n_i), in
        inference windows (bounded memory; about `window_seconds` each, else config.json's): the codes of the
        whole at once. `advance` is called with the samples done."""
        self.graph("encoder")  # now, not at the first window: before the caller writes anything
        size, context, unit = self.windows["encode_size"], self.windows["encode_context"], self.pad_unit
        if window_seconds is not None:
            size = whole_units(window_seconds, self.sampling_rate, unit) * unit

        def run(span: np.ndarray) -> list[np.ndarray]:
            return self.encode(span[:, None, :])

        return encoded_in_windows(blocks, run, unit=unit, size=size, context=context, hop=self.hop_length,
                                  strides=self.vq_strides, advance=advance)  # fmt: skip

    def batch_limit(self) -> int:
        """0: clips are encoded one by one (the encoder graph has no per-item lengths to mask a batch with)."""
        return 0

    def encode_batch(self, clips: list[np.ndarray]) -> list[list[np.ndarray]]:
        """Each clip (channels, n) alone: its codes per scale (channels, n_i)."""
        out = []
        for clip in clips:
            pieces = list(self.encode_stream([clip]))
            empty = [np.zeros((clip.shape[0], 0), dtype=np.int64) for _ in self.vq_strides]
            out.append([np.concatenate(p, axis=1) for p in zip(*pieces, strict=True)] if pieces else empty)
        return out

    def stream_decoder(self, **options: Any) -> StepDecoder:
        """The exact streaming decoder through the streaming step (runtime/step_decoder.py)."""
        return StepDecoder(self, **options)

    def decode_stream(
        self, chunks: Iterable[list[np.ndarray]], *, window_seconds: float | None = None,
        advance: Advance | None = None, **options: Any,
    ) -> Iterator[np.ndarray]:  # fmt: skip
        """Codes arriving in pieces of whole frames (channels, n_i) -> audio blocks (channels, n) as they are final:
        the audio of decoding the whole at once (`options`: StepDecoder's)."""
        self.graph("step")  # now, before the caller writes anything
        frame = self.facts.frame_samples
        window = None if window_seconds is None else whole_units(window_seconds, self.sampling_rate, frame)
        return decoded_in_pushes(lambda batch: StepDecoder(self, batch=batch, max_frames=window, **options), chunks,
                                 advance)  # fmt: skip


def read_config(folder: Path) -> dict[str, Any]:
    """A folder's config.json, checked for what the runtime reads."""
    path = folder / CONFIG
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{folder}: not a folder of ONNX models (no {CONFIG}; write one with `snac onnx`)") from None
    except (OSError, ValueError, RecursionError) as e:
        raise ModelError(f"{path}: not a readable config of ONNX models: {one_line(e)}") from None
    try:
        problem = config_problem(config)
    except (KeyError, TypeError, AttributeError, IndexError) as e:  # a key missing, a value of another kind
        problem = f"{type(e).__name__}: {one_line(e)}"
    if problem:
        raise ModelError(f"{path}: not a config of ONNX models snac wrote: {problem}")
    return config


def config_problem(config: Any) -> str | None:
    """What makes a parsed config.json unusable by the runtime, or None (checked whether or not Python runs
    with -O: no assert)."""
    if config["format"] != FORMAT or config["version"] != VERSION:
        return "another format or version"
    facts, windows = config["facts"], config["facts"]["windows"]
    for key in ("sampling_rate", "hop_length", "pad_unit", "latent_unit", "codebook_size"):
        if type(facts[key]) is not int or not 0 < facts[key] < 1 << 24:
            return f"{key} is not a positive integer"
    for key in ("vq_strides", "noise_rates"):
        if not all(type(v) is int and 0 < v < 1 << 24 for v in facts[key]):
            return f"{key} are not positive integers"
    if not facts["vq_strides"]:
        return "no vq_strides"
    for key in ("encode_size", "encode_context"):
        if type(windows[key]) is not int or not 0 <= windows[key] < 1 << 31:
            return f"windows.{key} is not an integer"
    if not windows["encode_size"] % facts["pad_unit"] == 0 < windows["encode_size"]:
        return "an encode window of part units"
    if set(config["graphs"]) != {"encoder", "decoder", "step"}:
        return "graphs must be an encoder, a decoder and a streaming step"
    step = config["graphs"]["step"]
    numbers = [step["delay"], step["flush_steps"], *(n for s in step["state"] for n in (s["channels"], s["steps"])),
               *(n for s in step["noise"] for n in (s["rate"], s["delay"]))]  # fmt: skip
    if not all(type(n) is int and 0 <= n < 1 << 24 for n in numbers) or len(step["noise"]) != len(facts["noise_rates"]):
        return "the streaming step's delay, state or noise are not whole numbers of its model"
    unit = facts["latent_unit"]
    if step["flush_steps"] != -(-step["delay"] // (facts["hop_length"] * unit)) * unit:
        return "the streaming step's flush_steps do not cover its delay"
    if [sum(s["channels"] * s["steps"] for s in step["state"])] != step["inputs"]["state"]["shape"][1:]:
        return "the streaming step's state does not add up to its input"
    for name, graph in config["graphs"].items():
        for kind in ("inputs", "outputs"):
            if not all(isinstance(v["shape"], list) for v in graph[kind].values()):
                return f"the {name}'s {kind} have no shapes"
    return None


def graph_file(folder: Path, graph: dict[str, Any]) -> Path:
    """The file of a graph config.json names: in the folder, and there."""
    file = folder / str(graph.get("file", ""))
    if file.parent != folder or not file.is_file():
        raise ModelError(f"{file}: missing (the config names it)")
    return file


def session(ort: Any, folder: Path, graph: dict[str, Any], options: Any) -> Any:
    """An onnxruntime session of one graph's file, its inputs and outputs those config.json documents, or one
    line saying why there is none."""
    file = graph_file(folder, graph)
    try:
        runner = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # a truncated or foreign file: onnxruntime's own errors, many lines long
        raise ModelError(f"{file}: not a readable ONNX model: {one_line(e)[:300]}") from None
    for kind, actual in (("inputs", runner.get_inputs()), ("outputs", runner.get_outputs())):
        expected = {k: [d if type(d) is int else None for d in v["shape"]] for k, v in graph[kind].items()}
        found = {a.name: [d if type(d) is int else None for d in a.shape] for a in actual}  # fixed sizes, as said
        if found != expected:
            raise ModelError(f"{file}: its {kind} are not those of {CONFIG} ({sorted(found)})")
    return runner
