"""Batching across requests in `snac serve` (serve/batcher.py for encodes; engine/push_batcher.py under
decodes and token streams): with --max-batch, concurrent requests share forward passes, and each still gets
what it gets alone, which is the CLI's output for the same input."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
from websockets.sync.client import connect

from snac_cli.settings import ServeSettings
from tests.helpers.cli import invoke, snac
from tests.helpers.serving import request, server


def batch_sizes(port: int, metric: str) -> dict[int, int]:
    """A batch counter of /metrics: batches run, by size."""
    lines = request(port, "GET", "/metrics")[2].decode().splitlines()
    return {int(line.split('"')[1]): int(line.split()[-1]) for line in lines if line.startswith(metric + "{")}


def test_encodes_batched_across_requests_equal_each_one_alone(model, audio_file, tmp_path):
    """--max-batch 4: four clips sent at once share forward passes; each answer is the CLI's file, byte for
    byte; and a bad clip among them fails alone."""
    clips = [audio_file(f"c{i}.wav", rate=16000, seconds=0.4 + 0.3 * i) for i in range(4)]
    expected = []
    for clip in clips:
        assert invoke("encode", clip, tmp_path / f"{clip.stem}.snac", "-m", model).exit_code == 0
        expected.append((200, (tmp_path / f"{clip.stem}.snac").read_bytes()))
    bodies = [clip.read_bytes() for clip in clips] + [b"RIFF garbage"]
    expected.append((422, None))
    settings = ServeSettings(models=(str(model),), device="cpu", max_batch=4, max_wait_ms=500, max_queue=10)
    with server(settings) as port:
        answers: dict[int, tuple[int, bytes | None]] = {}

        def send(i: int) -> None:
            status, _, body = request(port, "POST", "/v1/encode", bodies[i])
            answers[i] = (status, body if status == 200 else None)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        sizes = batch_sizes(port, "snac_encode_batches_total")
    assert [answers[i] for i in range(len(bodies))] == expected
    assert sum(size * n for size, n in sizes.items()) == 5 and max(sizes) > 1, sizes


def test_decodes_and_token_streams_share_forward_passes_and_each_gets_its_own_audio(model, audio_file, tmp_path):
    """--max-batch 4: three WebSocket token streams, started at different times, and two decodes of .snac
    files run at once. Each stream's PCM is `snac decode --tokens` of its whole token file, each decode's
    `snac decode FILE - --format raw` (to 1 LSB: the float rounding of other pieces and batch sizes), and
    /metrics counts shared forward passes."""
    expected_streams, tokens, files, expected_files = [], [], [], []
    for i in range(3):
        clip = audio_file(f"s{i}.wav", rate=16000, seconds=1.0 + 0.2 * i)
        assert invoke("encode", clip, tmp_path / f"s{i}.snac", "-m", model, "--normalize", "none").exit_code == 0
        assert invoke("export", tmp_path / f"s{i}.snac", "--format", "npy").exit_code == 0
        tokens.append([int(t) for t in np.load(tmp_path / f"s{i}.npy")[0]])
        expected_streams.append(
            snac("decode", "--tokens", tmp_path / f"s{i}.npy", "-", "--format", "raw", "-m", model).stdout
        )
    for i in range(2):
        clip = audio_file(f"f{i}.wav", rate=16000, seconds=3.0, channels=1 + i)
        assert invoke("encode", clip, tmp_path / f"f{i}.snac", "-m", model).exit_code == 0
        files.append((tmp_path / f"f{i}.snac").read_bytes())
        expected_files.append(snac("decode", tmp_path / f"f{i}.snac", "-", "--format", "raw").stdout)
    settings = ServeSettings(models=(str(model),), device="cpu", max_batch=4, max_wait_ms=200, workers=2)
    got: dict[str, bytes] = {}
    with server(settings) as port:

        def stream(i: int) -> None:
            time.sleep(0.15 * i)  # streams at different positions when they meet
            pcm = b""
            with connect(f"ws://127.0.0.1:{port}/v1/decode/stream") as ws:
                for start in range(0, len(tokens[i]), 7):
                    ws.send(json.dumps({"tokens": tokens[i][start : start + 7]}))
                ws.send(json.dumps({"end": True}))
                while isinstance(message := ws.recv(timeout=120), bytes):
                    pcm += message
            got[f"s{i}"] = pcm

        def decode(i: int) -> None:
            got[f"f{i}"] = request(port, "POST", "/v1/decode?format=raw", files[i])[2]

        threads = [threading.Thread(target=stream, args=(i,)) for i in range(3)]
        threads += [threading.Thread(target=decode, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        sizes = batch_sizes(port, "snac_decode_batches_total")
    for name, expected in [*((f"s{i}", e) for i, e in enumerate(expected_streams)),
                           *((f"f{i}", e) for i, e in enumerate(expected_files))]:  # fmt: skip
        ours, theirs = np.frombuffer(got[name], "<i2").astype(int), np.frombuffer(expected, "<i2").astype(int)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 1, name
    assert max(sizes) > 1, sizes
